"""The one training loop shared by every deep hasher, and batched prediction.

Batches come from the input's :class:`~skhash.deep._inputs.ImageSource` through a
``DataLoader`` whose batch order is drawn from the per-fit :class:`torch.Generator`;
augmentation draws from the fit's device generator, in the main process, so results do not
depend on ``num_workers``. Nothing here seeds or reads torch's global random state.

On CUDA the forward pass runs under automatic mixed precision (bfloat16 where supported, else
float16 with a gradient scaler); the losses are computed in float32. Loss sums stay on the
device and are read once per epoch, so the loop adds no synchronisation to a plain PyTorch
loop over the same batches.
"""

import copy
import time

import numpy as np
import torch
from sklearn.base import clone

from ..utils.progress import progress_bar
from ._callbacks import EarlyStopping, LRScheduler
from ._device import autocast_dtype
from ._optim import make_optimizer

__all__ = ["Trainer", "predict_batches"]


def clone_callback(callback):
    """A fresh copy of a callback for one fit (the user's object is never changed)."""
    if hasattr(callback, "get_params"):
        cloned = clone(callback)
    else:
        cloned = copy.deepcopy(callback)
    initialize = getattr(cloned, "initialize", None)
    return initialize() if callable(initialize) else cloned


class Trainer:
    """Fit a module by minimising the sum of the loss terms it returns.

    Parameters
    ----------
    hasher : BaseDeepHasher
        Supplies the settings (``batch_size``, ``lr``, ``weight_decay``, ``optimizer``,
        ``lr_schedule``, ``validation_fraction``, ``patience``, ``callbacks``, ``verbose``,
        ``num_workers``, ``precision``), ``device_``, the generators and the preprocessing.
    module : torch.nn.Module
        Already on ``hasher.device_``; its ``forward(x)`` returns a dict of tensors.
    loss_fn : callable
        ``loss_fn(outputs, batch) -> dict`` of scalar loss terms, summed for the gradient.
        ``batch`` is a dict with ``"x"`` (network input on the device), ``"y"`` (targets on
        the device or None), ``"index"`` (positions in the training set, on CPU) and
        ``"n_views"``.

    Notes
    -----
    A method that learns from several views of each image (contrastive, cross-view
    hashing) sets the class attribute ``n_views`` (2 for a pair). Each training batch of
    ``m`` images is then augmented ``n_views`` times, independently, and the network sees
    the ``n_views * m`` views stacked view by view: ``outputs[k][v * m:(v + 1) * m]`` are
    those of view ``v``, and ``batch["x"]`` holds them all (``batch["y"]`` and
    ``batch["index"]`` stay per image). Batch normalisation sees every view. Without
    augmentation (validation batches) the views are the same image.
    max_epochs : int, default=None
        Epochs of this run; ``hasher.max_epochs`` when None.
    param_groups : list of dict, default=None
        ``{"params": [...], "lr_scale": float}`` groups to optimise (all of ``module``'s
        parameters at ``lr`` when None): a smaller rate for a pretrained backbone, or a subset
        for layer-wise pre-training.
    stage : str, default=None
        Written into every history record (e.g. ``"pretrain-1"``).

    Attributes
    ----------
    callbacks : list
        The callbacks of this run (fresh clones of the hasher's, after the built-in ones).
    best_epoch : int or None
        The epoch whose weights were kept (early stopping), else the last one.
    initial_loss : float or None
        The loss of the first training batch, before any update (to detect divergence).
    """

    def __init__(self, hasher, module, loss_fn, *, max_epochs=None, param_groups=None, stage=None):
        self.hasher = hasher
        self.module = module
        self.loss_fn = loss_fn
        self.max_epochs = hasher.max_epochs if max_epochs is None else max_epochs
        if param_groups is None:
            param_groups = [{"params": [p for p in module.parameters() if p.requires_grad]}]
        self.param_groups = param_groups
        self.stage = stage
        self.device = torch.device(hasher.device_)
        self.stop_training = False
        self.best_epoch = None
        self.initial_loss = None
        self.epoch = None
        self.callbacks = self._make_callbacks()

    def _make_callbacks(self):
        h = self.hasher
        built_in = []
        if h.lr_schedule is not None:
            built_in.append(LRScheduler(h.lr_schedule))
        if h.validation_fraction is not None:
            built_in.append(EarlyStopping(patience=h.patience))
        return [clone_callback(cb) for cb in built_in + list(h.callbacks or [])]

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

    def _loader(self, source, indices, generator):
        h = self.hasher
        return source.batches(
            h.batch_size,
            indices=indices,
            generator=generator,
            num_workers=h.num_workers,
            pin_memory=self.device.type == "cuda",
        )

    def _run_epoch(self, loader, targets, *, train, bar=None):
        h = self.hasher
        self.module.train(train)
        device_generator = h._device_generator if train else None
        sums, names, count = None, None, 0
        n_views = int(getattr(h, "n_views", 1))
        for images, index in loader:
            views = [
                h._preprocessing(images, self.device, generator=device_generator)
                for _ in range(n_views)
            ]
            x = views[0] if n_views == 1 else torch.cat(views)
            y = None if targets is None else targets[index].to(self.device, non_blocking=True)
            batch = {"x": x, "y": y, "index": index, "n_views": n_views}
            with torch.set_grad_enabled(train):
                with torch.autocast(self.device.type, self.amp_dtype, enabled=self.amp):
                    raw = self.module(x)
                outputs = {
                    k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v
                    for k, v in raw.items()
                }
                try:
                    terms = self.loss_fn(outputs, batch)
                except RuntimeError:
                    # a loss that checks its input (binary cross-entropy wants [0, 1]) fails
                    # on nan outputs before the epoch's loss can show nan: say why
                    if train and _not_finite(outputs):
                        raise self._diverged(float("nan")) from None
                    raise
                loss = sum(terms.values())
            if train:
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
            if train and self.initial_loss is None:  # before any update: the untrained loss
                self.initial_loss = float(loss.detach())
            size = len(index)
            values = torch.stack([loss.detach(), *(t.detach() for t in terms.values())]) * size
            sums = values if sums is None else sums + values
            names = names or ["loss", *terms]
            count += size
            if bar is not None:
                bar.update(1)
        means = (sums / count).tolist()
        return dict(zip(names, means, strict=True))

    def fit(self, source, targets, history):
        """Train on ``source`` (an ImageSource) with ``targets`` (a CPU tensor or None),
        appending one record per epoch to ``history`` (continued under ``warm_start``).
        Returns ``history``."""
        h = self.hasher
        self.optimizer = make_optimizer(h.optimizer, self.param_groups, h.lr, h.weight_decay)
        self.amp_dtype = autocast_dtype(h.precision, self.device)
        self.amp = self.amp_dtype is not None
        use_scaler = self.amp_dtype == torch.float16
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=use_scaler)
        self.history = history
        train_idx, valid_idx = self._split(len(source), h._generator)
        train_loader = self._loader(source, train_idx, h._generator)
        valid_loader = None if valid_idx is None else self._loader(source, valid_idx, None)
        for cb in self.callbacks:
            cb.on_train_begin(self)
        first = history[-1]["epoch"] + 1 if history else 1
        bar = None
        if h.verbose:
            bar = progress_bar(
                total=self.max_epochs * len(train_loader.batch_sampler),
                desc=type(h).__name__ + (f" {self.stage}" if self.stage else ""),
                unit="batch",
                leave=h.verbose > 1,
            )
        try:
            for epoch in range(first, first + self.max_epochs):
                self.epoch = epoch
                tic = time.perf_counter()
                lr = self.optimizer.param_groups[-1]["lr"]
                train = self._run_epoch(train_loader, targets, train=True, bar=bar)
                record = {"epoch": epoch, "train_loss": train.pop("loss"), **train}
                if valid_loader is not None:
                    with torch.inference_mode():
                        valid = self._run_epoch(valid_loader, targets, train=False)
                    record["valid_loss"] = valid["loss"]
                record["lr"] = lr
                if self.stage is not None:
                    record["stage"] = self.stage
                record["dur"] = time.perf_counter() - tic
                if not np.isfinite(record["train_loss"]):
                    raise self._diverged(record["train_loss"])
                history.append(record)
                if bar is not None:
                    bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if "loss" in k})
                    if h.verbose > 1:
                        bar.write(_format_record(type(h).__name__, record))
                for cb in self.callbacks:
                    cb.on_epoch_end(self, record)
                if self.stop_training:
                    break
            for cb in self.callbacks:
                cb.on_train_end(self)
        finally:
            if bar is not None:
                bar.close()
            self.module.eval()
            self.optimizer = self.scaler = None
        if self.best_epoch is None and history:
            self.best_epoch = history[-1]["epoch"]
        return history

    def _diverged(self, loss):
        return FloatingPointError(
            f"The training loss became {loss} at epoch {self.epoch}: lower lr (now "
            f"{self.hasher.lr})."
        )

    def say(self, message):
        """Show a message to the user when the hasher is verbose (early stopping...)."""
        if self.hasher.verbose:
            from tqdm import tqdm

            tqdm.write(f"{type(self.hasher).__name__}: {message}")


def _not_finite(outputs):
    """Whether any floating-point tensor among the network's outputs (a dict, with lists of
    dicts for multi-level networks) holds nan or inf."""
    if torch.is_tensor(outputs):
        return outputs.is_floating_point() and not bool(torch.isfinite(outputs).all())
    if isinstance(outputs, dict):
        outputs = outputs.values()
    elif not isinstance(outputs, (list, tuple)):
        return False
    return any(_not_finite(v) for v in outputs)


def _format_record(name, record):
    parts = [f"epoch {record['epoch']}"]
    parts += [f"{k} {v:.4g}" for k, v in record.items() if "loss" in k or k in ("lr", "dur")]
    return f"{name}: " + ", ".join(parts)


def predict_batches(module, source, preprocessing, *, device, batch_size, keys, num_workers=0):
    """Run ``module`` over ``source`` in order, in eval mode under inference mode, in float32;
    yields ``{key: ndarray}`` of the requested outputs for each batch."""
    module.eval()
    device = torch.device(device)
    loader = source.batches(batch_size, num_workers=num_workers, pin_memory=device.type == "cuda")
    with torch.inference_mode():
        for images, _ in loader:
            out = module(preprocessing(images, device))
            yield {k: out[k].float().cpu().numpy() for k in keys}
