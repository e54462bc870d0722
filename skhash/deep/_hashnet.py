"""HashNet: deep learning to hash by continuation (Cao et al., ICCV 2017)."""

from numbers import Real

import torch
from sklearn.utils._param_validation import Interval

from ._base import BaseDeepHasher
from ._docs import fill_deep_doc
from ._heads import StepCountingHead
from ._losses import pairwise_likelihood_loss, pairwise_similarity

__all__ = ["HashNet"]


@fill_deep_doc
class HashNet(BaseDeepHasher):
    """HashNet: weighted pairwise likelihood on ``tanh(beta * z)``, ``beta`` growing during
    training (continuation), so the activation tends to the sign.

    A backbone and a linear hash layer give ``z``; the codes are ``sign(z)``. Training sees
    ``h = tanh(beta_t z)`` with the continuation schedule of the authors' code,
    ``beta_t = (1 + gamma t) ** power`` after ``t`` training steps (``gamma = 0.005``,
    ``power = 0.5``: ``beta`` is about 2 after 600 steps and 7 after 10,000), and the loss is
    the weighted maximum likelihood of the pairwise labels (Cao et al. 2017, Eq. 5):

    .. math:: L = \\sum_{ij} w_{ij} \\big(\\log(1 + e^{\\alpha h_i^\\top h_j})
              - \\alpha S_{ij} h_i^\\top h_j\\big),
              \\qquad w_{ij} = \\frac{|S|}{|S_1|} \\text{ or } \\frac{|S|}{|S_0|}

    over the pairs of a batch, with ``alpha = 10 / n_bits`` and the weights balancing similar
    (``S_1``) against dissimilar pairs (``S_0``); ``S_ij = 1`` when the items share a label
    (:func:`~skhash.deep._losses.pairwise_likelihood_loss` with ``balanced=True``).

    Deviations: ``beta`` grows at every step (the reference code raises it every 200 steps,
    in stages); the multi-label weights ``c_ij`` of the paper are 1 (binary similarity); the
    default backbone is a small CNN trained from scratch with Adam (the paper fine-tunes an
    ImageNet-pretrained AlexNet; ``backbone="alexnet", pretrained="alexnet.pth"`` on 224x224
    images is its setup). The network counts its training steps in ``module_.steps``
    (``warm_start`` continues the schedule).

    Parameters
    ----------
    n_bits : int, default=32
        Length of the codes.
    image_shape : tuple or None, default=None
        ``(C, H, W)`` or ``(H, W)`` of flat 2-D input rows (see :class:`DSBH`).
    pairwise_scale : float or None, default=None
        ``alpha``; None means ``10 / n_bits`` (the paper's).
    continuation_gamma, continuation_power : float, default=0.005, 0.5
        The schedule ``beta_t = (1 + gamma t) ** power``; ``gamma = 0`` keeps ``beta = 1``.
    {deep_parameters}

    Attributes
    ----------
    {deep_attributes}

    References
    ----------
    Z. Cao, M. Long, J. Wang, P. S. Yu. HashNet: deep learning to hash by continuation.
    ICCV 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import HashNet
    >>> X, y = load_digits(return_X_y=True)
    >>> hasher = HashNet(n_bits=16, max_epochs=2, device="cpu", random_state=0)
    >>> hasher.fit(X[:300] / 16, y[:300]).transform(X[-3:] / 16).shape
    (3, 16)
    """

    _parameter_constraints = {
        **BaseDeepHasher._parameter_constraints,
        "pairwise_scale": [None, Interval(Real, 0, None, closed="neither")],
        "continuation_gamma": [Interval(Real, 0, None, closed="left")],
        "continuation_power": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_bits=32,
        *,
        image_shape=None,
        pairwise_scale=None,
        continuation_gamma=0.005,
        continuation_power=0.5,
        backbone="small_cnn",
        pretrained=None,
        backbone_lr_scale="auto",
        freeze_backbone=False,
        levels=None,
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
        self.pairwise_scale = pairwise_scale
        self.continuation_gamma = continuation_gamma
        self.continuation_power = continuation_power
        self.backbone = backbone
        self.pretrained = pretrained
        self.backbone_lr_scale = backbone_lr_scale
        self.freeze_backbone = freeze_backbone
        self.levels = levels
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
        return StepCountingHead(in_features, n_bits)

    def _beta(self, steps):
        return (1 + self.continuation_gamma * steps) ** self.continuation_power

    def _loss(self, outputs, batch):
        h = torch.tanh(self._beta(outputs["steps"]) * outputs["codes"])
        alpha = 10 / self.n_bits if self.pairwise_scale is None else self.pairwise_scale
        S = pairwise_similarity(batch["y"])
        return {"pairwise": pairwise_likelihood_loss(h, h, S, scale=alpha, balanced=True)}


def _tiny_instance():
    """HashNet small enough for scikit-learn's estimator checks (used by ``testing.py``)."""
    from .testing import TINY_SETTINGS

    return HashNet(n_bits=4, **TINY_SETTINGS)
