"""SCAE: unsupervised hashing with a stacked convolutional auto-encoder on a multi-scale input."""

from numbers import Integral, Real

import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval
from torch import nn

from ._backbones import SafeMaxPool, init_weights
from ._base import BaseDeepHasher, HashingNetwork
from ._docs import fill_deep_doc
from ._losses import (
    bit_balance_loss,
    bit_correlation_loss,
    quantization_loss,
    reconstruction_loss,
)

__all__ = ["SCAE"]


def resize(x, size, mode="bilinear"):
    """Resize a ``(n, C, H, W)`` tensor to ``size = (H', W')`` (antialiased when shrinking)."""
    size = tuple(size)
    if tuple(x.shape[-2:]) == size:
        return x
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=size, mode=mode, antialias=shrink, align_corners=False)


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


class _SCAEEncoder(nn.Module):
    """The stacked convolutional encoder shared by every scale; its features are the scales'
    top maps, average-pooled and concatenated."""

    input_kind = "image"
    builtin = True
    channels_last_ok = True

    def __init__(self, image_shape, channels, scales, pool_size):
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
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.channels = c
        self.out_features = len(self.scales) * c[-1] * pool_size * pool_size

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

    def features_and_sizes(self, x):
        """The fused features, and the map sizes of the first scale (input size first)."""
        tops, sizes = [], None
        for xs in self.pyramid(x):
            maps = self.encode(xs)
            if sizes is None:  # decode to the sizes of the first scale, ending at the input's
                sizes = [x.shape[-2:], *(m.shape[-2:] for m in maps[1:])]
            tops.append(torch.flatten(self.pool(maps[-1]), 1))
        return torch.cat(tops, dim=1), sizes

    def forward(self, x):
        return self.features_and_sizes(x)[0]


class _SCAENet(HashingNetwork):
    """The encoder, the hash layer on its fused features, and the decoders.

    ``forward`` returns ``codes`` (pre-tanh hash layer), ``relaxed`` (``tanh``) and ``recon``,
    the full-scale image decoded from the relaxed codes through the stacked decoders.
    """

    def __init__(self, encoder, n_bits, pool_size):
        super().__init__(encoder)
        c = encoder.channels
        self.decoders = nn.ModuleList(
            _Decoder(c[i + 1], c[i], relu=i > 0) for i in range(len(c) - 1)
        )
        self.pool_size = pool_size
        self.hash = nn.Linear(encoder.out_features, n_bits)
        self.unhash = nn.Linear(n_bits, c[-1] * pool_size * pool_size)

    def forward(self, x):
        features, sizes = self.backbone.features_and_sizes(x)
        codes = self.hash(features)
        relaxed = torch.tanh(codes)
        h = F.relu(self.unhash(relaxed)).view(len(x), -1, self.pool_size, self.pool_size)
        for i in reversed(range(len(self.decoders))):
            h = self.decoders[i](h, sizes[i])
        return {"codes": codes, "features": features, "relaxed": relaxed, "recon": h}


class _FeatureAutoEncoder(HashingNetwork):
    """Any other backbone, frozen: the relaxed code of its pooled features must reconstruct
    them through a linear decoder."""

    def __init__(self, backbone, n_bits):
        super().__init__(backbone, freeze_backbone=True)
        self.hash = nn.Linear(backbone.out_features, n_bits)
        self.unhash = nn.Linear(n_bits, backbone.out_features)

    def forward(self, x):
        features = self.backbone(x)
        codes = self.hash(features)
        relaxed = torch.tanh(codes)
        return {
            "codes": codes,
            "features": features,
            "relaxed": relaxed,
            "recon": self.unhash(relaxed),
            "target": features.detach(),
        }


class _LayerStage(nn.Module):
    """Greedy pre-training of auto-encoder layer ``k``: the layers below are frozen (no
    gradient, batch-norm in eval mode); encoder ``k`` and decoder ``k`` reconstruct their own
    input at every scale."""

    def __init__(self, net, k):
        super().__init__()
        self.net, self.k = net, k

    def train(self, mode=True):
        super().train(mode)
        for enc in self.net.backbone.encoders[: self.k]:
            enc.eval()
        return self

    def forward(self, x):
        encoder = self.net.backbone
        recons, targets = [], []
        for xs in encoder.pyramid(x):
            with torch.no_grad():
                below = encoder.encode(xs, upto=self.k)[-1]
            h = encoder.encoders[self.k](below)
            recons.append(self.net.decoders[self.k](h, below.shape[-2:]))
            targets.append(below)
        return {"recon": recons, "target": targets}


