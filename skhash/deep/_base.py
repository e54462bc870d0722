"""BaseDeepHasher: what every deep hasher shares (inputs, backbones, devices, training)."""

import contextlib
import copy
import itertools
import math
import os
import warnings
from abc import abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import (
    check_is_fitted,
)
from torch import nn

from ..base import BaseHasher, validate_image_array
from ..reranking import check_bit_weights, learn_level_weights
from ._augment import Augmentation, check_augmentation
from ._backbones import build_backbone, check_backbone_spec, init_weights, set_generator
from ._device import PRECISIONS, channels_last_on, resolve_device, torch_threads
from ._inputs import (
    ImageFileDataset,
    ImageSource,
    Preprocessing,
    array_source,
    dataset_source,
    infer_image_shape,
    is_path_list,
    pixel_stats,
    to_image_shape,
)
from ._network import HashingNetwork, HeadNetwork, check_levels, split_bits
from ._pretrained import load_pretrained
from ._trainer import Trainer, predict_batches

__all__ = ["BaseDeepHasher", "HashingNetwork", "HeadNetwork", "resolve_device"]

# Images per batch when reading without gradients (statistics, encoding): about this many
# bytes of float32 input, so activations stay small for large images (a 64x64 RGB batch of 64
# in a small CNN's inference holds 116 MB) while tiny ones (digits, feature vectors) go by
# the thousand.
_READ_BATCH_BYTES = 2**20
_READ_BATCH_RANGE = (16, 1024)


