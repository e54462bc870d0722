"""The trainer's own optimizers and learning-rate policies, checked against torch.optim."""

import math
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skhash.deep import DSBH, LRScheduler  # noqa: E402
from skhash.deep._optim import make_optimizer  # noqa: E402

REFERENCE = {
    "adam": lambda groups, wd: torch.optim.Adam(groups, lr=1e-2, weight_decay=wd, foreach=False),
    "adamw": lambda groups, wd: torch.optim.AdamW(groups, lr=1e-2, weight_decay=wd, foreach=False),
    "sgd": lambda groups, wd: torch.optim.SGD(
        groups, lr=1e-2, momentum=0.9, weight_decay=wd, foreach=False
    ),
}


def make_params(seed):
    gen = torch.Generator().manual_seed(seed)
    shapes = [(3, 4), (4,), (2, 3, 3, 3), (5,)]
    return [torch.randn(s, generator=gen).requires_grad_() for s in shapes]


def set_grads(params, step, skip):
    gen = torch.Generator().manual_seed(100 + step)
    for i, p in enumerate(params):
        p.grad = None if (i, step) in skip else torch.randn(p.shape, generator=gen)


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_updates_equal_torch_optim(name, weight_decay):
    ours, theirs = make_params(0), make_params(0)
    # two groups at different rates; parameter 1 has no gradient at steps 2 and 3
    mine = make_optimizer(
        name,
        [{"params": ours[:2]}, {"params": ours[2:], "lr_scale": 0.1}],
        1e-2,
        weight_decay,
    )
    reference = REFERENCE[name](
        [{"params": theirs[:2]}, {"params": theirs[2:], "lr": 1e-3}], weight_decay
    )
    skip = {(1, 2), (1, 3)}
    for step in range(6):
        set_grads(ours, step, skip)
        set_grads(theirs, step, skip)
        mine.step()
        reference.step()
        for a, b in zip(ours, theirs, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    assert [g["lr"] for g in mine.param_groups] == pytest.approx([1e-2, 1e-3])


def test_zero_grad():
    params = make_params(0)
    optimizer = make_optimizer("adam", [{"params": params}], 1e-2, 0.0)
    set_grads(params, 0, set())
    optimizer.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in params)
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)


def test_unknown_optimizer_is_a_value_error():
    with pytest.raises(ValueError, match="optimizer must be one of"):
        make_optimizer("lbfgs", [{"params": make_params(0)}], 1e-2, 0.0)


def test_grad_scaler_steps_our_optimizer_and_skips_inf():
    """The fp16 path's GradScaler unscales our param_groups and skips a step with inf."""
    params = make_params(0)
    before = [p.detach().clone() for p in params]
    optimizer = make_optimizer("adam", [{"params": params}], 1e-2, 0.0)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    loss = sum((p**2).sum() for p in params)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    expected = make_params(0)
    reference = torch.optim.Adam(expected, lr=1e-2, foreach=False)
    sum((p**2).sum() for p in expected).backward()
    reference.step()
    for a, b in zip(params, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # an infinite gradient: the step is skipped and the scale halves
    after_first = [p.detach().clone() for p in params]
    optimizer.zero_grad()
    scaler.scale(params[0].sum() * math.inf).backward()
    scaler.step(optimizer)
    scaler.update()
    assert scaler.get_scale() == 512.0
    for a, b in zip(params, after_first, strict=True):
        assert torch.equal(a, b)
    assert not all(torch.equal(a, b) for a, b in zip(after_first, before, strict=True))


@pytest.mark.parametrize("policy", ["cosine", "step"])
def test_policies_equal_torch_schedulers(policy):
    n = 10
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=0.5)
    if policy == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n)
    else:
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=n // 3, gamma=0.1)
    expected = []
    for _ in range(n):
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    ours = [0.5 * LRScheduler(policy).factor(e, max_epochs=n) for e in range(n)]
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-15)


def test_fit_history_follows_the_policy():
    X = np.random.default_rng(0).random((64, 12)).astype(np.float32)
    y = np.arange(64) % 4
    hasher = DSBH(
        n_bits=8,
        backbone="mlp",
        lr=0.01,
        max_epochs=3,
        batch_size=16,
        lr_schedule=lambda epoch: 0.5**epoch,
        device="cpu",
        random_state=0,
    ).fit(X, y)
    assert [r["lr"] for r in hasher.history_] == pytest.approx([0.01, 0.005, 0.0025])


@pytest.mark.parametrize(
    "policy, error, match",
    [
        (lambda epoch: "fast", TypeError, "must return a number"),
        (lambda epoch: -1.0, ValueError, "finite and non-negative"),
        (lambda epoch: float("nan"), ValueError, "finite and non-negative"),
        ("linear", ValueError, "policy must be"),
    ],
)
def test_bad_policy_is_a_clear_error_before_training(policy, error, match):
    X = np.random.default_rng(0).random((32, 12)).astype(np.float32)
    hasher = DSBH(
        n_bits=8,
        backbone="mlp",
        max_epochs=2,
        batch_size=16,
        callbacks=[LRScheduler(policy)],
        lr_schedule=None,
        device="cpu",
        random_state=0,
    )
    with pytest.raises(error, match=match):
        hasher.fit(X, np.arange(32) % 4)
    assert not hasattr(hasher, "history_")


def test_fit_does_not_import_torch_dynamo():
    """Building a torch.optim optimizer imports torch._dynamo (66 MB, ~1 s); a fit must not."""
    code = (
        "import sys, numpy as np\n"
        "from skhash.deep import DSBH\n"
        "X = np.random.default_rng(0).random((32, 3, 8, 8)).astype(np.float32)\n"
        "DSBH(n_bits=8, channels=(4, 4, 4), hidden=8, max_epochs=2, batch_size=16,\n"
        "     device='cpu', random_state=0).fit(X, np.arange(32) % 4).transform(X)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "False"