@fill_deep_doc
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
    reconstruction_weight, quantization_weight, balance_weight : float, default=1.0, 0.1, 1.0
        Weights of the fine-tuning losses. At 0.1 the balance left bits constant over the
        whole database (1 of 32 on the MNIST subset, 4 of 16 on the digits; issue 19).
    decorrelation_weight : float, default=1.0
        Weight of the mean squared correlation between two bits of ``tanh(u)`` over a batch
        (:func:`~skhash.deep._losses.bit_correlation_loss`), an addition to the paper's loss:
        the stronger balance alone made the bits redundant. MNIST subset, 32 bits, 6 epochs
        (measured): balance 0.1, mAP 0.339 with a constant bit; balance 1.0, 0.250 (mean
        bit correlation 0.55); balance 1.0 and this term, 0.337 (correlation 0.05, no
        constant bit).
    {deep_parameters}

    Attributes
    ----------
    {deep_attributes}

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
        "decorrelation_weight": [Interval(Real, 0, None, closed="left")],
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
        balance_weight=1.0,
        decorrelation_weight=1.0,
        backbone="scae",
        pretrained=None,
        backbone_lr_scale="auto",
        freeze_backbone=False,
        levels=None,
        nested=None,
        augmentation=None,
        device="auto",
        precision="auto",
        num_workers=0,
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
        rerank=None,
        rerank_factor=10,
        bit_weights=None,
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

    def _new_network(self, image_shape, n_classes):
        if self.levels is not None:
            raise ValueError("SCAE hashes one level: its auto-encoders take levels=None.")
        if self.backbone != "scae":
            return super()._new_network(image_shape, n_classes)
        channels, scales = tuple(self.channels), tuple(self.scales)
        if not channels or not all(isinstance(c, Integral) and c >= 1 for c in channels):
            raise ValueError(
                f"channels must be a non-empty tuple of positive ints; got {self.channels!r}."
            )
        if not scales or not all(isinstance(s, Real) and 0 < s <= 1 for s in scales):
            raise ValueError(
                f"scales must be a non-empty tuple of factors in (0, 1]; got {self.scales!r}."
            )
        if self.pretrained is not None:
            raise ValueError(
                'pretrained weights need a backbone other than "scae" (its layers are '
                "pre-trained greedily instead)."
            )
        with torch.random.fork_rng(devices=[]):
            encoder = _SCAEEncoder(image_shape, channels, scales, self.pool_size)
            network = _SCAENet(encoder, self.n_bits, self.pool_size)
        init_weights(network, self._generator)
        self._pretrain_pending = self.pretrain_epochs > 0
        return network

    def _build_network(self, backbone, image_shape, n_classes):
        return _FeatureAutoEncoder(backbone, self.n_bits)

    def _encode_targets(self, y):
        return None  # unsupervised: labels only label the database, for score()

    def _train(self, module, X, Y, loss_fn, **kwargs):
        # The base's _fit calls this once for the end-to-end training; a fresh "scae"
        # network first gets greedy layer-wise pre-training, each stage a run of the same
        # shared trainer on a stage module with its own loss and parameters.
        if kwargs.get("stage") is None and self.__dict__.pop("_pretrain_pending", False):
            for k in range(len(module.backbone.encoders)):
                parameters = [
                    *module.backbone.encoders[k].parameters(),
                    *module.decoders[k].parameters(),
                ]
                super()._train(
                    _LayerStage(module, k),
                    X,
                    None,
                    self._layer_loss,
                    max_epochs=self.pretrain_epochs,
                    param_groups=[{"params": parameters}],
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
            * reconstruction_loss(outputs["recon"], outputs.get("target", batch["x"])),
            "quantization": self.quantization_weight * quantization_loss(u),
            "balance": self.balance_weight * bit_balance_loss(u),
            "decorrelation": self.decorrelation_weight * bit_correlation_loss(u),
        }


def _tiny_instance():
    """SCAE small enough for scikit-learn's estimator checks (used by ``testing.py``)."""
    from .testing import TINY_SETTINGS

    return SCAE(n_bits=4, channels=(2, 2), pretrain_epochs=1, **TINY_SETTINGS)
