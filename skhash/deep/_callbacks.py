"""Callbacks of the training loop, in the manner of skorch.

A callback is a small scikit-learn estimator: its constructor arguments are its parameters
(``get_params``/``set_params``/``clone`` work), and at every fit the hasher clones it, calls
:meth:`Callback.initialize` and keeps the clone in ``callbacks_``; the objects passed in
``callbacks`` are never changed. The trainer calls three hooks:

- ``on_train_begin(trainer)``: before the first epoch;
- ``on_epoch_end(trainer, record)``: after each epoch, with that epoch's ``history_`` record
  (a dict); set ``trainer.stop_training = True`` to stop;
- ``on_train_end(trainer)``: after the last epoch.

``trainer`` exposes ``module``, ``optimizer`` (with ``param_groups`` as in ``torch.optim``),
``history`` (the records so far), ``hasher``, ``max_epochs``, ``stop_training``,
``best_epoch`` and ``say(message)`` (shown when the hasher is verbose).
"""

import copy
import math

import torch
from sklearn.base import BaseEstimator

__all__ = ["Callback", "Checkpoint", "EarlyStopping", "LRScheduler"]


class Callback(BaseEstimator):
    """Base class of callbacks: every hook does nothing.

    Subclasses take their settings as keyword arguments stored under the same names (as
    scikit-learn estimators do) and keep run state in attributes set in :meth:`initialize`
    or :meth:`on_train_begin`.
    """

    def initialize(self):
        """Prepare a fresh clone for one fit; returns self."""
        return self

    def on_train_begin(self, trainer):
        pass

    def on_epoch_end(self, trainer, record):
        pass

    def on_train_end(self, trainer):
        pass


def monitored_value(record, monitor):
    """The value of ``monitor`` in an epoch record; ``"auto"`` is ``valid_loss`` when there is
    a validation split, else ``train_loss``. An absent key is an error listing the keys."""
    if monitor == "auto":
        monitor = "valid_loss" if "valid_loss" in record else "train_loss"
    if monitor not in record:
        keys = sorted(k for k in record if k not in ("epoch", "stage"))
        hint = (
            " (valid_* keys need a validation split: set validation_fraction)"
            if monitor.startswith("valid")
            else ""
        )
        raise ValueError(
            f"The monitored key {monitor!r} is not in the epoch records{hint}; available: {keys}."
        )
    return record[monitor], monitor


class EarlyStopping(Callback):
    """Stop when the monitored loss has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str, default="auto"
        Key of the history record to watch (lower is better): ``"valid_loss"``,
        ``"train_loss"`` or a loss term; ``"auto"`` is ``"valid_loss"`` when the hasher has a
        validation split (``validation_fraction``), else ``"train_loss"``. A key the records
        do not have is a ``ValueError`` listing those they have.
    patience : int, default=5
        Epochs without improvement before stopping.
    threshold : float, default=1e-4
        Relative improvement needed to count as better.
    restore_best : bool, default=True
        Load the weights of the best epoch when training ends (the hasher's ``best_epoch_``).

    Examples
    --------
    >>> from skhash.deep import EarlyStopping
    >>> EarlyStopping(patience=3).set_params(patience=2)
    EarlyStopping(patience=2)
    """

    def __init__(self, monitor="auto", patience=5, threshold=1e-4, restore_best=True):
        self.monitor = monitor
        self.patience = patience
        self.threshold = threshold
        self.restore_best = restore_best

    def on_train_begin(self, trainer):
        if self.monitor.startswith("valid") and trainer.hasher.validation_fraction is None:
            monitored_value({"train_loss": 0.0}, self.monitor)  # raises, listing the keys
        self.best_, self.best_epoch_, self._best_state, self._wait = math.inf, None, None, 0

    def on_epoch_end(self, trainer, record):
        value, name = monitored_value(record, self.monitor)
        if value < self.best_ - self.threshold * abs(self.best_ if self.best_ < math.inf else 0):
            self.best_, self.best_epoch_, self._wait = value, record["epoch"], 0
            if self.restore_best:
                self._best_state = copy.deepcopy(trainer.module.state_dict())
            return
        self._wait += 1
        if self._wait >= self.patience:
            trainer.say(
                f"early stopping at epoch {record['epoch']}: best {name} {self.best_:.5g} at "
                f"epoch {self.best_epoch_}."
            )
            trainer.stop_training = True

    def on_train_end(self, trainer):
        if self.restore_best and self._best_state is not None:
            trainer.module.load_state_dict(self._best_state)
            trainer.best_epoch = self.best_epoch_
        self._best_state = None  # the hasher holds the weights; no second copy is kept


