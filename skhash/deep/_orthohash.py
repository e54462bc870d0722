"""OrthoHash: one cosine loss to orthogonal class codes (Hoe et al., NeurIPS 2021)."""

from numbers import Real

from sklearn.utils._param_validation import Interval

from ._base import BaseDeepHasher
from ._docs import fill_deep_doc
from ._heads import ClassCodeHead, draw_class_codes
from ._losses import cosine_margin_loss

__all__ = ["OrthoHash"]


@fill_deep_doc
class OrthoHash(BaseDeepHasher):
    """OrthoHash: a single loss, the cross-entropy of the cosine similarities between the
    continuous codes and fixed near-orthogonal class codes.

    A backbone, a linear hash layer without bias and a batch-normalisation layer (which
    keeps the bits balanced) give ``v``; the codes are ``sign(v)``. Every class owns a fixed
    binary code ``c``; the logits are ``s * (cos(v, c) - m * y_c)`` (an additive cosine
    margin on the item's own classes) and the loss is their cross-entropy (Hoe et al. 2021,
    Eq. 9): maximising the cosine to the class code both separates the classes and pulls
    ``v`` towards a binary code, so no quantization term is needed. Multi-label ``y`` uses
    the cross-entropy against the label distribution (their label smoothing).

    The class codes come from :func:`~skhash.deep._losses.hash_centers`: Hadamard rows (exactly
    orthogonal; some negated, so that every bit splits the classes) when ``n_bits`` is a power
    of two and there are at most ``2 * n_bits`` classes, otherwise random codes at least
    ``n_bits / 4`` bits apart. Deviations: the paper's default codebook is Bernoulli random
    codes (near-orthogonal at 64 bits and more; its optimised codebook, which keeps a minimum
    distance, is the option it reports as 1-2% better); the default backbone is a small CNN
    trained from scratch with Adam at lr 1e-3 (the paper fine-tunes an ImageNet-pretrained
    AlexNet or VGG-16 with Adam at lr 1e-4, the backbone at 1/10 of it: ``backbone="alexnet",
    pretrained="alexnet.pth", lr=1e-4`` on 224x224 images is its setup, ``backbone_lr_scale``
    is then 0.1 by default).

    Parameters
    ----------
    n_bits : int, default=32
        Length of the codes.
    image_shape : tuple or None, default=None
        ``(C, H, W)`` or ``(H, W)`` of flat 2-D input rows (see :class:`DSBH`).
    scale : float, default=8.0
        ``s``.
    margin : float, default=0.2
        ``m``, the cosine margin (the authors use 0.2 by default, 0.3 for CIFAR-10).
    {deep_parameters}

    Attributes
    ----------
    {deep_attributes}

    References
    ----------
    J. T. Hoe, K. W. Ng, T. Zhang, C. S. Chan, Y.-Z. Song, T. Xiang. One loss for all: deep
    hashing with a single cosine similarity based learning objective. NeurIPS 2021.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import OrthoHash
    >>> X, y = load_digits(return_X_y=True)
    >>> hasher = OrthoHash(n_bits=16, max_epochs=2, device="cpu", random_state=0)
    >>> hasher.fit(X[:300] / 16, y[:300]).transform(X[-3:] / 16).shape
    (3, 16)
    """

    _parameter_constraints = {
        **BaseDeepHasher._parameter_constraints,
        "scale": [Interval(Real, 0, None, closed="neither")],
        "margin": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_bits=32,
        *,
        image_shape=None,
        scale=8.0,
        margin=0.2,
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
        self.scale = scale
        self.margin = margin
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
        return ClassCodeHead(in_features, n_bits, n_classes, batch_norm=True)

    def _init_network(self, network, generator):
        draw_class_codes(network, generator)

    def _loss(self, outputs, batch):
        loss = cosine_margin_loss(
            outputs["codes"], outputs["centers"], batch["y"], scale=self.scale, margin=self.margin
        )
        return {"cosine": loss}


def _tiny_instance():
    """OrthoHash small enough for scikit-learn's estimator checks (used by ``testing.py``)."""
    from .testing import TINY_SETTINGS

    return OrthoHash(n_bits=4, **TINY_SETTINGS)
