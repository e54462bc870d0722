"""BiHalf: unsupervised hashing with a bi-half layer (Li and van Gemert, AAAI 2021)."""

import math
from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ._base import BaseDeepHasher
from ._docs import fill_deep_doc
from ._heads import LinearHead
from ._losses import (
    bi_half_sign,
    bit_correlation_loss,
    reconstruction_loss,
    similarity_preservation_loss,
)
from ._network import HeadNetwork

__all__ = ["BiHalf"]

# The paper's gamma: 1 for its auto-encoder on MNIST, 6 for image hashing on VGG features.
_DEFAULT_GAMMA = {"reconstruction": 1.0, "similarity": 6.0}


class _BiHalfNetwork(HeadNetwork):
    """Linear hash heads giving ``h`` (one per level with ``levels``); the codes are the
    signs of ``h - split``, ``split`` a running estimate of where the bi-half layer splits
    each bit (the batch medians); in training the bi-half codes ``b`` of the whole code; with
    a ``decoder`` (reconstruction objective) the input decoded from ``b``.

    Training splits every bit at its batch median, not at 0: inference must threshold where
    training split, as batch normalisation normalises with the statistics training used.
    ``split`` is the exponential moving average of the batch split points (momentum 0.1, a
    plain average over the first ten batches so that a short fit does not start from 0).
    Thresholding at 0 instead put most bits' threshold several standard deviations from
    their median (38 distinct codes for 4,000 MNIST digits, measured)."""

    momentum = 0.1

    def __init__(self, backbone, heads, *, levels, freeze_backbone, gamma, decoder, n_bits):
        super().__init__(backbone, heads, levels=levels, freeze_backbone=freeze_backbone)
        self.gamma = gamma
        self.decoder = decoder
        self.register_buffer("split", torch.zeros(n_bits))
        self.register_buffer("batches_tracked", torch.zeros((), dtype=torch.int64))

    def forward(self, x):
        outputs = super().forward(x)
        h = outputs["codes"]
        if self.training:
            binary = bi_half_sign(h, self.gamma)  # ranks: the same on h and h - split
            with torch.no_grad():
                n = h.shape[0]
                top = h.detach().topk(n // 2 + 1, dim=0).values  # the n // 2 largest, + next
                batch_split = (top[n // 2 - 1] + top[n // 2]) / 2 if n > 1 else top[0]
                self.batches_tracked += 1
                weight = torch.clamp(1 / self.batches_tracked.float(), min=self.momentum)
                self.split.lerp_(batch_split.float(), weight)
        outputs["codes"] = h - self.split
        if not self.training:
            binary = torch.where(outputs["codes"] > 0, 1.0, -1.0)
        outputs["binary"] = binary
        if self.decoder is not None:
            outputs["recon"] = self.decoder(binary)
        return outputs


@fill_deep_doc
class BiHalf(BaseDeepHasher):
    """BiHalf: unsupervised hashing whose bi-half layer gives every bit maximal entropy.

    A backbone and a linear hash layer give ``h``; the codes are ``sign(h)``. In training,
    the bi-half layer replaces the sign: in every batch each bit is ``+1`` for the half of the
    items with the largest ``h`` and ``-1`` for the other half (the optimal transport of the
    continuous values to a uniform distribution over ``{-1, +1}``), so each bit carries one
    bit of information; its gradient is the incoming one plus ``gamma * (h - b) / size``
    (:func:`~skhash.deep._losses.bi_half_sign`). The codes ``b`` are trained with one of the
    paper's two unsupervised objectives:

    - ``"reconstruction"`` (its MNIST auto-encoder): a decoder (a hidden layer of
      ``decoder_hidden`` units) rebuilds the standardised input from ``b``; mean squared
      error. The default, as it needs no pretrained network;
    - ``"similarity"`` (its image-hashing setup on frozen ImageNet VGG-16 features): the
      cosine similarity of two items' codes should equal that of their backbone features
      (:func:`~skhash.deep._losses.similarity_preservation_loss`, over every pair of a
      batch). The features must stay fixed, so this needs ``freeze_backbone=True`` (with
      ``pretrained`` weights, or a module of your own: ``backbone=vgg16_features``).

    A decorrelation term, ``decorrelation_weight`` times the mean squared correlation between
    two bits of ``h`` over the batch (:func:`~skhash.deep._losses.bit_correlation_loss`),
    keeps the bits from copying each other: the bi-half layer balances every bit, but nothing
    in either objective stops two bits from splitting the data the same way, and with the
    small CNN they did (on 4,000 MNIST digits at 32 bits, 6 epochs: mean correlation 0.82
    between bits and mAP 0.16 without the term, 0.13 and 0.54 with it, against 0.45 for ITQ
    on the pixels; measured).

    The codes threshold ``h`` where training split it: at the running average of the batch
    medians (kept in the network as ``module_.split``, as batch normalisation keeps its
    running statistics), not at 0.

    ``y``, when given, labels the database (for :meth:`score`); it is not used in training.

    Deviations: the decorrelation term (above; ``decorrelation_weight=0`` is the paper's
    loss); the reconstruction loss is the mean squared error on standardised pixels (the
    paper binarises MNIST and uses the binary cross-entropy); the default backbone is a small
    CNN (the paper's auto-encoder encoder is one hidden layer of 256 units:
    ``backbone="mlp"``); the similarity objective uses every pair of a batch (the authors'
    code pairs its first half with its second).

    Parameters
    ----------
    n_bits : int, default=32
        Length of the codes.
    image_shape : tuple or None, default=None
        ``(C, H, W)`` or ``(H, W)`` of flat 2-D input rows (see :class:`DSBH`).
    objective : {"reconstruction", "similarity"}, default="reconstruction"
        The training loss (see above).
    gamma : float or None, default=None
        ``gamma`` of the bi-half layer's gradient; None means the paper's value for the
        objective: 1 for ``"reconstruction"``, 6 for ``"similarity"``.
    decoder_hidden : int, default=256
        Hidden units of the decoder (``"reconstruction"``).
    decorrelation_weight : float, default=1.0
        Weight of the penalty on correlated bits (0: the paper's loss alone).
    {deep_parameters}

    Attributes
    ----------
    {deep_attributes}

    References
    ----------
    Y. Li, J. van Gemert. Deep unsupervised image hashing by maximizing bit entropy.
    AAAI 2021.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import BiHalf
    >>> X, y = load_digits(return_X_y=True)
    >>> hasher = BiHalf(n_bits=16, max_epochs=2, device="cpu", random_state=0)
    >>> hasher.fit(X[:300] / 16).transform(X[-3:] / 16).shape
    (3, 16)
    """

    _parameter_constraints = {
        **BaseDeepHasher._parameter_constraints,
        "objective": [StrOptions({"reconstruction", "similarity"})],
        "gamma": [None, Interval(Real, 0, None, closed="left")],
        "decoder_hidden": [Interval(Integral, 1, None, closed="left")],
        "decorrelation_weight": [Interval(Real, 0, None, closed="left")],
    }

    supervised = False

    def __init__(
        self,
        n_bits=32,
        *,
        image_shape=None,
        objective="reconstruction",
        gamma=None,
        decoder_hidden=256,
        decorrelation_weight=1.0,
        backbone="small_cnn",
        pretrained=None,
        backbone_lr_scale="auto",
        freeze_backbone=False,
        levels=None,
        nested=None,
        augmentation="auto",
        device="auto",
        precision="auto",
        num_workers=0,
        max_epochs=30,
        batch_size=64,
        lr=1e-3,
        weight_decay=1e-5,
        optimizer="adam",
        lr_schedule="cosine",
        validation_fraction=None,
        patience=5,
        callbacks=None,
        warm_start=False,
        verbose=0,
        random_state=None,
        n_jobs=None,
        rerank=None,
        rerank_factor=10,
        bit_weights=None,
    ):
        self.n_bits = n_bits
        self.image_shape = image_shape
        self.objective = objective
        self.gamma = gamma
        self.decoder_hidden = decoder_hidden
        self.decorrelation_weight = decorrelation_weight
        self.backbone = backbone
        self.pretrained = pretrained
        self.backbone_lr_scale = backbone_lr_scale
        self.freeze_backbone = freeze_backbone
        self.levels = levels
        self.nested = nested
        self.augmentation = augmentation
        self.device = device
        self.precision = precision
        self.num_workers = num_workers
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.lr_schedule = lr_schedule
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.callbacks = callbacks
        self.warm_start = warm_start
        self.verbose = verbose
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.rerank = rerank
        self.rerank_factor = rerank_factor
        self.bit_weights = bit_weights

    def _build_network(self, backbone, image_shape, n_classes):
        if self.objective == "similarity" and not self.freeze_backbone:
            raise ValueError(
                'objective="similarity" keeps the similarities of the backbone\'s features, '
                "which must then stay fixed: set freeze_backbone=True (with pretrained "
                'weights or a network of your own), or use objective="reconstruction".'
            )
        decoder = None
        if self.objective == "reconstruction":
            decoder = nn.Sequential(
                nn.Linear(self.n_bits, self.decoder_hidden),
                nn.ReLU(inplace=True),
                nn.Linear(self.decoder_hidden, math.prod(image_shape)),
            )
        gamma = _DEFAULT_GAMMA[self.objective] if self.gamma is None else self.gamma
        plain = super()._build_network(backbone, image_shape, n_classes)  # heads and levels
        return _BiHalfNetwork(
            backbone,
            list(plain.heads),
            levels=plain.levels,
            freeze_backbone=self.freeze_backbone,
            gamma=gamma,
            decoder=decoder,
            n_bits=self.n_bits,
        )

    def _build_head(self, in_features, n_bits, n_classes):
        return LinearHead(in_features, n_bits)

    def _network_loss(self, outputs, batch):
        # One objective on the whole code: the bi-half split and the decoder read every
        # level's bits together.
        return self._loss(outputs, batch)

    def _architecture(self, image_shape, n_classes):
        gamma = _DEFAULT_GAMMA[self.objective] if self.gamma is None else self.gamma
        objective = {"objective": self.objective, "gamma": gamma, "hidden": self.decoder_hidden}
        return {**super()._architecture(image_shape, n_classes), **objective}

    def _encode_targets(self, y):
        return None  # unsupervised: labels only label the database, for score()

    def _loss(self, outputs, batch):
        b = outputs["binary"]
        if self.objective == "similarity":
            terms = {"similarity": similarity_preservation_loss(b, outputs["features"])}
        else:
            recon = reconstruction_loss(outputs["recon"], batch["x"].flatten(1))
            terms = {"reconstruction": recon}
        if self.decorrelation_weight:
            terms["decorrelation"] = self.decorrelation_weight * bit_correlation_loss(
                outputs["codes"]
            )
        return terms


def _tiny_instance():
    """BiHalf small enough for scikit-learn's estimator checks (used by ``testing.py``)."""
    from .testing import TINY_SETTINGS

    return BiHalf(n_bits=4, decoder_hidden=4, **TINY_SETTINGS)