class LRScheduler(Callback):
    """Set the learning rate at the end of every epoch from a per-epoch policy.

    Every parameter group's rate is its rate at the start of the fit times the policy's factor
    for the number of epochs done so far (as ``torch.optim.lr_scheduler.LambdaLR`` does).

    Parameters
    ----------
    policy : {"cosine", "step"} or callable, default="cosine"
        ``"cosine"``: cosine annealing to zero over the epochs of the fit, factor
        ``(1 + cos(pi * e / max_epochs)) / 2`` after ``e`` epochs (``CosineAnnealingLR``);
        ``"step"``: the rate is divided by 10 every third of the epochs (``StepLR``); a
        callable maps the number of epochs done (0, 1, ...) to the factor, e.g.
        ``lambda e: 0.9 ** e`` for exponential decay.

    Examples
    --------
    >>> from skhash.deep import LRScheduler
    >>> LRScheduler(lambda epoch: 0.5**epoch).factor(2, max_epochs=10)
    0.25
    >>> LRScheduler("cosine").factor(5, max_epochs=10)
    0.5
    """

    def __init__(self, policy="cosine"):
        self.policy = policy

    def factor(self, epoch, max_epochs):
        """The rate multiplier after ``epoch`` epochs of a fit of ``max_epochs``."""
        n = max(1, max_epochs)
        if self.policy == "cosine":
            value = (1 + math.cos(math.pi * min(epoch, n) / n)) / 2
        elif self.policy == "step":
            value = 0.1 ** (epoch // max(1, n // 3))
        elif callable(self.policy):
            value = self.policy(epoch)
        else:
            raise ValueError(
                f'LRScheduler policy must be "cosine", "step" or a callable; got {self.policy!r}.'
            )
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"The LRScheduler policy returned {value!r} for epoch {epoch}; it must return "
                "a number (the factor of the initial learning rate)."
            ) from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(
                f"The LRScheduler policy returned {value} for epoch {epoch}; the factor of the "
                "learning rate must be finite and non-negative."
            )
        return value

    def on_train_begin(self, trainer):
        self.factor(0, trainer.max_epochs)  # a bad policy fails before any training
        self._initial_lrs = [group["lr"] for group in trainer.optimizer.param_groups]
        self._epochs_done = 0

    def on_epoch_end(self, trainer, record):
        self._epochs_done += 1
        factor = self.factor(self._epochs_done, trainer.max_epochs)
        for group, lr in zip(trainer.optimizer.param_groups, self._initial_lrs, strict=True):
            group["lr"] = lr * factor

    def on_train_end(self, trainer):
        self._initial_lrs = None


class Checkpoint(Callback):
    """Save the module's ``state_dict`` (on CPU) whenever the monitored loss improves.

    Parameters
    ----------
    path : str or path-like, default=None
        File to write with :func:`torch.save`; None keeps the best state in memory only
        (``best_state_``, dropped when the hasher is pickled: the pickle holds the fitted
        network once).
    monitor : str, default="auto"
        As in :class:`EarlyStopping`.

    Attributes
    ----------
    best_epoch_ : int
        The epoch of the saved state.
    best_state_ : dict
        The best ``state_dict`` (CPU tensors), while in memory.
    """

    def __init__(self, path=None, monitor="auto"):
        self.path = path
        self.monitor = monitor

    def on_train_begin(self, trainer):
        self._best = math.inf

    def on_epoch_end(self, trainer, record):
        value, _ = monitored_value(record, self.monitor)
        if value < self._best:
            self._best = value
            state = {
                k: v.detach().to("cpu", copy=True) for k, v in trainer.module.state_dict().items()
            }
            self.best_state_ = state
            self.best_epoch_ = record["epoch"]
            if self.path is not None:
                torch.save(state, self.path)

    def __getstate__(self):
        state = super().__getstate__().copy()
        state.pop("best_state_", None)
        return state
