"""HashNet: deep learning to hash by continuation (Cao et al., ICCV 2017)."""

from numbers import Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseDeepHasher
from ._docs import fill_deep_doc
from ._heads import StepCountingHead
from ._inputs import batch_bounds
from ._losses import pairwise_likelihood_loss, pairwise_similarity

__all__ = ["HashNet"]


@fill_deep_doc
class HashNet(BaseDeepHasher):
    """HashNet: weighted pairwise likelihood on ``tanh(beta * z)``, ``beta`` growing during
    training (continuation), so the activation tends to the sign.

    A backbone and a linear hash layer give ``z``; the codes are ``sign(z)``. Training sees
    ``h = tanh(beta_t z)`` with the continuation schedule of the authors' code,
    ``beta_t = (1 + gamma t) ** power`` after ``t`` training steps, and the loss is
    the weighted maximum likelihood of the pairwise labels (Cao et al. 2017, Eq. 5):

    .. math:: L = \\sum_{ij} w_{ij} \\big(\\log(1 + e^{\\alpha h_i^\\top h_j})
              - \\alpha S_{ij} h_i^\\top h_j\\big),
              \\qquad w_{ij} = \\frac{|S|}{|S_1|} \\text{ or } \\frac{|S|}{|S_0|}

    over the pairs of a batch, with ``alpha = 10 / n_bits`` and the weights balancing similar
    (``S_1``) against dissimilar pairs (``S_0``); ``S_ij = 1`` when the items share a label
    (:func:`~skhash.deep._losses.pairwise_likelihood_loss` with ``balanced=True``).

    The schedule is tied to the length of the fit: by default (``continuation_gamma="auto"``)
    ``gamma`` is chosen at each fit so that ``beta`` reaches ``final_beta`` (10: ``tanh`` is
    then within 0.01 of the sign for ``|z| > 0.27``) at its last step, whatever the number of
    images, epochs and the batch size. The authors' fixed ``gamma = 0.005`` (``beta`` about
    2 after 600 steps, 7 after 10,000: their fits are long) left a default fit on 4,000
    MNIST digits at ``beta = 3.2`` after 30 epochs and 1.7 after 6, still far from the sign
    that gives the codes (measured: mAP 0.88 after 6 epochs, 0.99 after 30).

    Deviations: ``beta`` grows at every step (the reference code raises it every 200 steps,
    in stages); ``gamma`` follows the fit's length (above); the multi-label weights ``c_ij`` of
    the paper are 1 (binary similarity); the default backbone is a small CNN trained from
    scratch with Adam (the paper fine-tunes an ImageNet-pretrained AlexNet;
    ``backbone="alexnet", pretrained="alexnet.pth"`` on 224x224 images is its setup). The
    network counts its training steps in ``module_.steps`` (``warm_start`` continues the
    schedule) and the ``gamma`` of the last fit is in ``continuation_gamma_``.

    Parameters
    ----------
    n_bits : int, default=32
        Length of the codes.
    image_shape : tuple or None, default=None
        ``(C, H, W)`` or ``(H, W)`` of flat 2-D input rows (see :class:`DSBH`).
    pairwise_scale : float or None, default=None
        ``alpha``; None means ``10 / n_bits`` (the paper's).
    continuation_gamma : "auto" or float, default="auto"
        ``gamma`` of the schedule ``beta_t = (1 + gamma t) ** power``; "auto" makes ``beta``
        reach ``final_beta`` at the last step of the fit; 0.005 is the authors' value;
        ``gamma = 0`` keeps ``beta = 1``.
    continuation_power : float, default=0.5
        ``power`` of the schedule.
    final_beta : float, default=10.0
        ``beta`` at the end of the fit, with ``continuation_gamma="auto"``.
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
        "continuation_gamma": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "continuation_power": [Interval(Real, 0, None, closed="left")],
        "final_beta": [Interval(Real, 1, None, closed="left")],
    }

    def __init__(
        self,
        n_bits=32,
        *,
        image_shape=None,
        pairwise_scale=None,
        continuation_gamma="auto",
        continuation_power=0.5,
        final_beta=10.0,
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
        self.pairwise_scale = pairwise_scale
        self.continuation_gamma = continuation_gamma
        self.continuation_power = continuation_power
        self.final_beta = final_beta
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
        return StepCountingHead(in_features, n_bits)

    def _train(self, module, X, Y, loss_fn, **kwargs):
        # The fit's length is known here: the steps done before (warm_start continues the
        # schedule) plus this run's epochs times its batches per epoch.
        gamma = self.continuation_gamma
        if gamma == "auto" and self.continuation_power == 0:
            gamma = 0.0  # beta is 1 whatever gamma
        elif gamma == "auto":
            n_train = len(X)
            if self.validation_fraction is not None:
                n_train -= int(round(self.validation_fraction * n_train))
            per_epoch = len(batch_bounds(max(n_train, 1), self.batch_size))
            done = sum(int(head.steps) for head in module.heads) // len(module.heads)
            total = done + kwargs.get("max_epochs", self.max_epochs) * per_epoch
            # the last step is number total - 1 (steps count those done before it)
            gamma = (self.final_beta ** (1 / self.continuation_power) - 1) / max(total - 1, 1)
        self.continuation_gamma_ = float(gamma)
        return super()._train(module, X, Y, loss_fn, **kwargs)

    def _beta(self, steps):
        gamma = getattr(self, "continuation_gamma_", self.continuation_gamma)
        if gamma == "auto":  # not fitted: the authors' value
            gamma = 0.005
        return (1 + gamma * steps) ** self.continuation_power

    def _loss(self, outputs, batch):
        h = torch.tanh(self._beta(outputs["steps"]) * outputs["codes"])
        alpha = 10 / self.n_bits if self.pairwise_scale is None else self.pairwise_scale
        S = pairwise_similarity(batch["y"])
        return {"pairwise": pairwise_likelihood_loss(h, h, S, scale=alpha, balanced=True)}


def _tiny_instance():
    """HashNet small enough for scikit-learn's estimator checks (used by ``testing.py``)."""
    from .testing import TINY_SETTINGS

    return HashNet(n_bits=4, **TINY_SETTINGS)
