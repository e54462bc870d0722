"""DAHP: deep attention hashing on ResNet-18 with channel/spatial attention and class anchors."""

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ._attention import DualAttention
from ._base import BaseDeepHasher
from ._docs import fill_deep_doc
from ._losses import (
    hash_centers,
    pairwise_likelihood_loss,
    pairwise_similarity,
    spatial_anchor_loss,
)
from ._network import HeadNetwork

__all__ = ["DAHP"]


class _AnchorHead(nn.Module):
    """Hash layer relaxed by tanh; ``anchors`` (a buffer, so it is saved and pickled) holds
    the class anchors of this head's bits."""

    def __init__(self, in_features, n_bits, n_classes):
        super().__init__()
        self.hash = nn.Linear(in_features, n_bits)
        self.register_buffer("anchors", torch.zeros(n_classes or 1, n_bits))

    def forward(self, features):
        codes = self.hash(features)
        return {"codes": codes, "relaxed": torch.tanh(codes), "anchors": self.anchors}


class _DAHPNet(HeadNetwork):
    """Backbone features with dual attention after the chosen stages, then the heads."""

    def __init__(self, backbone, heads, *, levels, attention_stages, reduction, freeze):
        super().__init__(backbone, heads, levels=levels, freeze_backbone=freeze)
        channels = tuple(getattr(backbone, "stage_channels", ()))
        stages = tuple(attention_stages)
        valid = all(isinstance(s, Integral) and 1 <= s <= len(channels) for s in stages)
        if not valid or len(set(stages)) != len(stages):
            raise ValueError(
                f"attention_stages must hold distinct stages among 1 .. {len(channels)} (the "
                f"stages of this backbone); got {attention_stages!r}. Use () for a backbone "
                "without convolutional stages."
            )
        self.attention = nn.ModuleDict(
            {f"stage{i}": DualAttention(channels[i - 1], reduction) for i in sorted(stages)}
        )

    def rewrites_stages(self):
        return bool(self.attention)

    def rewrite_stage(self, i, x, extras):
        name = f"stage{i}"
        if name not in self.attention:
            return x
        x, channel, spatial = self.attention[name](x, return_weights=True)
        extras[f"{name}_channel"], extras[f"{name}_spatial"] = channel, spatial
        return x


