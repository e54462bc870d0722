"""BaseDeepHasher: what every deep hasher shares (inputs, devices, training, pickling)."""

import math
import re
from abc import abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_feature_names, check_array, validate_data

from ..base import BaseHasher
from ._backbones import init_weights, set_generator
from ._data import (
    Augmentation,
    channel_stats,
    check_augmentation,
    infer_image_shape,
    is_path_list,
    standardize,
)
from ._trainer import Trainer, predict_outputs

__all__ = ["BaseDeepHasher", "resolve_device"]

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def resolve_device(device):
    """Resolve the ``device`` parameter to a device string, with clear errors."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str) or not _DEVICE_RE.match(device):
        raise ValueError(f'device must be "auto", "cpu", "cuda" or "cuda:N"; got {device!r}.')
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was asked for, but CUDA is not available on this machine "
                f"(torch {torch.__version__}, built with CUDA {torch.version.cuda}). Use "
                'device="cpu", or "auto" to pick CUDA only when present.'
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r}, but only {torch.cuda.device_count()} CUDA device(s) exist."
            )
    return device


class BaseDeepHasher(BaseHasher):
    """Base class of the deep hashers: one input pipeline, one training loop.

    Subclasses implement ``_build_module(image_shape, n_classes)`` (a module whose
    ``forward(x)`` returns a dict with at least ``"codes"``, the real-valued pre-sign codes)
    and ``_loss(outputs, batch)`` (a dict of loss terms). They may override ``_fit`` (e.g.
    for layer-wise pre-training, calling ``_train`` several times).

    Inputs are images: ``(n, H, W)``, ``(n, C, H, W)``, flat ``(n, d)`` rows with
    ``image_shape``, or a list of image files (see :mod:`skhash.deep._data`). Each channel is
    standardised with the mean and standard deviation learnt at fit.

    Pickles (and joblib dumps) hold the weights as CPU tensors, so a model trained on a GPU
    loads on a machine without one; it is rebuilt on ``device`` when that is available, on
    the CPU otherwise.
    """

    _parameter_constraints: dict = {
        **BaseHasher._parameter_constraints,
        "image_shape": [None, tuple, list],
        "device": [str],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "optimizer": [StrOptions({"adam", "adamw", "sgd"})],
        "lr_schedule": [None, StrOptions({"cosine", "step"}), callable],
        "validation_fraction": [None, Interval(Real, 0, 1, closed="neither")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "augmentation": [None, StrOptions({"auto"}), dict, Augmentation],
        "callbacks": [None, list],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    supervised = True

    # -- what subclasses implement ----------------------------------------------------
    @abstractmethod
    def _build_module(self, image_shape, n_classes):
        """Return the network (on CPU) for ``(C, H, W)`` images and ``n_classes`` labels."""

    @abstractmethod
    def _loss(self, outputs, batch):
        """Return a dict of scalar loss terms for one batch."""

    # -- inputs -----------------------------------------------------------------------
    def _validate_input(self, X, *, reset):
        """Return ``(n, C, H, W)`` float32 images (not yet standardised)."""
        if is_path_list(X):
            X = self._load_files(X, reset=reset)
        if not hasattr(X, "ndim"):
            X = np.asarray(X)  # lists, and objects with __array__
        if X.ndim == 2:
            X = validate_data(
                self, X, reset=reset, dtype=[np.float32, np.float64], ensure_min_samples=1
            )
            X = X.astype(np.float32, copy=False)
            if reset:
                self.image_shape_ = infer_image_shape(X.shape[1], self.image_shape)
            return X.reshape(len(X), *self.image_shape_)
        _check_feature_names(self, X, reset=reset)
        X = check_array(
            X, allow_nd=True, dtype=[np.float32, np.float64], ensure_min_samples=1
        ).astype(np.float32, copy=False)
        if X.ndim == 3:
            X = X[:, None]
        if X.ndim != 4:
            raise ValueError(
                f"Expected images of shape (n, H, W) or (n, C, H, W), or flat (n, d) rows; got "
                f"an array of shape {X.shape}."
            )
        shape = tuple(X.shape[1:])
        if reset:
            if (
                self.image_shape is not None
                and infer_image_shape(math.prod(shape), self.image_shape) != shape
            ):
                raise ValueError(
                    f"X has images of shape {shape}, but image_shape={tuple(self.image_shape)}."
                )
            self.image_shape_ = shape
            self.n_features_in_ = math.prod(shape)
        elif shape != tuple(self.image_shape_):
            raise ValueError(
                f"X has images of shape {shape}, but {type(self).__name__} was fitted on images "
                f"of shape {tuple(self.image_shape_)}."
            )
        return X

    def _load_files(self, paths, *, reset):
        from ..datasets import load_images

        if reset:
            shape = (
                None
                if self.image_shape is None
                else infer_image_shape(math.prod(self.image_shape), self.image_shape)
            )
        else:
            shape = self.image_shape_
        if shape is None:
            return load_images(paths)
        mode = "grayscale" if shape[0] == 1 else "rgb"
        if shape[0] not in (1, 3):
            raise ValueError(f"Image files give 1 or 3 channels; image_shape asks {shape[0]}.")
        return load_images(paths, image_size=shape[1:], color_mode=mode)

    def _to_tensor(self, X):
        return torch.from_numpy(standardize(X, self.channel_mean_, self.channel_std_))

    def _encode_targets(self, y):
        """Float label-indicator matrix of ``y`` (one-hot for 1-D class labels)."""
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

    # -- fitting ----------------------------------------------------------------------
    def _warm(self, image_shape, n_classes):
        return (
            self.warm_start
            and getattr(self, "module_", None) is not None
            and self._module_config_ == {"image_shape": image_shape, "n_classes": n_classes}
        )

    def _fit(self, X, y):
        self.device_ = resolve_device(self.device)
        image_shape = tuple(X.shape[1:])
        n_classes = None if y is None else (y.shape[1] if y.ndim == 2 else len(np.unique(y)))
        warm = self._warm(image_shape, n_classes)
        self._refit_classes = not warm
        self._make_generators()
        if not warm:
            self.channel_mean_, self.channel_std_ = channel_stats(X)
            self._module_config_ = {"image_shape": image_shape, "n_classes": n_classes}
            self.module_ = self._new_module()
            self.history_ = []
        self.n_classes_ = n_classes
        self._multilabel = y is not None and y.ndim == 2
        self.augmentation_ = check_augmentation(self.augmentation, image_shape)
        self._train(self.module_, self._to_tensor(X), self._encode_targets(y), self._loss)
        self._generator = self._device_generator = None

    def _make_generators(self):
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        self._generator = torch.Generator().manual_seed(seed)
        self._device_generator = torch.Generator(device=self.device_).manual_seed(seed + 1)

    def _new_module(self):
        """Build the module on CPU without touching the global RNG, initialise it from the
        fit's generator, and move it to ``device_``."""
        with torch.random.fork_rng(devices=[]):
            module = self._build_module(**self._module_config_)
        init_weights(module, self._generator)
        return module.to(self.device_)

    def _train(self, module, X, Y, loss_fn, **kwargs):
        """Run the shared :class:`Trainer` (extra ``kwargs``: ``max_epochs``,
        ``parameters``, ``stage``); appends to ``history_``."""
        set_generator(module, self._device_generator)
        try:
            trainer = Trainer(self, module, loss_fn, augment=self.augmentation_, **kwargs)
            trainer.fit(X, Y, self.history_)
        finally:
            set_generator(module, None)
        return trainer

    # -- encoding ---------------------------------------------------------------------
    def _outputs(self, X, keys=("codes",)):
        """The module's outputs on validated images ``X``, as numpy arrays."""
        return predict_outputs(
            self.module_,
            self._to_tensor(X),
            device=self.device_,
            batch_size=max(self.batch_size, 256),
            keys=keys,
        )

    def _embed(self, X, layer="hash"):
        return self._outputs(X)["codes"]

    # -- pickling ---------------------------------------------------------------------
    def __getstate__(self):
        state = super().__getstate__().copy()
        module = state.pop("module_", None)
        if module is not None:
            state["_module_state"] = {
                k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()
            }
        for key in ("_generator", "_device_generator"):
            state.pop(key, None)
        return state

    def __setstate__(self, state):
        module_state = state.pop("_module_state", None)
        super().__setstate__(state)
        if module_state is not None:
            try:
                self.device_ = resolve_device(self.device)
            except ValueError:
                self.device_ = "cpu"
            with torch.random.fork_rng(devices=[]):
                module = self._build_module(**self._module_config_)
            module.load_state_dict(module_state)
            self.module_ = module.to(self.device_).eval()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self.supervised
        tags.input_tags.three_d_array = True
        return tags
