"""DPHB: deep pairwise hashing with an AlexNet-style backbone and a label loss."""

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval
from torch import nn

from ._base import BaseDeepHasher
from ._docs import fill_deep_doc
from ._losses import (
    classification_loss,
    pairwise_likelihood_loss,
    pairwise_similarity,
    quantization_loss,
)


class _DPHBHead(nn.Module):
    """Hash layer relaxed by tanh, and a classifier on the relaxed codes."""

    def __init__(self, in_features, n_bits, n_classes):
        super().__init__()
        self.hash = nn.Linear(in_features, n_bits)
        self.classifier = nn.Linear(n_bits, n_classes)

    def forward(self, features):
        codes = self.hash(features)
        relaxed = torch.tanh(codes)
        return {"codes": codes, "relaxed": relaxed, "logits": self.classifier(relaxed)}


@fill_deep_doc
class DPHB(BaseDeepHasher):
    """Deep pairwise hashing: an AlexNet-style network trained with pairwise and label losses.

    The backbone is AlexNet (5 convolutions, 2 hidden fully connected layers) adapted to small
    inputs (3x3 stride-1 stem and 2x2 adaptive pooling below 64 pixels a side, the original
    11x11 stride-4 stem and 6x6 pooling above; batch-norm after every convolution), followed
    by a linear hash layer ``u`` (the third fully connected layer) relaxed by ``tanh``.
    The losses, summed, are:

    - pairwise likelihood (DPSH, Li et al. 2016) on ``tanh(u)``: ``softplus(theta) - S theta``
      with ``theta = pairwise_scale * u_i . u_j`` and ``S`` = "shares a label";
    - label loss: a linear classifier on ``tanh(u)`` (cross-entropy; BCE for multi-label);
    - quantization ``mean((|tanh(u)| - 1)^2)``, pulling the relaxed codes to the corners.

    Codes are ``sign(u)``.

    Parameters
    ----------
    n_bits : int, default=32
        Length of the codes.
    image_shape : tuple or None, default=None
        ``(C, H, W)`` or ``(H, W)`` of flat 2-D input rows (see :class:`DSBH`).
    width : float, default=0.5
        Multiplier of AlexNet's channel counts (64, 192, 384, 256, 256); 1.0 is the original.
    fc_dim : int, default=1024
        Width of the two hidden fully connected layers (4096 in the original).
    dropout : float, default=0.5
        Dropout before the hidden fully connected layers, as in AlexNet.
    pairwise_weight, label_weight, quantization_weight : float, default=1.0, 1.0, 0.1
        Loss weights.
    pairwise_scale : float or None, default=None
        ``theta`` factor; None means ``8 / n_bits``.
    {deep_parameters}

    Attributes
    ----------
    {deep_attributes}

    References
    ----------
    W.-J. Li, S. Wang, W.-C. Kang. Feature learning based deep supervised hashing with
    pairwise labels. IJCAI 2016. A. Krizhevsky, I. Sutskever, G. Hinton. ImageNet
    classification with deep convolutional neural networks. NIPS 2012.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import DPHB
    >>> X, y = load_digits(return_X_y=True)
    >>> hasher = DPHB(n_bits=16, width=0.125, fc_dim=64, max_epochs=1, device="cpu",
    ...               image_shape=(8, 8), random_state=0)
    >>> hasher.fit(X[:200] / 16, y[:200]).transform(X[:3] / 16).shape
    (3, 16)
    """

    _parameter_constraints = {
        **BaseDeepHasher._parameter_constraints,
        "width": [Interval(Real, 0, None, closed="neither")],
        "fc_dim": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "pairwise_weight": [Interval(Real, 0, None, closed="left")],
        "label_weight": [Interval(Real, 0, None, closed="left")],
        "quantization_weight": [Interval(Real, 0, None, closed="left")],
        "pairwise_scale": [None, Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        n_bits=32,
        *,
        image_shape=None,
        width=0.5,
        fc_dim=1024,
        dropout=0.5,
        pairwise_weight=1.0,
        label_weight=1.0,
        quantization_weight=0.1,
        pairwise_scale=None,
        backbone="alexnet_bn",
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
        self.width = width
        self.fc_dim = fc_dim
        self.dropout = dropout
        self.pairwise_weight = pairwise_weight
        self.label_weight = label_weight
        self.quantization_weight = quantization_weight
        self.pairwise_scale = pairwise_scale
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

    def _backbone_options(self):
        return {
            "alexnet_bn": {"width": self.width, "fc_dim": self.fc_dim, "dropout": self.dropout}
        }

    def _build_head(self, in_features, n_bits, n_classes):
        return _DPHBHead(in_features, n_bits, n_classes)

    def _loss(self, outputs, batch):
        Y, u = batch["y"], outputs["relaxed"]
        scale = 8 / self.n_bits if self.pairwise_scale is None else self.pairwise_scale
        return {
            "pairwise": self.pairwise_weight
            * pairwise_likelihood_loss(u, u, pairwise_similarity(Y), scale=scale),
            "label": self.label_weight
            * classification_loss(outputs["logits"], Y, multilabel=self._multilabel),
            "quantization": self.quantization_weight * quantization_loss(u),
        }
