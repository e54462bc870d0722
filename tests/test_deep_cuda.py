"""Deep hashers on a CUDA GPU: mixed precision, channels-last, pinned transfers, moving a
fitted model between devices. Skipped where no GPU is present (CI has none)."""

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

from sklearn.datasets import load_digits  # noqa: E402

from skhash.deep import DAHP, DSBH  # noqa: E402
from skhash.deep._device import autocast_dtype  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X * 15).astype(np.uint8).reshape(-1, 8, 8), y


def test_amp_training_on_cuda(digits):
    X, y = digits
    hasher = DSBH(n_bits=16, max_epochs=3, device="cuda", random_state=0).fit(X, y)
    assert hasher.device_ == "cuda"
    assert next(hasher.module_.parameters()).is_cuda
    assert autocast_dtype("auto", "cuda") in (torch.bfloat16, torch.float16)
    assert all(np.isfinite(r["train_loss"]) for r in hasher.history_)
    assert hasher.history_[-1]["train_loss"] < hasher.history_[0]["train_loss"]
    conv = hasher.module_.backbone.features[0][0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("precision", ["float16", "bfloat16", "float32"])
def test_every_precision_trains(digits, precision):
    X, y = digits
    hasher = DSBH(n_bits=16, max_epochs=2, device="cuda", precision=precision, random_state=0)
    assert np.isfinite(hasher.fit(X[:500], y[:500]).history_[-1]["train_loss"])


def test_a_gpu_model_pickles_to_the_cpu(digits):
    X, y = digits
    hasher = DAHP(n_bits=16, width=16, max_epochs=1, device="cuda", random_state=0)
    hasher.fit(X[:600], y[:600])
    state = pickle.loads(pickle.dumps(hasher)).__getstate__()
    for key, value in state["module_"].state_dict().items():
        assert value.device.type == "cpu"
        assert torch.equal(value, hasher.module_.state_dict()[key].cpu()), key
    state["device"] = "cpu"  # as it loads on a machine without CUDA
    on_cpu = DAHP.__new__(DAHP)
    with pytest.warns(UserWarning, match="fitted on 'cuda'"):
        on_cpu.__setstate__(state)
    agree = (on_cpu.transform(X) == hasher.transform(X)).mean()
    assert agree > 0.99  # float32 on both; only values within rounding of 0 may flip


def test_workers_and_pinned_memory(digits):
    X, y = digits
    a = DSBH(n_bits=16, max_epochs=1, device="cuda", random_state=0).fit(X, y)
    b = DSBH(n_bits=16, max_epochs=1, device="cuda", random_state=0, num_workers=2).fit(X, y)
    assert a.history_[0]["train_loss"] == pytest.approx(b.history_[0]["train_loss"], rel=1e-3)
