"""The trainer's optimizers: Adam, AdamW and SGD with momentum, on torch's foreach operations.

Why not :mod:`torch.optim`: building any ``torch.optim.Optimizer`` imports ``torch._dynamo``
(with sympy): 66 MB of resident memory and about a second, in a process that may never
compile anything, and the heap that import leaves behind fragments around the training
step's tensors. Fitting DSBH for one epoch on 2,000 PNG files peaked at 741-764 MB of RSS with
``torch.optim.Adam`` and at 613-634 MB with :class:`Adam` here (same batches, same updates;
``benchmarks/deep_streaming.py`` has the figures at 12,000 and 50,000 images).

The update rules are the published ones with ``torch.optim``'s defaults, so results match a
plain PyTorch loop (a test checks every rule against ``torch.optim`` step by step):

- :class:`Adam` (Kingma and Ba, 2015), betas (0.9, 0.999), eps 1e-8, bias-corrected moments,
  ``weight_decay`` added to the gradient (L2);
- :class:`AdamW` (Loshchilov and Hutter, 2019): the same moments, weight decay decoupled (the
  parameters shrink by ``lr * weight_decay`` before the step);
- :class:`SGD`: momentum 0.9 (no dampening), ``weight_decay`` added to the gradient.

The optimizers expose what callbacks and :class:`torch.amp.GradScaler` read:
``param_groups`` (dicts with ``"params"`` and ``"lr"``: set ``group["lr"]`` to change the rate),
``zero_grad`` and ``step``. Parameters without a gradient at a step are skipped (their moment
estimates and step count stay), as in ``torch.optim``.
"""

import torch

__all__ = ["SGD", "Adam", "AdamW", "make_optimizer"]


class _Optimizer:
    """Parameter groups, per-parameter state and the step loop shared by the optimizers.

    Parameters
    ----------
    param_groups : list of dict
        Each with ``"params"`` (a list of tensors) and optionally ``"lr"``.
    lr : float
        The rate of groups without their own ``"lr"``.
    weight_decay : float, default=0.0
    """

    def __init__(self, param_groups, lr, weight_decay=0.0):
        self.param_groups = []
        for group in param_groups:
            params = list(group["params"])
            if any(p.is_sparse for p in params):
                raise TypeError("sparse parameters are not supported.")
            self.param_groups.append(
                {
                    **group,
                    "params": params,
                    "lr": group.get("lr", lr),
                    "weight_decay": weight_decay,
                }
            )
        self.state = {}

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_().zero_()

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._update(params, [p.grad for p in params], group)

    def _update(self, params, grads, group):
        raise NotImplementedError


class Adam(_Optimizer):
    """Adam with L2 weight decay (the gradient gets ``weight_decay * param``)."""

    betas = (0.9, 0.999)
    eps = 1e-8
    decoupled = False

    def _update(self, params, grads, group):
        beta1, beta2 = self.betas
        lr, decay = group["lr"], group["weight_decay"]
        states = [self._state(p) for p in params]
        for s in states:
            s["step"] += 1
        if decay and self.decoupled:
            torch._foreach_mul_(params, 1 - lr * decay)
        elif decay:
            grads = torch._foreach_add(grads, params, alpha=decay)
        means = [s["mean"] for s in states]
        squares = [s["square"] for s in states]
        torch._foreach_lerp_(means, grads, 1 - beta1)
        torch._foreach_mul_(squares, beta2)
        torch._foreach_addcmul_(squares, grads, grads, 1 - beta2)
        # bias corrections per parameter: a parameter skipped at some steps has fewer
        denom = torch._foreach_sqrt(squares)
        torch._foreach_div_(denom, [(1 - beta2 ** s["step"]) ** 0.5 for s in states])
        torch._foreach_add_(denom, self.eps)
        step_sizes = [-lr / (1 - beta1 ** s["step"]) for s in states]
        torch._foreach_addcdiv_(params, means, denom, step_sizes)

    def _state(self, p):
        if p not in self.state:
            self.state[p] = {
                "step": 0,
                "mean": torch.zeros_like(p, memory_format=torch.preserve_format),
                "square": torch.zeros_like(p, memory_format=torch.preserve_format),
            }
        return self.state[p]


class AdamW(Adam):
    """Adam with decoupled weight decay."""

    decoupled = True


class SGD(_Optimizer):
    """Stochastic gradient descent with momentum 0.9 and L2 weight decay."""

    momentum = 0.9

    def _update(self, params, grads, group):
        lr, decay = group["lr"], group["weight_decay"]
        if decay:
            grads = torch._foreach_add(grads, params, alpha=decay)
        buffers = []
        for p, g in zip(params, grads, strict=True):
            state = self.state.get(p)
            if state is None:  # the first step's buffer is the gradient itself
                self.state[p] = state = {"momentum": torch.clone(g).detach()}
            else:
                state["momentum"].mul_(self.momentum).add_(g)
            buffers.append(state["momentum"])
        torch._foreach_add_(params, buffers, alpha=-lr)


OPTIMIZERS = {"adam": Adam, "adamw": AdamW, "sgd": SGD}


def make_optimizer(name, param_groups, lr, weight_decay):
    """The optimizer ``name`` over ``param_groups`` (each with an ``lr_scale``: its rate is
    ``lr * lr_scale``); groups without parameters are left out."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}; got {name!r}.")
    groups = [
        {"params": list(g["params"]), "lr": lr * g.get("lr_scale", 1.0)}
        for g in param_groups
        if g["params"]
    ]
    return OPTIMIZERS[name](groups, lr, weight_decay)
