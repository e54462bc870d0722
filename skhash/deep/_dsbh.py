"""DSBH: deep supervised binary hashing with a small CNN and a straight-through sign."""

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval
from torch import nn

from ._backbones import SmallCNN
from ._base import BaseDeepHasher
from ._losses import (
    bit_balance_loss,
    classification_loss,
    pairwise_likelihood_loss,
    pairwise_similarity,
    sign_ste,
)


class _DSBHNet(nn.Module):
    def __init__(self, in_channels, n_bits, n_classes, channels, hidden, dropout):
        super().__init__()
        self.backbone = SmallCNN(in_channels, channels=channels, hidden=hidden, dropout=dropout)
        self.hash = nn.Linear(hidden, n_bits)
        self.classifier = nn.Linear(n_bits, n_classes)

    def forward(self, x):
        codes = self.hash(self.backbone(x))
        relaxed = torch.tanh(codes)
        binary = sign_ste(relaxed, clip=None)
        return {
            "codes": codes,
            "relaxed": relaxed,
            "binary": binary,
            "logits": self.classifier(binary),
        }


class DSBH(BaseDeepHasher):
    """Deep supervised binary hashing: a 3-layer CNN with a straight-through sign layer.

    A small CNN (three 3x3 convolution + batch-norm + max-pool blocks and a fully connected
    layer) feeds a linear hash layer ``u``; the codes are ``b = sign(tanh(u))`` in the
    forward pass, with the straight-through estimator (identity gradient) in the backward
    pass, so the losses see the binary codes themselves. Three losses are summed:

    - pairwise likelihood (DPSH) on ``b``: ``softplus(theta) - S theta`` with
      ``theta = pairwise_scale * b_i . b_j`` and ``S`` = "shares a label";
    - classification: a linear head on ``b`` (cross-entropy; BCE for multi-label ``y``);
    - bit balance on ``tanh(u)``: each bit's batch mean should be 0.

    Parameters
    ----------
    n_bits : int, default=32
        Length of the codes.
    image_shape : tuple or None, default=None
        ``(C, H, W)`` or ``(H, W)`` of flat 2-D input rows; None reads a perfect-square
        ``d = s*s`` as one ``s x s`` channel and any other ``d`` as a ``1 x 1 x d`` strip.
    channels : tuple of 3 ints, default=(32, 64, 128)
        Channels of the three convolution blocks.
    hidden : int, default=256
        Width of the fully connected feature layer.
    dropout : float, default=0.0
        Dropout before the hash layer.
    pairwise_weight, classification_weight, balance_weight : float, default=1.0, 1.0, 0.1
        Loss weights.
    pairwise_scale : float or None, default=None
        ``theta`` factor; None means ``8 / n_bits`` (``theta`` in ``[-8, 8]``).
    augmentation : "auto", dict, Augmentation or None, default="auto"
        Training augmentation; "auto" is off below 16 pixels a side and a mild random crop
        and rotation above (see :class:`~skhash.deep.Augmentation`).
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        Where to train and encode; "auto" picks CUDA when available.
    max_epochs : int, default=30
    batch_size : int, default=64
    lr : float, default=1e-3
    weight_decay : float, default=1e-5
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
    lr_schedule : {"cosine", "step"}, callable or None, default="cosine"
        Per-epoch schedule (see :class:`~skhash.deep.LRScheduler`).
    validation_fraction : float or None, default=None
        Held-out fraction for early stopping on ``valid_loss``; None trains for all epochs.
    patience : int, default=5
        Early-stopping patience, in epochs.
    callbacks : list or None, default=None
        Extra callbacks (:class:`~skhash.deep.EarlyStopping`, ``Checkpoint``, ...).
    warm_start : bool, default=False
        Continue training the fitted network (same image shape and classes) instead of
        starting afresh; ``history_`` continues too.
    verbose : int, default=0
        1 shows a progress bar; 2 also logs every epoch (logger ``"skhash.deep"``).
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation, shuffling and augmentation (a per-fit torch generator;
        torch's global state is never touched). An int gives identical codes on CPU.
    n_jobs : int, default=None
        Threads of the Hamming search.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network, on ``device_``.
    device_ : str
        The device used.
    history_ : list of dict
        One record per epoch (``epoch``, ``train_loss``, each loss term, ``valid_loss``,
        ``lr``, ``dur``); ``pandas.DataFrame(history_)`` tabulates it.
    image_shape_ : tuple
        ``(C, H, W)`` of the training images.
    channel_mean_, channel_std_ : ndarray of shape (C,)
        Standardisation learnt at fit.
    classes_ : ndarray
        Class labels (1-D ``y`` only).
    n_features_in_ : int
        ``C * H * W``.
    index_ : HammingIndex
        The database of codes.
    database_labels_ : ndarray
        Labels of the database items.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import DSBH
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X.reshape(-1, 8, 8) / 16
    >>> hasher = DSBH(n_bits=16, max_epochs=2, device="cpu", random_state=0)
    >>> hasher.fit(X[300:], y[300:]).transform(X[:3]).shape
    (3, 16)
    """

    _parameter_constraints = {
        **BaseDeepHasher._parameter_constraints,
        "channels": [tuple, list],
        "hidden": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "pairwise_weight": [Interval(Real, 0, None, closed="left")],
        "classification_weight": [Interval(Real, 0, None, closed="left")],
        "balance_weight": [Interval(Real, 0, None, closed="left")],
        "pairwise_scale": [None, Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        n_bits=32,
        *,
        image_shape=None,
        channels=(32, 64, 128),
        hidden=256,
        dropout=0.0,
        pairwise_weight=1.0,
        classification_weight=1.0,
        balance_weight=0.1,
        pairwise_scale=None,
        augmentation="auto",
        device="auto",
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
    ):
        self.n_bits = n_bits
        self.image_shape = image_shape
        self.channels = channels
        self.hidden = hidden
        self.dropout = dropout
        self.pairwise_weight = pairwise_weight
        self.classification_weight = classification_weight
        self.balance_weight = balance_weight
        self.pairwise_scale = pairwise_scale
        self.augmentation = augmentation
        self.device = device
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

    def _build_module(self, image_shape, n_classes):
        if len(self.channels) != 3:
            raise ValueError(f"channels must hold 3 ints; got {self.channels!r}.")
        return _DSBHNet(
            image_shape[0], self.n_bits, n_classes, tuple(self.channels), self.hidden, self.dropout
        )

    def _loss(self, outputs, batch):
        Y, b = batch["y"], outputs["binary"]
        scale = 8 / self.n_bits if self.pairwise_scale is None else self.pairwise_scale
        multilabel = self._multilabel
        return {
            "pairwise": self.pairwise_weight
            * pairwise_likelihood_loss(b, b, pairwise_similarity(Y), scale=scale),
            "classification": self.classification_weight
            * classification_loss(outputs["logits"], Y, multilabel=multilabel),
            "balance": self.balance_weight * bit_balance_loss(outputs["relaxed"]),
        }
