"""GreedyHash: greedy sign with a straight-through gradient (Su et al., NeurIPS 2018)."""

from numbers import Real

from sklearn.utils._param_validation import Interval
from torch import nn

from ._base import BaseDeepHasher
from ._docs import fill_deep_doc
from ._heads import LinearHead
from ._losses import classification_loss, quantization_loss, sign_ste

__all__ = ["GreedyHash"]


class _GreedyHashHead(LinearHead):
    """A linear hash layer ``h``, its sign ``b`` (straight-through), a linear classifier
    without bias on ``b``."""

    def __init__(self, in_features, n_bits, n_classes):
        super().__init__(in_features, n_bits)
        self.classifier = nn.Linear(n_bits, n_classes, bias=False)

    def forward(self, features):
        outputs = super().forward(features)
        binary = sign_ste(outputs["codes"], clip=None)
        return {**outputs, "binary": binary, "logits": self.classifier(binary)}


@fill_deep_doc
class GreedyHash(BaseDeepHasher):
    """GreedyHash: the codes themselves, ``b = sign(h)``, feed a classifier; the gradient
    passes the sign unchanged.

    A backbone and a linear hash layer give ``h``; the forward pass takes the greedy
    solution ``b = sign(h)`` of the discrete problem, and the backward pass copies the
    gradient of ``b`` to ``h`` (a straight-through estimator without clipping). The loss
    (Su et al. 2018, Eq. 8) is the cross-entropy of a linear classifier (no bias) on ``b``
    plus the penalty ``alpha * mean(| |h| - 1 |^3)`` (their :math:`\\|h - b\\|_3^3`), which
    keeps ``h`` close to ``b`` so the copied gradient stays accurate. Multi-label ``y``
    trains the classifier with binary cross-entropy instead.

    Deviations: the default backbone is a small CNN trained from scratch with Adam (the paper
    fine-tunes an ImageNet-pretrained AlexNet with SGD; ``backbone="alexnet",
    pretrained="alexnet.pth"`` on 224x224 images is its setup); ``alpha = 0.1`` is the
    authors' CIFAR-10 value (1 for ImageNet).

    Parameters
    ----------
    n_bits : int, default=32
        Length of the codes.
    image_shape : tuple or None, default=None
        ``(C, H, W)`` or ``(H, W)`` of flat 2-D input rows (see :class:`DSBH`).
    penalty_weight : float, default=0.1
        ``alpha``.
    {deep_parameters}

    Attributes
    ----------
    {deep_attributes}

    References
    ----------
    S. Su, C. Zhang, K. Han, Y. Tian. Greedy hash: towards fast optimization for accurate
    hash coding in CNN. NeurIPS 2018.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import GreedyHash
    >>> X, y = load_digits(return_X_y=True)
    >>> hasher = GreedyHash(n_bits=16, max_epochs=2, device="cpu", random_state=0)
    >>> hasher.fit(X[:300] / 16, y[:300]).transform(X[-3:] / 16).shape
    (3, 16)
    """

    _parameter_constraints = {
        **BaseDeepHasher._parameter_constraints,
        "penalty_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_bits=32,
        *,
        image_shape=None,
        penalty_weight=0.1,
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
        self.penalty_weight = penalty_weight
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
        return _GreedyHashHead(in_features, n_bits, n_classes)

    def _loss(self, outputs, batch):
        logits, Y = outputs["logits"], batch["y"]
        return {
            "classification": classification_loss(logits, Y, multilabel=self._multilabel),
            "penalty": self.penalty_weight * quantization_loss(outputs["codes"], p=3),
        }


def _tiny_instance():
    """GreedyHash small enough for scikit-learn's estimator checks (used by ``testing.py``)."""
    from .testing import TINY_SETTINGS

    return GreedyHash(n_bits=4, **TINY_SETTINGS)
