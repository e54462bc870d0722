"""SCAE: unsupervised hashing with a stacked convolutional auto-encoder on a multi-scale input."""

from numbers import Integral, Real

import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval
from torch import nn

from ._backbones import SafeMaxPool
from ._base import BaseDeepHasher
from ._data import resize
from ._losses import bit_balance_loss, quantization_loss, reconstruction_loss

__all__ = ["SCAE"]


class _Decoder(nn.Module):
    """Inverse of one encoder layer: nearest up-sampling to the layer's input size, then a
    3x3 convolution back to its channels (ReLU above the first layer, whose target is the
    standardised image)."""

    def __init__(self, c_in, c_out, relu):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.relu = relu

    def forward(self, h, size):
        h = self.conv(F.interpolate(h, size=tuple(size), mode="nearest"))
        return F.relu(h) if self.relu else h


class _SCAENet(nn.Module):
    """Shared convolutional encoder over every scale, fused codes, and the decoders.

    ``forward`` returns ``codes`` (pre-tanh hash layer), ``relaxed`` (``tanh``) and ``recon``,
    the full-scale image decoded from the relaxed codes through the stacked decoders.
    """

    def __init__(self, image_shape, n_bits, channels, scales, pool_size):
        super().__init__()
        c = [image_shape[0], *channels]
        self.scales = tuple(float(s) for s in scales)
        self.encoders = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(c[i], c[i + 1], 3, padding=1, bias=False),
                nn.BatchNorm2d(c[i + 1]),
                nn.ReLU(inplace=True),
                SafeMaxPool(2),
            )
            for i in range(len(channels))
        )
        self.decoders = nn.ModuleList(
            _Decoder(c[i + 1], c[i], relu=i > 0) for i in range(len(channels))
        )
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.pool_size = pool_size
        fused = len(self.scales) * c[-1] * pool_size * pool_size
        self.hash = nn.Linear(fused, n_bits)
        self.unhash = nn.Linear(n_bits, c[-1] * pool_size * pool_size)

    def pyramid(self, x):
        """The input at every scale (bilinear, antialiased when shrinking; sides >= 1)."""
        h, w = x.shape[-2:]
        return [resize(x, (max(1, round(h * s)), max(1, round(w * s)))) for s in self.scales]

    def encode(self, x, upto=None):
        """Encoder outputs of layers ``0 .. upto - 1``, with the input first."""
        maps = [x]
        for enc in self.encoders[:upto]:
            maps.append(enc(maps[-1]))
        return maps

    def forward(self, x):
        tops, sizes = [], None
        for xs in self.pyramid(x):
            maps = self.encode(xs)
            if sizes is None:  # decode to the sizes of the first scale, ending at the input's
                sizes = [x.shape[-2:], *(m.shape[-2:] for m in maps[1:])]
            tops.append(torch.flatten(self.pool(maps[-1]), 1))
        codes = self.hash(torch.cat(tops, dim=1))
        relaxed = torch.tanh(codes)
        h = F.relu(self.unhash(relaxed)).view(len(x), -1, self.pool_size, self.pool_size)
        for i in reversed(range(len(self.decoders))):
            h = self.decoders[i](h, sizes[i])
        return {"codes": codes, "relaxed": relaxed, "recon": h}


class _LayerStage(nn.Module):
    """Greedy pre-training of auto-encoder layer ``k``: the layers below are frozen (no
    gradient, batch-norm in eval mode); encoder ``k`` and decoder ``k`` reconstruct their own
    input at every scale."""

    def __init__(self, net, k):
        super().__init__()
        self.net, self.k = net, k

    def train(self, mode=True):
        super().train(mode)
        for enc in self.net.encoders[: self.k]:
            enc.eval()
        return self

    def forward(self, x):
        recons, targets = [], []
        for xs in self.net.pyramid(x):
            with torch.no_grad():
                below = self.net.encode(xs, upto=self.k)[-1]
            h = self.net.encoders[self.k](below)
            recons.append(self.net.decoders[self.k](h, below.shape[-2:]))
            targets.append(below)
        return {"recon": recons, "target": targets}


