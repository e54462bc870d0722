"""The one training loop shared by every deep hasher.

It is DataLoader-free: the (standardised) training images stay in one CPU tensor, each epoch
draws a permutation from a per-fit :class:`torch.Generator`, and batches are moved to the
device as they are used. Nothing here seeds or reads torch's global random state: shuffling,
the validation split, augmentation and dropout all draw from the generators the hasher passes
in, so a fixed ``random_state`` gives identical weights on CPU.
"""

import logging
import time

import numpy as np
import torch

from ..utils.progress import progress_bar
from ._callbacks import EarlyStopping, LRScheduler

__all__ = ["Trainer", "predict_outputs"]

logger = logging.getLogger("skhash.deep")


def _batches(n, batch_size):
    """Batch boundaries over ``n`` items; a last batch of one item joins the previous one
    (batch normalisation cannot train on a single item)."""
    edges = list(range(0, n, batch_size)) + [n]
    if len(edges) > 2 and edges[-1] - edges[-2] == 1:
        del edges[-2]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _make_optimizer(name, parameters, lr, weight_decay):
    if name == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=0.9, weight_decay=weight_decay)
    raise ValueError(f'optimizer must be "adam", "adamw" or "sgd"; got {name!r}.')


class Trainer:
    """Fit a module by minimising the sum of the loss terms it returns.

    Parameters
    ----------
    hasher : BaseDeepHasher
        Supplies the settings (``batch_size``, ``lr``, ``weight_decay``, ``optimizer``,
        ``lr_schedule``, ``validation_fraction``, ``patience``, ``callbacks``, ``verbose``),
        ``device_`` and the generators.
    module : torch.nn.Module
        Already on ``hasher.device_``; its ``forward(x)`` returns a dict of tensors.
    loss_fn : callable
        ``loss_fn(outputs, batch) -> dict`` of scalar loss terms, summed for the gradient.
        ``batch`` is a dict with ``"x"`` (images on the device), ``"y"`` (targets on the device
        or None) and ``"index"`` (positions in the training set, on CPU).
    max_epochs : int, default=None
        Epochs of this run; ``hasher.max_epochs`` when None.
    parameters : iterable of Parameter, default=None
        What to optimise (all of ``module``'s when None): greedy layer-wise pre-training
        passes a subset.
    augment : callable, default=None
        ``augment(x, generator) -> x`` applied to training batches.
    stage : str, default=None
        Written into every history record (e.g. ``"pretrain-1"``).
    """

    def __init__(
        self,
        hasher,
        module,
        loss_fn,
        *,
        max_epochs=None,
        parameters=None,
        augment=None,
        stage=None,
    ):
        self.hasher = hasher
        self.module = module
        self.loss_fn = loss_fn
        self.max_epochs = hasher.max_epochs if max_epochs is None else max_epochs
        self.parameters = list(module.parameters() if parameters is None else parameters)
        self.augment = augment
        self.stage = stage
        self.device = torch.device(hasher.device_)
        self.stop_training = False
        self.best_epoch = None

    def _callbacks(self):
        h = self.hasher
        callbacks = []
        if h.lr_schedule is not None:
            callbacks.append(LRScheduler(h.lr_schedule))
        if h.validation_fraction is not None:
            callbacks.append(EarlyStopping(patience=h.patience))
        return callbacks + list(h.callbacks or [])

    def _split(self, n, generator):
        fraction = self.hasher.validation_fraction
        if fraction is None:
            return torch.arange(n), None
        n_valid = int(round(fraction * n))
        if n_valid < 2 or n - n_valid < 2:
            raise ValueError(
                f"validation_fraction={fraction} leaves {n_valid} validation and {n - n_valid} "
                "training samples; both need at least 2."
            )
        perm = torch.randperm(n, generator=generator)
        return perm[n_valid:].sort().values, perm[:n_valid].sort().values

    def _batch(self, X, Y, index):
        x = X[index].to(self.device, non_blocking=True)
        y = None if Y is None else Y[index].to(self.device, non_blocking=True)
        return {"x": x, "y": y, "index": index}

    def _run_epoch(self, X, Y, index, *, train, generator):
        h = self.hasher
        if train:
            index = index[torch.randperm(len(index), generator=generator)]
        self.module.train(train)
        totals, count = {}, 0
        for start, stop in _batches(len(index), h.batch_size):
            batch = self._batch(X, Y, index[start:stop])
            if train and self.augment is not None:
                batch["x"] = self.augment(batch["x"], h._device_generator)
            with torch.set_grad_enabled(train):
                terms = self.loss_fn(self.module(batch["x"]), batch)
                loss = sum(terms.values())
            if train:
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"The training loss became {loss.item()}: lower lr (now {h.lr})."
                    )
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
            size = stop - start
            count += size
            for name, value in {"loss": loss, **terms}.items():
                totals[name] = totals.get(name, 0.0) + float(value.detach()) * size
        return {name: value / count for name, value in totals.items()}

    def fit(self, X, Y, history):
        """Train on ``X`` (CPU tensor ``(n, C, H, W)``) and targets ``Y``, appending epoch
        records to ``history`` (a list, continued under ``warm_start``). Returns ``history``."""
        h = self.hasher
        generator = h._generator
        self.optimizer = _make_optimizer(h.optimizer, self.parameters, h.lr, h.weight_decay)
        self.history = history
        train_idx, valid_idx = self._split(len(X), generator)
        callbacks = self._callbacks()
        for cb in callbacks:
            getattr(cb, "on_train_begin", lambda t: None)(self)
        first = history[-1]["epoch"] + 1 if history else 1
        epochs = range(first, first + self.max_epochs)
        if h.verbose:
            epochs = progress_bar(epochs, desc=type(h).__name__, unit="epoch", leave=h.verbose > 1)
        for epoch in epochs:
            tic = time.perf_counter()
            lr = self.optimizer.param_groups[0]["lr"]
            train = self._run_epoch(X, Y, train_idx, train=True, generator=generator)
            record = {"epoch": epoch, "train_loss": train.pop("loss"), **train}
            if valid_idx is not None:
                with torch.inference_mode():
                    valid = self._run_epoch(X, Y, valid_idx, train=False, generator=generator)
                record["valid_loss"] = valid["loss"]
            record["lr"] = lr
            if self.stage is not None:
                record["stage"] = self.stage
            record["dur"] = time.perf_counter() - tic
            history.append(record)
            if h.verbose:
                epochs.set_postfix({k: f"{v:.4g}" for k, v in record.items() if "loss" in k})
                if h.verbose > 1:
                    logger.info("%s", record)
            for cb in callbacks:
                getattr(cb, "on_epoch_end", lambda t, r: None)(self, record)
            if self.stop_training:
                break
        for cb in callbacks:
            getattr(cb, "on_train_end", lambda t: None)(self)
        if h.verbose:
            epochs.close()
        self.module.eval()
        self.optimizer = None
        return history


def predict_outputs(module, X, *, device, batch_size, keys=("codes",)):
    """Run ``module`` over ``X`` (CPU tensor) in batches, in eval mode, under
    :func:`torch.inference_mode`; returns ``{key: ndarray}`` for the requested outputs."""
    module.eval()
    device = torch.device(device)
    chunks = {k: [] for k in keys}
    with torch.inference_mode():
        for start in range(0, len(X), batch_size):
            out = module(X[start : start + batch_size].to(device))
            for k in keys:
                chunks[k].append(out[k].float().cpu().numpy())
    return {k: np.concatenate(v) if v else np.empty((0,)) for k, v in chunks.items()}
