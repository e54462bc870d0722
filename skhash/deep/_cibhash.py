"""CIBHash: unsupervised hashing from two augmented views (Qiu et al., AAAI 2021)."""

from numbers import Real

import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval, StrOptions

from ._augment import Augmentation
from ._base import BaseDeepHasher
from ._docs import fill_deep_doc
from ._heads import LinearHead
from ._losses import sign_ste

__all__ = ["CIBHash"]


def contrastive_code_loss(codes, n_views, temperature):
    """NT-Xent over codes: each view's code must be closer (cosine) to the codes of the
    other views of its image than to those of every other image of the batch."""
    z = F.normalize(codes, dim=1)
    n = len(z)
    m = n // n_views
    similarity = z @ z.T / temperature
    similarity = similarity.masked_fill(torch.eye(n, dtype=torch.bool, device=z.device), -1e9)
    image = torch.arange(n, device=z.device) % m
    positive = (image[:, None] == image[None, :]) & ~torch.eye(
        n, dtype=torch.bool, device=z.device
    )
    log_prob = similarity - torch.logsumexp(similarity, dim=1, keepdim=True)
    return -(log_prob * positive).sum(dim=1).div(positive.sum(dim=1)).mean()


def bernoulli_kl(logits_p, logits_q):
    """Mean KL divergence between the bitwise Bernoulli laws of two sets of logits."""
    p, log_p, log_1p = torch.sigmoid(logits_p), F.logsigmoid(logits_p), F.logsigmoid(-logits_p)
    log_q, log_1q = F.logsigmoid(logits_q), F.logsigmoid(-logits_q)
    return (p * (log_p - log_q) + (1 - p) * (log_1p - log_1q)).sum(dim=1).mean()


@fill_deep_doc
class CIBHash(BaseDeepHasher):
    """CIBHash: codes that agree across augmented views of an image, and differ between
    images (unsupervised; for near-duplicate search).

    Each training image is augmented twice, independently (the trainer's multi-view step,
    with the edits copies of images go through by default:
    :meth:`Augmentation.near_duplicates`: JPEG-like compression, rescaling, brightness and
    contrast, a small rotation, a re-crop, blur, noise, a horizontal flip). The backbone
    and a linear hash layer give ``h`` for each view, the codes are ``b = sign(h)`` with a
    straight-through gradient, and the loss (Qiu et al. 2021, Eq. 12) is the contrastive
    NT-Xent loss between the codes of the views (each view's code must be nearest, in
    cosine, to the other view's code among the batch) plus ``kl_weight`` times the
    symmetric KL divergence between the bitwise Bernoulli laws ``sigmoid(h)`` of the two
    views (the information-bottleneck term that makes each bit agree across views).
    ``y``, when given, labels the database (for :meth:`score`); it is not used in training.

    Fitting on the database itself is what near-duplicate search does: the network learns
    what stays the same across edits of the very images it will be asked to find.

    The default backbone, ``"perceptual"`` (:class:`PerceptualFeatures`), reads the image
    as pHash does (the low frequencies of the DCT of a 32x32 grey thumbnail) and learns a
    layer on top: it trains in minutes on a CPU, and on photos it keeps pHash's tolerance of
    compression and photometric edits while learning the flips, rotations and crops that
    pHash does not survive. ``backbone="small_cnn"`` (or any other) learns from the pixels
    instead (better with a GPU and many epochs); on precomputed embeddings use
    ``backbone="mlp"``, where ``"near_duplicates"`` augments the vectors by noise and
    scaling only.

    Deviations: the codes are deterministic signs with a straight-through gradient (the
    paper samples stochastic binary codes from ``sigmoid(h)``); the paper fine-tunes a
    pretrained VGG-16 (pass such a module with ``pretrained``); the default augmentation is
    that of near-duplicate search (the paper's is SimCLR's: crops, colour jitter,
    greyscale).

    Parameters
    ----------
    n_bits : int, default=64
        Length of the codes.
    image_shape : tuple or None, default=None
        ``(C, H, W)`` or ``(H, W)`` of flat 2-D input rows (see :class:`DSBH`).
    temperature : float, default=0.3
        Temperature of the contrastive loss (the paper's 0.3).
    kl_weight : float, default=0.001
        Weight of the KL term (the paper's beta, 0.001).
    {deep_parameters}

    Attributes
    ----------
    {deep_attributes}

    References
    ----------
    Z. Qiu, Q. Su, Z. Ou, J. Yu, C. Chen. Unsupervised hashing with contrastive information
    bottleneck. IJCAI 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_sample_images
    >>> from skhash import CIBHash
    >>> photo = load_sample_images().images[0]  # scikit-learn's photo of a temple in China
    >>> crops = np.stack([photo[i:i + 32, j:j + 32] for i in range(0, 256, 32)
    ...                   for j in range(0, 256, 32)])
    >>> hasher = CIBHash(n_bits=16, max_epochs=2, device="cpu", random_state=0).fit(crops)
    >>> hasher.transform(crops[:3]).shape
    (3, 16)
    """

    _parameter_constraints = {
        **BaseDeepHasher._parameter_constraints,
        "augmentation": [None, StrOptions({"auto", "near_duplicates"}), dict, Augmentation],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "kl_weight": [Interval(Real, 0, None, closed="left")],
    }

    supervised = False
    # The trainer augments each batch twice: two views of every image.
    n_views = 2

    def __init__(
        self,
        n_bits=64,
        *,
        image_shape=None,
        temperature=0.3,
        kl_weight=0.001,
        backbone="perceptual",
        pretrained=None,
        backbone_lr_scale="auto",
        freeze_backbone=False,
        levels=None,
        nested=None,
        augmentation="near_duplicates",
        device="auto",
        precision="auto",
        num_workers=0,
        max_epochs=100,
        batch_size=256,
        lr=3e-3,
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
        self.temperature = temperature
        self.kl_weight = kl_weight
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
        return LinearHead(in_features, n_bits, batch_norm=True)

    def _loss(self, outputs, batch):
        h = outputs["codes"]
        n_views = batch["n_views"]
        codes = sign_ste(h)
        terms = {"contrastive": contrastive_code_loss(codes, n_views, self.temperature)}
        if self.kl_weight and n_views > 1:
            views = h.chunk(n_views)
            kl = sum(
                bernoulli_kl(views[i], views[j]) + bernoulli_kl(views[j], views[i])
                for i in range(n_views)
                for j in range(i + 1, n_views)
            )
            terms["kl"] = self.kl_weight * kl / 2
        return terms


def _tiny_instance():
    """CIBHash small enough for scikit-learn's estimator checks (used by ``testing.py``)."""
    from .testing import TINY_SETTINGS

    return CIBHash(n_bits=4, **TINY_SETTINGS)