def read_batch_size(image_shape):
    """Batch size for passes without gradients over images of ``image_shape``."""
    low, high = _READ_BATCH_RANGE
    return min(high, max(low, _READ_BATCH_BYTES // (4 * math.prod(image_shape))))


def _code_blocks(levels, n_bits):
    """``{level: slice of bits}`` of multi-level codes, else None."""
    if levels is None:
        return None
    blocks, start = {}, 0
    for level, width in zip(levels, split_bits(n_bits, levels), strict=True):
        blocks[level] = slice(start, start + width)
        start += width
    return blocks


def cpu_copy(module):
    """A deep copy of ``module`` with every parameter and buffer on the CPU (the original is
    untouched, and no second copy is made on its device)."""
    memo = {}
    for t in itertools.chain(module.parameters(), module.buffers()):
        cpu = t.detach().to("cpu", copy=True)
        memo[id(t)] = nn.Parameter(cpu, t.requires_grad) if isinstance(t, nn.Parameter) else cpu
    return copy.deepcopy(module, memo)


class BaseDeepHasher(BaseHasher):
    """Base class of the deep hashers: one input pipeline, one backbone builder, one trainer.

    Subclasses implement ``_build_network(backbone, image_shape, n_classes)`` (a
    :class:`HashingNetwork` around the given backbone, whose ``forward(x)`` returns a dict with
    at least ``"codes"`` and ``"features"``) and ``_loss(outputs, batch)`` (a dict of loss
    terms); ``_backbone_options()`` gives their own parameters to their default backbone. They
    may override ``_fit`` (e.g. for layer-wise pre-training, calling ``_train`` several times).

    Inputs: arrays of images ``(n, C, H, W)``,
    ``(n, H, W, C)``, ``(n, H, W)`` or flat rows; a list of image files; any map-style
    :class:`torch.utils.data.Dataset` yielding images or ``(image, label)`` pairs (labels are
    then used when ``y`` is None). All are streamed in batches. Pixels are augmented, then
    standardised with the mean and standard deviation learnt at fit (per channel; per feature
    for vector backbones such as ``"mlp"``).

    Pickles (and joblib dumps) hold the fitted network itself, its tensors on the CPU, so a
    model trained on a GPU loads on a machine without one (with one warning that the device
    changed) and parameters changed with ``set_params`` after fitting cannot break loading.
    """

    _parameter_constraints: dict = {
        **BaseHasher._parameter_constraints,
        "image_shape": [None, tuple, list],
        "backbone": "no_validation",  # a name, a Module or a callable: checked at fit
        "pretrained": [None, str, os.PathLike],
        "backbone_lr_scale": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "freeze_backbone": ["boolean"],
        "device": "no_validation",  # a string or a torch.device: checked at fit
        "precision": [StrOptions(set(PRECISIONS))],
        "num_workers": [Interval(Integral, 0, None, closed="left")],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "optimizer": [StrOptions({"adam", "adamw", "sgd"})],
        "lr_schedule": [None, StrOptions({"cosine", "step"}), callable],
        "validation_fraction": [None, Interval(Real, 0, 1, closed="neither")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "augmentation": [None, StrOptions({"auto"}), dict, Augmentation],
        "levels": [None, tuple, list],
        "nested": [None, tuple, list],
        "callbacks": [None, list],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    supervised = True
    _embedding_layers = ("hash", "backbone")

    # -- what subclasses implement ----------------------------------------------------
    def _build_head(self, in_features, n_bits, n_classes):
        """Return the method's head: a module from ``(n, in_features)`` features to a dict
        with ``"codes"`` (``n_bits`` wide) and what ``_loss`` reads."""
        raise NotImplementedError(f"{type(self).__name__} builds its network itself.")

    def _build_network(self, backbone, image_shape, n_classes):
        """Return the network (on CPU) around ``backbone``: the method's head on its features,
        or one head per stage in ``levels`` (each a block of ``n_bits / len(levels)``)."""
        if self.levels is None:
            heads = [self._build_head(backbone.out_features, self.n_bits, n_classes)]
            return HeadNetwork(backbone, heads, freeze_backbone=self.freeze_backbone)
        levels = check_levels(self.levels, backbone)
        bits = split_bits(self.n_bits, levels)
        channels = backbone.stage_channels
        heads = [
            self._build_head(channels[level - 1], b, n_classes)
            for level, b in zip(levels, bits, strict=True)
        ]
        return HeadNetwork(backbone, heads, levels=levels, freeze_backbone=self.freeze_backbone)

    @abstractmethod
    def _loss(self, outputs, batch):
        """Return a dict of scalar loss terms for one batch (of one level's outputs)."""

    def _network_loss(self, outputs, batch):
        """The method's loss; with several levels, each level's terms averaged."""
        if "levels" not in outputs:
            return self._loss(outputs, batch)
        per_level = [self._loss(level, batch) for level in outputs["levels"]]
        return {k: sum(terms[k] for terms in per_level) / len(per_level) for k in per_level[0]}

    def _backbone_options(self):
        """Options of built-in backbones taken from this hasher's own parameters:
        ``{backbone name: {option: value}}`` (e.g. DSBH's ``channels`` for ``"small_cnn"``)."""
        return {}

    def _init_network(self, network, generator):
        """Initialise what the default initialisation does not (e.g. class anchors)."""

    # -- the public entry points, documented for images ------------------------------
    def fit(self, X, y=None):
        """Train the network on ``X`` and index the codes of ``X`` as the database.

        Parameters
        ----------
        X : array-like, list of image paths, or torch Dataset
            Training images, streamed in batches: an array of images ``(n, C, H, W)``,
            ``(n, H, W, C)`` or ``(n, H, W)`` in any numeric dtype (uint8 stays uint8 until a
            batch is formed), flat rows ``(n, d)`` read as ``image_shape``, a list of image
            files (decoded at ``image_shape``, by default 3x32x32), an
            :class:`~skhash.deep.ImageFileDataset` (e.g. ``from_folder``), or any map-style
            :class:`torch.utils.data.Dataset` of images or ``(image, label)`` pairs.
        y : array-like of shape (n_samples,) or (n_samples, n_classes), default=None
            Class labels, a label-indicator matrix, or label sets; None takes the labels a
            dataset carries. Supervised methods learn from them; they label the database.

        Returns
        -------
        self : object
            The fitted hasher.
        """
        return super().fit(X, y)

    def transform(self, X, n_bits=None):
        """Binary codes of ``X`` (images in any form ``fit`` takes).

        Parameters
        ----------
        X : array-like, list of image paths, or torch Dataset
            Images, as in ``fit``.
        n_bits : int, default=None
            With ``nested``: one of its lengths, to get that prefix of the code (a code of
            its own, trained as such). None gives the whole code.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_bits), dtype uint8
            Codes in {0, 1}: the signs of :meth:`embed`.
        """
        check_is_fitted(self, "index_")
        length = self._check_prefix(n_bits)
        if length is not None and _get_output_config("transform", self)["dense"] != "default":
            # set_output names the columns after the whole code (get_feature_names_out)
            raise ValueError(
                f"transform(X, n_bits={n_bits}) returns a prefix, which set_output's "
                f"containers cannot name; take transform(X).iloc[:, :{n_bits}] instead, or "
                'set_output(transform="default").'
            )
        codes = self._encode(self._validate_input(X, reset=False))
        return codes if length is None else np.ascontiguousarray(codes[:, :length])

    # -- inputs -----------------------------------------------------------------------
    def _validate_input(self, X, *, reset):
        """Return an :class:`ImageSource` over ``X`` (validated, nothing copied)."""
        if isinstance(X, torch.utils.data.Dataset):
            source = dataset_source(X)
        elif is_path_list(X):
            source = self._file_source(X, reset=reset)
        else:
            source = array_source(self._validate_array(X, reset=reset))
        if reset:
            if self.image_shape is not None and not isinstance(X, np.ndarray | list | tuple):
                expected = to_image_shape(self.image_shape)
                if source.image_shape != expected:
                    raise ValueError(
                        f"X has images of shape {source.image_shape}, but "
                        f"image_shape={tuple(self.image_shape)}."
                    )
            self.image_shape_ = source.image_shape
            self.n_features_in_ = math.prod(source.image_shape)
        elif source.image_shape != tuple(self.image_shape_):
            raise ValueError(
                f"X has images of shape {source.image_shape}, but {type(self).__name__} was "
                f"fitted on images of shape {tuple(self.image_shape_)}."
            )
        return source

    def _validate_array(self, X, *, reset):
        """``(n, C, H, W)`` view of an array-like, in its own numeric dtype."""

        def flat_shape(n_features):
            return infer_image_shape(n_features, self.image_shape) if reset else self.image_shape_

        X, flat = validate_image_array(self, X, reset=reset, flat_shape=flat_shape)
        if reset and not flat and self.image_shape is not None:
            shape = tuple(X.shape[1:])
            if infer_image_shape(math.prod(shape), self.image_shape) != shape:
                raise ValueError(
                    f"X has images of shape {shape}, but image_shape={tuple(self.image_shape)}."
                )
        return X

    def _file_source(self, paths, *, reset):
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        if reset:
            shape = (3, 32, 32) if self.image_shape is None else to_image_shape(self.image_shape)
        else:
            shape = tuple(self.image_shape_)
        if shape[0] not in (1, 3):
            raise ValueError(f"Image files give 1 or 3 channels; image_shape asks {shape[0]}.")
        mode = "grayscale" if shape[0] == 1 else "rgb"
        dataset = ImageFileDataset(list(paths), image_size=shape[1:], color_mode=mode)
        return dataset_source(dataset)

    def _labels_of(self, X):
        return X.labels if isinstance(X, ImageSource) else None

    # -- the network ------------------------------------------------------------------
    def _new_network(self, image_shape, n_classes):
        """Build the network on CPU, initialise it from the fit's generator (a user's backbone
        keeps its own weights), load ``pretrained`` weights into the backbone."""
        check_backbone_spec(self.backbone)
        options = None
        if isinstance(self.backbone, str):
            options = self._backbone_options().get(self.backbone)
        backbone = build_backbone(self.backbone, image_shape, options)
        with torch.random.fork_rng(devices=[]):
            network = self._build_network(backbone, image_shape, n_classes)
        init_weights(network, self._generator, skip=backbone)
        if backbone.builtin:
            reset = getattr(backbone, "reset_parameters", None)
            if reset is not None:
                reset(self._generator)
            else:
                init_weights(backbone, self._generator)
        self._init_network(network, self._generator)
        if self.pretrained is not None:
            load_pretrained(getattr(backbone, "module", backbone), self.pretrained)
        return network

    def _param_groups(self, network):
        scale = self.backbone_lr_scale
        if scale == "auto":
            scale = 0.1 if self.pretrained is not None else 1.0
        backbone_ids = {id(p) for p in network.backbone.parameters()}
        head = [p for p in network.parameters() if id(p) not in backbone_ids and p.requires_grad]
        body = [p for p in network.backbone.parameters() if p.requires_grad]
        return [{"params": head, "lr_scale": 1.0}, {"params": body, "lr_scale": float(scale)}]

    # -- fitting ----------------------------------------------------------------------
    def _architecture(self, image_shape, n_classes):
        """What the network's shape depends on, for ``warm_start``."""
        return {"image_shape": tuple(image_shape), "n_classes": n_classes}

    def _fit(self, X, y):
        self.device_ = resolve_device(self.device)
        n_classes = None if y is None else (y.shape[1] if y.ndim == 2 else len(np.unique(y)))
        architecture = self._architecture(X.image_shape, n_classes)
        warm = (
            self.warm_start
            and getattr(self, "module_", None) is not None
            and self._module_config_ == architecture
        )
        self._refit_classes = not warm
        self._make_generators()
        if warm:  # train a copy: an interrupted fit must leave the fitted network as it was
            network, history = copy.deepcopy(self.module_), list(self.history_)
        else:
            network, history = self._new_network(X.image_shape, n_classes), []
            mean, std, value_range = pixel_stats(
                X,
                read_batch_size(X.image_shape),
                per_feature=getattr(network.backbone, "input_kind", "image") == "vector",
                generator=self._generator,
            )
            self.channel_mean_, self.channel_std_ = mean, std
            self.pixel_range_ = value_range
        self._check_batch_norm(network)
        self.nested_ = self._check_nested()
        self.code_blocks_ = _code_blocks(getattr(network, "levels", None), self.n_bits)
        self.n_classes_ = n_classes
        self._multilabel = y is not None and y.ndim == 2
        self.augmentation_ = check_augmentation(self.augmentation, X.image_shape)
        network = self._place(network)
        self.module_, self.history_ = network, history
        self._module_config_ = architecture
        with torch_threads(self.n_jobs):
            loss = self._network_loss if self.nested_ is None else self._nested_loss
            trainer = self._train(network, X, self._encode_targets(y), loss)
        self.callbacks_ = trainer.callbacks
        self.best_epoch_ = trainer.best_epoch
        self._warn_if_training_failed(trainer.initial_loss)
        self._generator = self._device_generator = None

    def _place(self, network):
        """``network`` on ``self.device_`` in the memory layout it runs in there, and the
        preprocessing that feeds it batches in that layout."""
        channels_last = channels_last_on(self.device_, network)
        self._preprocessing = Preprocessing(
            self.channel_mean_,
            self.channel_std_,
            self.pixel_range_,
            self.augmentation_,
            channels_last,
        )
        # set either way: a warm start may continue a network that was channels-last where it
        # was fitted (a GPU) but must not be here (see channels_last_on)
        layout = torch.channels_last if channels_last else torch.contiguous_format
        return network.to(self.device_).to(memory_format=layout)

    def _given_bit_weights(self, weights, n_bits):
        """Per-level weights (``{level: weight}``, unlisted levels 0) become per-bit ones."""
        if not isinstance(weights, dict):
            return super()._given_bit_weights(weights, n_bits)
        blocks = self.code_blocks_
        if blocks is None:
            raise ValueError("bit_weights given per level ({level: weight}) need levels=...")
        unknown = sorted(set(weights) - set(blocks))
        if unknown:
            raise ValueError(f"bit_weights names levels {unknown}; the levels are {list(blocks)}.")
        per_bit = np.zeros(n_bits)
        for level, bits in blocks.items():
            per_bit[bits] = weights.get(level, 0.0)
        return check_bit_weights(per_bit, n_bits)

    # -- nested code lengths ----------------------------------------------------------------
    def _check_nested(self):
        """``nested`` as an increasing tuple of code lengths ending with ``n_bits``, or None."""
        nested = getattr(self, "nested", None)
        if nested is None:
            return None
        lengths = tuple(nested)
        valid = all(isinstance(b, Integral) and not isinstance(b, bool) for b in lengths)
        if not lengths or not valid or list(lengths) != sorted(set(lengths)) or lengths[0] < 1:
            raise ValueError(
                f"nested must be increasing code lengths, e.g. (16, 32, 64); got {nested!r}."
            )
        if lengths[-1] != self.n_bits:
            raise ValueError(
                f"nested={lengths!r}: the longest nested length is the code's, so it must be "
                f"n_bits={self.n_bits} (set n_bits={lengths[-1]})."
            )
        if self.levels is not None:
            raise ValueError(
                "nested and levels both split the code (into prefixes, or into one block per "
                "stage): use one of them."
            )
        return tuple(int(b) for b in lengths)

    # Outputs that are not per-bit values, kept whole for every prefix's loss.
    _NOT_PER_BIT = frozenset({"features", "logits", "recon", "target", "levels", "steps"})

    def _nested_loss(self, outputs, batch):
        """The method's loss on every prefix of the code, summed, plus the longer code
        teaching the shorter ones.

        Each prefix of ``b`` bits gets the method's own loss on the outputs cut to their
        first ``b`` per-bit values (codes, relaxed codes, class centres: every output whose
        last axis has ``n_bits`` entries), with ``n_bits`` read as ``b`` meanwhile (margins
        and scales that depend on the length). Each shorter prefix also matches the pairwise
        similarities of the full relaxed code, ``tanh(u) tanh(u)^T / n_bits``, taken as fixed
        (the self-distillation of the Nested Hash Layer, arXiv 2412.08922, in its simplest
        form: mean squared difference of the similarity matrices of the batch).
        """
        n_bits = self.n_bits
        full = torch.tanh(outputs["codes"])
        teacher = (full @ full.T / n_bits).detach()
        total, distillation = {}, 0.0
        for length in self.nested_:
            prefix = {
                key: value[..., :length]
                if key not in self._NOT_PER_BIT
                and torch.is_tensor(value)
                and value.ndim >= 1
                and value.shape[-1] == n_bits
                else value
                for key, value in outputs.items()
            }
            with self._code_length(length):
                terms = self._network_loss(prefix, batch)
            for key, value in terms.items():
                total[key] = total.get(key, 0.0) + value
            if length < n_bits:
                relaxed = torch.tanh(prefix["codes"])
                similarity = relaxed @ relaxed.T / length
                distillation = distillation + torch.mean((similarity - teacher) ** 2)
        total["nested_distillation"] = distillation
        return total

    @contextlib.contextmanager
    def _code_length(self, length):
        """``n_bits`` read as ``length`` while a prefix's loss is computed (restored after)."""
        n_bits = self.n_bits
        self.n_bits = length
        try:
            yield
        finally:
            self.n_bits = n_bits

    def _check_prefix(self, n_bits):
        """``n_bits`` for :meth:`transform` and :meth:`prefix_index`: a nested length."""
        lengths = getattr(self, "nested_", None) or (self.n_bits,)
        if n_bits is None:
            return None
        if n_bits not in lengths:
            raise ValueError(
                f"n_bits={n_bits!r} is not one of the code lengths this model was trained "
                f"for, {list(lengths)} (set nested=... at fit for shorter prefixes)."
            )
        return None if n_bits == lengths[-1] else int(n_bits)

    def prefix_index(self, n_bits):
        """A Hamming index of the database's ``n_bits``-bit prefixes (nested models).

        Built once from the stored codes (no image is encoded again) and kept until the
        database changes; it answers ``kneighbors(transform(X, n_bits=n_bits), k)``.

        Parameters
        ----------
        n_bits : int
            One of the lengths of ``nested``.

        Returns
        -------
        index : HammingIndex
            A fitted index of the prefixes, with the database's ids.
        """
        from ..index import HammingIndex, unpack_codes

        check_is_fitted(self, "index_")
        length = self._check_prefix(n_bits)
        if length is None:
            return self.index_
        index = self.index_
        cached = self.__dict__.get("_prefix_indexes")
        if cached is None or cached[0] is not index._snapshot():
            cached = (index._snapshot(), {})
            self.__dict__["_prefix_indexes"] = cached
        if length not in cached[1]:
            database = cached[0]
            codes = unpack_codes(database.codes.words(), database.n_bits)[:, :length]
            ids = database.ids
            prefix = HammingIndex(n_jobs=self.n_jobs).fit(codes, ids=ids, check_input=False)
            cached[1][length] = prefix
        return cached[1][length]

    # -- fusion of multi-level codes ----------------------------------------------------
    def _resolve_bit_weights(self, codes, y, embedding):
        """With ``levels``, labels and no ``bit_weights``: the block weights of the default
        ranking, chosen on the training codes (:func:`~skhash.reranking.learn_level_weights`:
        each block alone, all equal, or mixtures, whichever ranks the training items best),
        so that fusing levels never ranks worse than the best level alone. ``bit_weights_``
        is then None when all blocks weigh the same (plain Hamming ranking)."""
        self.level_weights_ = None
        blocks = getattr(self, "code_blocks_", None)
        if self.bit_weights is not None or blocks is None or y is None:
            return super()._resolve_bit_weights(codes, y, embedding)
        weights, _ = learn_level_weights(codes, y, blocks, random_state=self.random_state)
        self.level_weights_ = weights
        if len(set(weights.values())) == 1:
            return None
        return self._given_bit_weights(weights, codes.shape[1])

    def _fused(self):
        """Whether searches rank by the block weights learnt at fit (see above)."""
        return (
            self.bit_weights is None
            and getattr(self, "level_weights_", None) is not None
            and getattr(self, "bit_weights_", None) is not None
        )

    def _search_bit_weights(self):
        if self._fused():
            return self.bit_weights_
        return super()._search_bit_weights()

    def _search_mode(self):
        """Without ``rerank``, a fused multi-level model ranks every item by the weighted
        Hamming distance of its blocks (exactly: no candidate cut by plain Hamming)."""
        if self.rerank is None and self._fused():
            return "weighted", None
        return super()._search_mode()

    def _check_batch_norm(self, network):
        norms = (nn.BatchNorm1d, nn.BatchNorm2d)
        if self.batch_size < 2 and any(isinstance(m, norms) for m in network.modules()):
            raise ValueError(
                f"batch_size={self.batch_size}, but the network has batch-norm layers, which "
                "need at least 2 samples per batch to train."
            )

    def _make_generators(self):
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self._generator = torch.Generator().manual_seed(seed)
        self._device_generator = torch.Generator(device=self.device_).manual_seed(seed + 1)

    def _encode_targets(self, y):
        """Float label-indicator matrix of ``y`` (one-hot for 1-D class labels), on CPU."""
        if y is None:
            return None
        if y.ndim == 2:
            return torch.as_tensor(y, dtype=torch.float32)
        if self._refit_classes:
            self.classes_, inverse = np.unique(y, return_inverse=True)
        else:
            inverse = np.searchsorted(self.classes_, y)
            unseen = (inverse >= len(self.classes_)) | (
                self.classes_[np.minimum(inverse, len(self.classes_) - 1)] != y
            )
            if unseen.any():
                raise ValueError(
                    f"y has labels unseen in the first fit: {np.unique(y[unseen])[:5]}."
                )
        return torch.nn.functional.one_hot(torch.as_tensor(inverse), len(self.classes_)).float()

    def _train(self, module, X, Y, loss_fn, **kwargs):
        """Run the shared :class:`Trainer` on ``module`` (extra ``kwargs``: ``max_epochs``,
        ``param_groups``, ``stage``); appends to ``history_``; returns the trainer."""
        kwargs.setdefault("param_groups", self._param_groups(self.module_))
        set_generator(module, self._device_generator)
        try:
            trainer = Trainer(self, module, loss_fn, **kwargs)
            trainer.fit(X, Y, self.history_)
        finally:
            set_generator(module, None)
        return trainer

    def _warn_if_training_failed(self, initial_loss):
        name = type(self).__name__
        if self.max_epochs == 0:
            warnings.warn(
                f"{name} was fitted with max_epochs=0: the network is untrained and its codes "
                "are those of random weights.",
                ConvergenceWarning,
                stacklevel=4,
            )
            return
        final = self.history_[-1]["train_loss"] if self.history_ else None
        if initial_loss and initial_loss > 0 and final is not None and final > 100 * initial_loss:
            warnings.warn(
                f"{name}'s training loss grew from {initial_loss:.4g} (first batch) to "
                f"{final:.4g} (last epoch): training diverged; lower lr (now {self.lr}).",
                ConvergenceWarning,
                stacklevel=4,
            )

    # -- encoding ---------------------------------------------------------------------
    def _outputs(self, X, keys=("codes",)):
        """The network's outputs on a validated source ``X``, as numpy arrays."""
        # Each batch is written into arrays allocated once: small per-batch arrays kept to the
        # end would pin heap pages between the freed activations (RSS grew ~1.5 MB a batch).
        result, start = None, 0
        with torch_threads(self.n_jobs):
            for batch in predict_batches(
                self.module_,
                X,
                self._preprocessing,
                device=self.device_,
                batch_size=read_batch_size(X.image_shape),
                keys=keys,
                num_workers=self.num_workers,
            ):
                if result is None:
                    result = {
                        k: np.empty((len(X), *v.shape[1:]), v.dtype) for k, v in batch.items()
                    }
                stop = start + len(batch[keys[0]])
                for k in keys:
                    result[k][start:stop] = batch[k]
                start = stop
        return result

    def _embedding_width(self, layer):
        if layer == "hash":
            return super()._embedding_width(layer)
        network = self.module_
        if getattr(network, "levels", None) is None:
            return network.backbone.out_features
        return sum(network.backbone.stage_channels[level - 1] for level in network.levels)

    def _embed(self, X, layer="hash"):
        key = {"hash": "codes", "backbone": "features"}[layer]
        return self._outputs(X, (key,))[key]

    # -- the skhash file format ---------------------------------------------------------
    # What is rebuilt on load rather than stored: the network (from the parameters and its
    # weights), the preprocessing (from the pixel statistics), the per-fit generators; the
    # callbacks of the last fit are training-time objects and are not kept; the prefix indexes
    # of a nested model are a cache, rebuilt from the codes when asked again.
    _NOT_PERSISTED = (
        "module_",
        "_preprocessing",
        "_generator",
        "_device_generator",
        "callbacks_",
        "_prefix_indexes",
    )

    def _persist_attributes(self, encoder, where):
        from .._persistence import torch_state_bytes

        attributes = super()._persist_attributes(encoder, where)
        for name in self._NOT_PERSISTED:
            attributes.pop(name, None)
        attributes["_module_state"] = encoder.add_blob(
            torch_state_bytes(self.module_), f"{where}.module.pt"
        )
        return attributes

    def _restore_attributes(self, attributes, archive):
        from .._persistence import FileFormatError, torch_state_from_bytes

        attributes = dict(attributes)
        blob = attributes.pop("_module_state", None)
        if not isinstance(blob, str):
            raise FileFormatError(f"{archive.path}: the network weights are missing.")
        super()._restore_attributes(attributes, archive)
        state = torch_state_from_bytes(archive.blob(blob), archive.path)
        # the network is rebuilt as fit built it (pretrained weights are not read: the saved
        # state replaces every weight), then the saved weights are loaded into it, strictly
        pretrained, self.pretrained = self.pretrained, None
        self._generator = torch.Generator().manual_seed(0)
        try:
            network = self._new_network(tuple(self.image_shape_), self.n_classes_)
        finally:
            self.pretrained, self._generator = pretrained, None
            self.__dict__.pop("_pretrain_pending", None)
        try:
            network.load_state_dict(state, strict=True)
        except (RuntimeError, KeyError, ValueError) as exc:
            raise FileFormatError(
                f"{archive.path}: the saved weights do not fit the {type(self).__name__} network "
                f"its parameters build ({str(exc)[:300]})."
            ) from None
        self._device_generator = None
        self.callbacks_ = []
        self.device_ = self._device_after_load(self.device_)
        self.module_ = self._place(network).eval()

    def _device_after_load(self, fitted_on, stacklevel=6):
        """The device a loaded model runs on: ``device`` resolved here, else the CPU (with
        a warning when it differs from the one it was fitted on)."""
        try:
            device = resolve_device(self.device)
        except ValueError:
            device = "cpu"
        if device != fitted_on:
            warnings.warn(
                f"This {type(self).__name__} was fitted on {fitted_on!r}, which is not "
                f"available here: it runs on {device!r} (set device= to choose).",
                UserWarning,
                stacklevel=stacklevel,
            )
        return device

    # -- pickling ---------------------------------------------------------------------
    def __getstate__(self):
        state = super().__getstate__().copy()
        if state.get("module_") is not None:
            state["module_"] = cpu_copy(state["module_"])
        for key in ("_generator", "_device_generator", "_prefix_indexes"):
            state.pop(key, None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if getattr(self, "module_", None) is None:
            return
        self.device_ = self._device_after_load(self.device_, stacklevel=3)
        self.module_ = self._place(self.module_).eval()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self.supervised
        tags.input_tags.three_d_array = True
        return tags