@fill_deep_doc
class DAHP(BaseDeepHasher):
    """Deep attention hashing: ResNet-18 with dual attention, anchor and pairwise losses.

    A ResNet-18 backbone (torchvision's layout, so ImageNet weights load from a local file
    with ``pretrained="resnet18.pth"``) is followed, after each stage listed in
    ``attention_stages``, by CBAM dual attention (channel then spatial re-weighting, Woo et
    al. 2018), then global average pooling and a linear
    hash layer ``u``, relaxed by ``tanh``. Two losses are summed:

    - the spatial-anchor loss: every class
      owns a fixed anchor code in Hamming space (Hadamard rows when ``n_bits`` is a power of
      two, else random codes drawn from ``random_state``), and ``tanh(u)`` is pulled to the
      anchor of its label set by bit-wise cross-entropy. The DAHP sources at hand do not
      specify this loss precisely; the formulation is that of hash centres (CSQ, Yuan et
      al. 2020), documented in the loss;
    - pairwise likelihood (DPSH, Li et al. 2016) on ``tanh(u)`` with ``S`` = "shares a label",
      so multi-label ``y`` (a 2-D indicator matrix) works with both losses.

    Codes are ``sign(u)``.

    Parameters
    ----------
    n_bits : int, default=32
        Length of the codes.
    image_shape : tuple or None, default=None
        ``(C, H, W)`` or ``(H, W)`` of flat 2-D input rows (see :class:`DSBH`).
    small_input : {"auto"} or bool, default="auto"
        For ResNet backbones: 3x3 stride-1 stem without max-pool. "auto" uses it below 16
        pixels a side, where the
        standard stem (7x7 stride 2 and a stride-2 max-pool, a quarter of the side) would leave
        fewer than 4x4 pixels; 28x28 MNIST keeps the standard stem (7x7 maps into ``layer1``,
        as 224x224 ImageNet gives 56x56), about 12 times cheaper than the small stem there.
    width : int, default=64
        For ResNet backbones: channels of the first stage (doubled at each stage); 64 is the
        standard network (and needed by ImageNet weights).
    attention_stages : tuple of int, default=(3, 4)
        Stages followed by dual attention (1 to 4 for the ResNets; any convolutional backbone
        has stages, a module of the user's one); ``()`` turns attention off, as a backbone
        without convolutional stages (``"mlp"``) needs.
    reduction : int, default=16
        Bottleneck ratio of the channel attention MLP.
    anchor_weight, pairwise_weight : float, default=1.0, 1.0
        Loss weights.
    pairwise_scale : float or None, default=None
        ``theta`` factor of the pairwise loss; None means ``8 / n_bits``.
    {deep_parameters}

    Attributes
    ----------
    {deep_attributes}

    References
    ----------
    K. He, X. Zhang, S. Ren, J. Sun. Deep residual learning for image recognition. CVPR 2016.
    S. Woo, J. Park, J.-Y. Lee, I. S. Kweon. CBAM: Convolutional block attention module.
    ECCV 2018. L. Yuan et al. Central similarity quantization for efficient image and video
    retrieval. CVPR 2020. W.-J. Li, S. Wang, W.-C. Kang. Feature learning based deep
    supervised hashing with pairwise labels. IJCAI 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import DAHP
    >>> X, y = load_digits(return_X_y=True)
    >>> hasher = DAHP(n_bits=16, width=8, max_epochs=1, device="cpu", random_state=0)
    >>> hasher.fit(X[:200] / 16, y[:200]).transform(X[:3] / 16).shape
    (3, 16)
    """

    _parameter_constraints = {
        **BaseDeepHasher._parameter_constraints,
        "small_input": [StrOptions({"auto"}), "boolean"],
        "width": [Interval(Integral, 1, None, closed="left")],
        "attention_stages": [tuple, list],
        "reduction": [Interval(Integral, 1, None, closed="left")],
        "anchor_weight": [Interval(Real, 0, None, closed="left")],
        "pairwise_weight": [Interval(Real, 0, None, closed="left")],
        "pairwise_scale": [None, Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        n_bits=32,
        *,
        image_shape=None,
        pretrained=None,
        small_input="auto",
        width=64,
        attention_stages=(3, 4),
        reduction=16,
        anchor_weight=1.0,
        pairwise_weight=1.0,
        pairwise_scale=None,
        backbone="resnet18",
        backbone_lr_scale="auto",
        freeze_backbone=False,
        levels=None,
        nested=None,
        augmentation="auto",
        device="auto",
        precision="auto",
        num_workers=0,
        max_epochs=10,
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
        self.pretrained = pretrained
        self.small_input = small_input
        self.width = width
        self.attention_stages = attention_stages
        self.reduction = reduction
        self.anchor_weight = anchor_weight
        self.pairwise_weight = pairwise_weight
        self.pairwise_scale = pairwise_scale
        self.backbone = backbone
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

    def _backbone_options(self):
        options = {"small_input": self.small_input, "width": self.width}
        return {name: options for name in ("resnet18", "resnet34", "resnet50")}

    def _build_head(self, in_features, n_bits, n_classes):
        return _AnchorHead(in_features, n_bits, n_classes)

    def _build_network(self, backbone, image_shape, n_classes):
        plain = super()._build_network(backbone, image_shape, n_classes)  # heads and levels
        return _DAHPNet(
            backbone,
            list(plain.heads),
            levels=plain.levels,
            attention_stages=self.attention_stages,
            reduction=self.reduction,
            freeze=self.freeze_backbone,
        )

    def _init_network(self, network, generator):
        for head in network.heads:  # one set of anchors per code block
            n_classes, n_bits = head.anchors.shape
            head.anchors.copy_(hash_centers(n_classes, n_bits, generator=generator))

    def _loss(self, outputs, batch):
        Y, u = batch["y"], outputs["relaxed"]
        scale = 8 / self.n_bits if self.pairwise_scale is None else self.pairwise_scale
        return {
            "anchor": self.anchor_weight * spatial_anchor_loss(u, Y, outputs["anchors"]),
            "pairwise": self.pairwise_weight
            * pairwise_likelihood_loss(u, u, pairwise_similarity(Y), scale=scale),
        }


def _tiny_instance():
    """DAHP small enough for scikit-learn's estimator checks (used by ``testing.py``)."""
    from .testing import TINY_SETTINGS

    return DAHP(n_bits=4, width=2, reduction=4, **TINY_SETTINGS)
