"""DPSH: deep pairwise-supervised hashing (Li, Wang and Kang, IJCAI 2016)."""

from numbers import Real

from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseDeepHasher
from ._docs import fill_deep_doc
from ._heads import LinearHead
from ._losses import pairwise_likelihood_loss, pairwise_similarity, quantization_loss

__all__ = ["DPSH"]


@fill_deep_doc
class DPSH(BaseDeepHasher):
    """Deep pairwise-supervised hashing: pairwise likelihood and quantization.

    A backbone and a linear hash layer give real-valued codes ``u``; the codes are
    ``sign(u)``. The loss of Li et al. (2016) is the negative log-likelihood of the pairwise
    labels plus a quantization term,

    .. math:: J = -\\sum_{ij} \\big(S_{ij} \\Theta_{ij} - \\log(1 + e^{\\Theta_{ij}})\\big)
              + \\eta \\sum_i \\|\\operatorname{sign}(u_i) - u_i\\|^2,
              \\qquad \\Theta_{ij} = \\tfrac12 u_i^\\top u_j,

    with ``S_ij = 1`` when items ``i`` and ``j`` share a label (multi-label ``y`` works as
    is). Here both sums are means (over the pairs of a batch, and over its codes' entries), so
    ``quantization_weight`` is the weight of the mean squared quantization error.

    Deviations, and why:

    - pairs are formed within each batch. The paper's algorithm pairs a batch with the
      whole training set, using the codes each item got when it was last in a batch; trained
      from scratch with Adam, those stored codes lag an epoch behind the network, and on the
      digits every code collapsed to one (measured), while batch pairs train stably;
    - ``pair_weighting="balanced"`` (the default) weighs the similar and the dissimilar pairs
      of a batch equally in total, as HashNet does (Cao et al. 2017, Eq. 5); the paper's
      likelihood weighs every pair alike (``pair_weighting="uniform"``). With ten balanced
      classes about 90% of a batch's pairs are dissimilar, and the uniform likelihood is
      mostly "push apart": on 4,000 MNIST digits, 6 epochs, it reached mAP 0.53/0.70/0.60
      at 16/32/64 bits (measured), the balanced one 0.86 at 32 bits. An offset in the
      likelihood, which made DSBH's binary codes learn, does not help these real-valued ones
      (0.45-0.64, measured);
    - ``quantization_weight`` is 0.1 on means (DeepHash-pytorch's value). The authors' code
      weighs ``eta = 10`` on sums divided by ``n_batch * n_train``, which for 5,000 CIFAR-10
      training images and 32 bits is 0.064 on means;
    - the default backbone is a small CNN trained from scratch with Adam (the paper
      fine-tunes an ImageNet-pretrained CNN-F/AlexNet with SGD for 150 epochs): no pretrained
      weights exist offline, and the small net trains on small images in seconds.
      ``backbone="alexnet", pretrained="alexnet.pth"`` on 224x224 images is the paper's
      setup.

    Parameters
    ----------
    n_bits : int, default=32
        Length of the codes.
    image_shape : tuple or None, default=None
        ``(C, H, W)`` or ``(H, W)`` of flat 2-D input rows (see :class:`DSBH`).
    quantization_weight : float, default=0.1
        Weight of the quantization error (the paper's ``eta``, on means).
    pairwise_scale : float, default=0.5
        Factor of ``Theta``: 1/2 in the paper.
    pair_weighting : {"balanced", "uniform"}, default="balanced"
        "balanced": similar and dissimilar pairs weigh the same in total (HashNet's
        weighting); "uniform": every pair alike (the paper's likelihood).
    {deep_parameters}

    Attributes
    ----------
    {deep_attributes}

    References
    ----------
    W.-J. Li, S. Wang, W.-C. Kang. Feature learning based deep supervised hashing with
    pairwise labels. IJCAI 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import DPSH
    >>> X, y = load_digits(return_X_y=True)
    >>> hasher = DPSH(n_bits=16, max_epochs=2, device="cpu", random_state=0)
    >>> hasher.fit(X[:300] / 16, y[:300]).transform(X[-3:] / 16).shape
    (3, 16)
    """

    _parameter_constraints = {
        **BaseDeepHasher._parameter_constraints,
        "quantization_weight": [Interval(Real, 0, None, closed="left")],
        "pairwise_scale": [Interval(Real, 0, None, closed="neither")],
        "pair_weighting": [StrOptions({"balanced", "uniform"})],
    }

    def __init__(
        self,
        n_bits=32,
        *,
        image_shape=None,
        quantization_weight=0.1,
        pairwise_scale=0.5,
        pair_weighting="balanced",
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
        lr=3e-4,
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
        self.pairwise_scale = pairwise_scale
        self.pair_weighting = pair_weighting
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
        S = pairwise_similarity(batch["y"])
        return {
            "pairwise": pairwise_likelihood_loss(
                u,
                u,
                S,
                scale=self.pairwise_scale,
                balanced=self.pair_weighting == "balanced",
            ),
            "quantization": self.quantization_weight * quantization_loss(u),
        }


def _tiny_instance():
    """DPSH small enough for scikit-learn's estimator checks (used by ``testing.py``)."""
    from .testing import TINY_SETTINGS

    return DPSH(n_bits=4, **TINY_SETTINGS)