class SCAE(BaseDeepHasher):
    """Unsupervised hashing with a stacked convolutional auto-encoder (SCAE).

    The encoder is a stack of convolutional auto-encoder layers (3x3 convolution, batch-norm,
    ReLU, 2x2 max-pooling; Masci et al. 2011), shared across a multi-scale input: the image
    at every factor in ``scales`` (by default full and half resolution) goes through the same
    encoder, each top feature map is average-pooled to ``pool_size x pool_size``, and the
    scales are fused by concatenation before the linear hash layer ``u``. Codes are relaxed
    by ``tanh`` during training and are ``sign(u)`` at encoding. Labels are never used.

    Training has two phases, both run by the shared trainer:

    1. greedy layer-wise pre-training: for each layer in turn (``history_`` stage
       ``"pretrain-k"``), its encoder and a decoder (nearest up-sampling + 3x3 convolution)
       learn to reconstruct the layer's input, at every scale, for ``pretrain_epochs``
       epochs, the layers below frozen;
    2. end-to-end fine-tuning (stage ``"finetune"``, ``max_epochs`` epochs): the relaxed
       code is the bottleneck of the whole auto-encoder (a linear layer maps it back to the
       top feature map, then the decoders run in reverse order, as in En et al. 2017), and
       the loss is ``reconstruction_weight * MSE(image, reconstruction) +
       quantization_weight * mean((|tanh u| - 1)^2) + balance_weight * bit balance``.

    Parameters
    ----------
    n_bits : int, default=32
        Length of the codes.
    image_shape : tuple or None, default=None
        ``(C, H, W)`` or ``(H, W)`` of flat 2-D input rows (see :class:`DSBH`).
    channels : tuple of int, default=(32, 64)
        Output channels of the stacked auto-encoder layers (one layer per entry).
    scales : tuple of float, default=(1.0, 0.5)
        Resolutions of the multi-scale input, as factors of the image size (in (0, 1]). The
        decoder follows the feature sizes of the first scale and ends at the input size.
    pool_size : int, default=2
        Side of the average pooling of each scale's top feature map.
    pretrain_epochs : int, default=5
        Epochs of greedy pre-training per layer; 0 skips pre-training.
    reconstruction_weight, quantization_weight, balance_weight : float, default=1.0, 0.1, 0.1
        Weights of the fine-tuning losses.
    augmentation : "auto", dict, Augmentation or None, default=None
        Training augmentation (see :class:`DSBH`); the auto-encoder reconstructs the augmented
        image.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
    max_epochs : int, default=30
        Fine-tuning epochs.
    batch_size : int, default=64
    lr : float, default=1e-3
    weight_decay : float, default=0.0
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
    lr_schedule : {"cosine", "step"}, callable or None, default="cosine"
        Applied in every stage (each pre-training stage and the fine-tuning).
    validation_fraction : float or None, default=None
        Held-out fraction for early stopping, in every stage.
    patience : int, default=5
    callbacks : list or None, default=None
        Called in every stage (``on_train_begin`` once per stage).
    warm_start : bool, default=False
        Continue fine-tuning the fitted network (no new pre-training).
    verbose : int, default=0
    random_state : int, RandomState instance or None, default=None
    n_jobs : int, default=None
        See :class:`DSBH` for these.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network, on ``device_``.
    device_ : str
    history_ : list of dict
        Per-epoch records of every stage (``stage``: ``"pretrain-1"``, ...,
        ``"finetune"``); ``pandas.DataFrame(history_)`` tabulates them.
    image_shape_ : tuple
    channel_mean_, channel_std_ : ndarray of shape (C,)
    n_features_in_ : int
    index_ : HammingIndex
    database_labels_ : ndarray or None
        Labels given to ``fit`` (for :meth:`score`), else None.

    References
    ----------
    J. Masci, U. Meier, D. Ciresan, J. Schmidhuber. Stacked convolutional auto-encoders for
    hierarchical feature extraction. ICANN 2011. S. En, B. Cremilleux, F. Jurie. Unsupervised
    deep hashing with stacked convolutional autoencoders. ICIP 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import SCAE
    >>> X, _ = load_digits(return_X_y=True)
    >>> hasher = SCAE(n_bits=16, channels=(8, 16), pretrain_epochs=1, max_epochs=1,
    ...               device="cpu", random_state=0)
    >>> hasher.fit(X[:200] / 16).transform(X[:3] / 16).shape
    (3, 16)
    """

    _parameter_constraints = {
        **BaseDeepHasher._parameter_constraints,
        "channels": [tuple, list],
        "scales": [tuple, list],
        "pool_size": [Interval(Integral, 1, None, closed="left")],
        "pretrain_epochs": [Interval(Integral, 0, None, closed="left")],
        "reconstruction_weight": [Interval(Real, 0, None, closed="left")],
        "quantization_weight": [Interval(Real, 0, None, closed="left")],
        "balance_weight": [Interval(Real, 0, None, closed="left")],
    }

    supervised = False

    def __init__(
        self,
        n_bits=32,
        *,
        image_shape=None,
        channels=(32, 64),
        scales=(1.0, 0.5),
        pool_size=2,
        pretrain_epochs=5,
        reconstruction_weight=1.0,
        quantization_weight=0.1,
        balance_weight=0.1,
        augmentation=None,
        device="auto",
        max_epochs=30,
        batch_size=64,
        lr=1e-3,
        weight_decay=0.0,
        optimizer="adam",
        lr_schedule="cosine",
        validation_fraction=None,
        patience=5,
        callbacks=None,
        warm_start=False,
        verbose=0,
        random_state=None,
        n_jobs=None,
    ):
        self.n_bits = n_bits
        self.image_shape = image_shape
        self.channels = channels
        self.scales = scales
        self.pool_size = pool_size
        self.pretrain_epochs = pretrain_epochs
        self.reconstruction_weight = reconstruction_weight
        self.quantization_weight = quantization_weight
        self.balance_weight = balance_weight
        self.augmentation = augmentation
        self.device = device
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

    def _build_module(self, image_shape, n_classes):
        channels, scales = tuple(self.channels), tuple(self.scales)
        if not channels or not all(isinstance(c, Integral) and c >= 1 for c in channels):
            raise ValueError(
                f"channels must be a non-empty tuple of positive ints; got {self.channels!r}."
            )
        if not scales or not all(isinstance(s, Real) and 0 < s <= 1 for s in scales):
            raise ValueError(
                f"scales must be a non-empty tuple of factors in (0, 1]; got {self.scales!r}."
            )
        return _SCAENet(image_shape, self.n_bits, channels, scales, self.pool_size)

    def _encode_targets(self, y):
        return None  # unsupervised: labels only label the database, for score()

    def _new_module(self):
        module = super()._new_module()  # called only when not warm-starting
        self._pretrain_pending = True
        return module

    def _train(self, module, X, Y, loss_fn, **kwargs):
        # The base's _fit calls this once for the end-to-end training; a fresh network first
        # gets greedy layer-wise pre-training, each stage a run of the same shared trainer on
        # a stage module with its own loss and parameters.
        if kwargs.get("stage") is None and getattr(self, "_pretrain_pending", False):
            self._pretrain_pending = False
            for k in range(len(module.encoders) if self.pretrain_epochs else 0):
                parameters = [*module.encoders[k].parameters(), *module.decoders[k].parameters()]
                super()._train(
                    _LayerStage(module, k),
                    X,
                    None,
                    self._layer_loss,
                    max_epochs=self.pretrain_epochs,
                    parameters=parameters,
                    stage=f"pretrain-{k + 1}",
                )
        kwargs.setdefault("stage", "finetune")
        return super()._train(module, X, Y, loss_fn, **kwargs)

    @staticmethod
    def _layer_loss(outputs, batch):
        pairs = zip(outputs["recon"], outputs["target"], strict=True)
        terms = [reconstruction_loss(r, t) for r, t in pairs]
        return {"reconstruction": sum(terms) / len(terms)}

    def _loss(self, outputs, batch):
        u = outputs["relaxed"]
        return {
            "reconstruction": self.reconstruction_weight
            * reconstruction_loss(outputs["recon"], batch["x"]),
            "quantization": self.quantization_weight * quantization_loss(u),
            "balance": self.balance_weight * bit_balance_loss(u),
        }


def _tiny_instance():
    """SCAE small enough for scikit-learn's estimator checks (used by ``testing.py``)."""
    from .testing import TINY_SETTINGS

    return SCAE(n_bits=4, channels=(2, 2), pretrain_epochs=1, **TINY_SETTINGS)
