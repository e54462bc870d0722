"""DSH: deep supervised hashing with a contrastive loss (Liu et al., CVPR 2016)."""

from numbers import Real

from sklearn.utils._param_validation import Interval

from ._base import BaseDeepHasher
from ._docs import fill_deep_doc
from ._heads import LinearHead
from ._losses import pairwise_margin_loss, pairwise_similarity, quantization_loss

__all__ = ["DSH"]


@fill_deep_doc
class DSH(BaseDeepHasher):
    """Deep supervised hashing: a contrastive loss with a margin, and a regulariser towards
    binary outputs.

    A backbone and a linear hash layer give real-valued outputs ``u`` (no activation); the
    codes are ``sign(u)``. For the pairs of a batch, Liu et al. (2016) pull the outputs of
    similar items together and push dissimilar ones at least ``m`` apart in squared Euclidean
    distance, and regularise every output towards ``{-1, +1}``:

    .. math:: L = \\tfrac12 S_{ij} \\|u_i - u_j\\|^2
              + \\tfrac12 (1 - S_{ij}) \\max(0, m - \\|u_i - u_j\\|^2)
              + \\alpha \\big(\\||u_i| - 1\\|_1 + \\||u_j| - 1\\|_1\\big)

    with ``m = 2 * n_bits`` and ``alpha = 0.01``, ``S_ij = 1`` when the items share a label.
    The pairs are all pairs of a batch, as the paper generates them online within each
    mini-batch. Here the loss is :math:`L / (2k)` averaged over pairs: the contrastive term
    is :func:`~skhash.deep._losses.pairwise_margin_loss` with the Euclidean distance (in bits:
    ``||u_i - u_j||^2 / 4``, margin ``m / 4``) and the regulariser ``alpha`` times the mean
    of ``| |u| - 1 |`` (the same ratio of the two terms as the paper's sum).

    Deviations: the default backbone is a small CNN trained from scratch with Adam (the paper
    trains its own three-layer CNN on CIFAR-10 from scratch with SGD; a pretrained AlexNet
    is the usual later setup, ``backbone="alexnet", pretrained="alexnet.pth"``).

    Parameters
    ----------
    n_bits : int, default=32
        Length of the codes.
    image_shape : tuple or None, default=None
        ``(C, H, W)`` or ``(H, W)`` of flat 2-D input rows (see :class:`DSBH`).
    margin : float or None, default=None
        ``m``, in squared Euclidean distance; None means ``2 * n_bits`` (the paper's).
    regularization_weight : float, default=0.01
        ``alpha``.
    {deep_parameters}

    Attributes
    ----------
    {deep_attributes}

    References
    ----------
    H. Liu, R. Wang, S. Shan, X. Chen. Deep supervised hashing for fast image retrieval.
    CVPR 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import DSH
    >>> X, y = load_digits(return_X_y=True)
    >>> hasher = DSH(n_bits=16, max_epochs=2, device="cpu", random_state=0)
    >>> hasher.fit(X[:300] / 16, y[:300]).transform(X[-3:] / 16).shape
    (3, 16)
    """

    _parameter_constraints = {
        **BaseDeepHasher._parameter_constraints,
        "margin": [None, Interval(Real, 0, None, closed="left")],
        "regularization_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_bits=32,
        *,
        image_shape=None,
        margin=None,
        regularization_weight=0.01,
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
        self.margin = margin
        self.regularization_weight = regularization_weight
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
        return LinearHead(in_features, n_bits)

    def _loss(self, outputs, batch):
        u = outputs["codes"]
        margin = 2 * self.n_bits if self.margin is None else self.margin
        S = pairwise_similarity(batch["y"])
        return {
            "contrastive": pairwise_margin_loss(u, u, S, margin=margin / 4, distance="euclidean"),
            "regularization": self.regularization_weight * quantization_loss(u, p=1),
        }


def _tiny_instance():
    """DSH small enough for scikit-learn's estimator checks (used by ``testing.py``)."""
    from .testing import TINY_SETTINGS

    return DSH(n_bits=4, **TINY_SETTINGS)
