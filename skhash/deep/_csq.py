"""CSQ: central similarity quantization with hash centres (Yuan et al., CVPR 2020)."""

from numbers import Real

import torch
from sklearn.utils._param_validation import Interval

from ._base import BaseDeepHasher
from ._docs import fill_deep_doc
from ._heads import ClassCodeHead, draw_class_codes
from ._losses import quantization_loss, spatial_anchor_loss

__all__ = ["CSQ"]


@fill_deep_doc
class CSQ(BaseDeepHasher):
    """Central similarity quantization: every class owns a hash centre, and codes are pulled
    to the centre of their labels.

    A backbone and a linear hash layer give ``z``; the codes are ``sign(z)``. Each class
    ``c`` owns a fixed centre ``a_c`` in ``{-1, +1}^k``: rows of a Hadamard matrix (some
    negated, so that every bit splits the classes) and their negations when ``n_bits`` is a
    power of two and there are at most ``2 * n_bits`` classes, otherwise random codes drawn
    from ``random_state`` at least ``n_bits / 4`` bits apart
    (:func:`~skhash.deep._losses.hash_centers`; a warning says when no such set was found).
    An item's target is the centre of its label set, ``sign(sum_c a_c)``, with ties (two
    labels, or none) broken by a fixed random code drawn at fit
    (:func:`~skhash.deep._losses.center_targets`). With ``h = tanh(z)`` the loss (Yuan et
    al. 2020, Eq. 7) is the central similarity, a bit-wise binary cross-entropy between
    ``(h + 1) / 2`` and ``(t + 1) / 2``, plus ``lambda`` times the quantization error
    ``mean((|h| - 1)^2)``. The centres and the tie-break code are kept in the network
    (``module_.centers``, ``module_.tie_break``).

    Deviations: the default backbone is a small CNN trained from scratch with Adam (the paper
    fine-tunes an ImageNet-pretrained AlexNet or ResNet-50, the backbone at 1/100 of the
    learning rate: ``backbone="resnet50", pretrained="resnet50.pth", backbone_lr_scale=0.01``
    is its setup); ``lambda = 1e-4`` as in DeepHash-pytorch (the authors' released code also
    adds a pairwise term and weighs the quantization 0.05).

    Parameters
    ----------
    n_bits : int, default=32
        Length of the codes.
    image_shape : tuple or None, default=None
        ``(C, H, W)`` or ``(H, W)`` of flat 2-D input rows (see :class:`DSBH`).
    quantization_weight : float, default=1e-4
        ``lambda``.
    {deep_parameters}

    Attributes
    ----------
    {deep_attributes}

    References
    ----------
    L. Yuan, T. Wang, X. Zhang, F. E. H. Tay, Z. Jie, W. Liu, J. Feng. Central similarity
    quantization for efficient image and video retrieval. CVPR 2020.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import CSQ
    >>> X, y = load_digits(return_X_y=True)
    >>> hasher = CSQ(n_bits=16, max_epochs=2, device="cpu", random_state=0)
    >>> hasher.fit(X[:300] / 16, y[:300]).transform(X[-3:] / 16).shape
    (3, 16)
    """

    _parameter_constraints = {
        **BaseDeepHasher._parameter_constraints,
        "quantization_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_bits=32,
        *,
        image_shape=None,
        quantization_weight=1e-4,
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
        self.quantization_weight = quantization_weight
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

    def _build_head(self, in_features, n_bits, n_classes):
        return ClassCodeHead(in_features, n_bits, n_classes)

    def _init_network(self, network, generator):
        draw_class_codes(network, generator)

    def _loss(self, outputs, batch):
        h = torch.tanh(outputs["codes"])
        centers, tie_break = outputs["centers"], outputs["tie_break"]
        return {
            "central": spatial_anchor_loss(h, batch["y"], centers, tie_break),
            "quantization": self.quantization_weight * quantization_loss(h),
        }


def _tiny_instance():
    """CSQ small enough for scikit-learn's estimator checks (used by ``testing.py``)."""
    from .testing import TINY_SETTINGS

    return CSQ(n_bits=4, **TINY_SETTINGS)
