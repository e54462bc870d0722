"""Callbacks of the training loop, in the manner of skorch.

A callback is any object with some of these methods; the trainer calls those it has:

- ``on_train_begin(trainer)``: before the first epoch (reset state here, as callbacks are
  reused across fits);
- ``on_epoch_end(trainer, record)``: after each epoch, with that epoch's ``history_`` record
  (a dict); set ``trainer.stop_training = True`` to stop;
- ``on_train_end(trainer)``: after the last epoch.

``trainer`` exposes ``module``, ``optimizer``, ``history`` (the records so far), ``hasher``
and ``stop_training``.
"""

import copy
import logging
import math

import torch

__all__ = ["Callback", "Checkpoint", "EarlyStopping", "LRScheduler"]

logger = logging.getLogger("skhash.deep")


class Callback:
    """Base class of callbacks: every hook does nothing."""

    def on_train_begin(self, trainer):
        pass

    def on_epoch_end(self, trainer, record):
        pass

    def on_train_end(self, trainer):
        pass

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"


def _monitored(record, monitor):
    if monitor in record:
        return record[monitor]
    return record["train_loss"]


class EarlyStopping(Callback):
    """Stop when the monitored loss has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str, default="valid_loss"
        Key of the history record to watch; falls back to ``"train_loss"`` when absent
        (no validation split).
    patience : int, default=5
        Epochs without improvement before stopping.
    threshold : float, default=1e-4
        Relative improvement needed to count as better.
    restore_best : bool, default=True
        Load the weights of the best epoch when training ends.
    """

    def __init__(self, monitor="valid_loss", patience=5, threshold=1e-4, restore_best=True):
        self.monitor = monitor
        self.patience = patience
        self.threshold = threshold
        self.restore_best = restore_best

    def on_train_begin(self, trainer):
        self._best, self._best_epoch, self._best_state, self._wait = math.inf, None, None, 0

    def on_epoch_end(self, trainer, record):
        value = _monitored(record, self.monitor)
        if value < self._best - self.threshold * abs(self._best if self._best < math.inf else 0):
            self._best, self._best_epoch, self._wait = value, record["epoch"], 0
            if self.restore_best:
                self._best_state = copy.deepcopy(trainer.module.state_dict())
            return
        self._wait += 1
        if self._wait >= self.patience:
            logger.info(
                "Early stopping at epoch %d: best %s %.5f at epoch %d.",
                record["epoch"],
                self.monitor,
                self._best,
                self._best_epoch,
            )
            trainer.stop_training = True

    def on_train_end(self, trainer):
        if self.restore_best and self._best_state is not None:
            trainer.module.load_state_dict(self._best_state)
            trainer.best_epoch = self._best_epoch


class LRScheduler(Callback):
    """Step a :mod:`torch.optim.lr_scheduler` policy at the end of every epoch.

    Parameters
    ----------
    policy : {"cosine", "step"} or callable, default="cosine"
        ``"cosine"``: cosine annealing over the epochs of the fit; ``"step"``: the rate is
        divided by 10 every third of the epochs; a callable receives the optimizer and returns
        a scheduler (e.g. ``functools.partial(torch.optim.lr_scheduler.ExponentialLR,
        gamma=0.9)``).
    """

    def __init__(self, policy="cosine"):
        self.policy = policy

    def on_train_begin(self, trainer):
        n = max(1, trainer.max_epochs)
        if self.policy == "cosine":
            self._scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
                trainer.optimizer, T_max=n
            )
        elif self.policy == "step":
            self._scheduler = torch.optim.lr_scheduler.StepLR(
                trainer.optimizer, step_size=max(1, n // 3), gamma=0.1
            )
        elif callable(self.policy):
            self._scheduler = self.policy(trainer.optimizer)
        else:
            raise ValueError(
                f'LRScheduler policy must be "cosine", "step" or a callable; got {self.policy!r}.'
            )

    def on_epoch_end(self, trainer, record):
        self._scheduler.step()

    def on_train_end(self, trainer):
        self._scheduler = None


class Checkpoint(Callback):
    """Save the module's ``state_dict`` (on CPU) whenever the monitored loss improves.

    Parameters
    ----------
    path : str or path-like, default=None
        File to write with :func:`torch.save`; None keeps the best state in memory only
        (as ``best_state_``).
    monitor : str, default="valid_loss"
        As in :class:`EarlyStopping`.
    """

    def __init__(self, path=None, monitor="valid_loss"):
        self.path = path
        self.monitor = monitor

    def on_train_begin(self, trainer):
        self._best = math.inf

    def on_epoch_end(self, trainer, record):
        value = _monitored(record, self.monitor)
        if value < self._best:
            self._best = value
            state = {
                k: v.detach().to("cpu", copy=True) for k, v in trainer.module.state_dict().items()
            }
            self.best_state_ = state
            self.best_epoch_ = record["epoch"]
            if self.path is not None:
                torch.save(state, self.path)
