"""Deep fits in child processes: a native crash (heap corruption, segfault) fails a test,
named, in the default suite, instead of passing or failing by luck.

The crash these guard against: oneDNN's backward-weights pass of a strided 1x1 convolution
on channels-last input with fewer input channels than its channel block writes past its
scratch buffer (uxlfoundation/oneDNN#6035), which DAHP's small-width ResNet hit on AVX2 CPUs
at one thread (skhash.deep._device.onednn_unsafe_convolution). Each child runs its fits
repeatedly, at 1 and 2 threads, from arrays and from image files, with oneDNN capped at AVX2.
"""

import pytest

torch = pytest.importorskip("torch")

from _subprocess import AVX2_ONLY, exit_status, run_python  # noqa: E402

from skhash.deep.testing import tiny_deep_hashers  # noqa: E402

HASHER_NAMES = sorted(type(h).__name__ for h in tiny_deep_hashers())

FIT_REPEATEDLY = """
import tempfile, warnings
from pathlib import Path
import numpy as np
from PIL import Image
from sklearn.base import clone
from sklearn.datasets import load_digits
from skhash.deep.testing import tiny_deep_hashers

warnings.simplefilter("ignore")
X, y = load_digits(return_X_y=True)
images, labels = X[:96].reshape(-1, 8, 8), y[:96]
tiny = next(h for h in tiny_deep_hashers() if type(h).__name__ == {name!r})
target = labels if tiny.supervised else None
for n_jobs in (1, 2):
    for _ in range({repeats}):
        hasher = clone(tiny).set_params(n_jobs=n_jobs, max_epochs=2).fit(images, target)
        assert hasher.transform(images).shape == (96, hasher.n_bits)
with tempfile.TemporaryDirectory() as folder:
    paths = []
    for i, image in enumerate(images[:32]):
        path = Path(folder) / f"{{i}}.png"
        Image.fromarray((image * 15).astype(np.uint8)).resize((16, 16)).save(path)
        paths.append(str(path))
    hasher = clone(tiny).set_params(n_jobs=2).fit(paths, None if target is None else target[:32])
    assert hasher.transform(paths).shape == (32, hasher.n_bits)
print("survived")
"""


@pytest.mark.parametrize("name", HASHER_NAMES)
def test_deep_fits_survive_in_child_process(name):
    out = run_python(FIT_REPEATEDLY.format(name=name, repeats=2), env=AVX2_ONLY)
    assert out.strip().endswith("survived")


def test_issue_25_dahp_reproducer_survives():
    # The fit that corrupted the heap 3 of 3 times (issue 25), three times in one process.
    code = """
    from sklearn.datasets import load_digits
    from skhash import DAHP
    X, y = load_digits(return_X_y=True)
    for _ in range(3):
        DAHP(n_bits=8, width=4, reduction=4, max_epochs=1, batch_size=32, random_state=0,
             n_jobs=1).fit(X[:160].reshape(-1, 8, 8), y[:160])
    print("survived")
    """
    assert run_python(code, env=AVX2_ONLY).strip() == "survived"


# oneDNN#6035 in torch alone: a strided 1x1 convolution with 4 input channels, trained on
# channels-last input at one thread, writes past oneDNN's scratch buffer (AVX2: < 8 input
# channels; AVX-512: < 16).
ONEDNN_1X1_REPRODUCER = """
import torch
torch.manual_seed(0)
torch.set_num_threads(1)
layout = {layout}
conv = torch.nn.Conv2d(4, 8, kernel_size=1, stride=2, bias=False).to(memory_format=layout)
for _ in range(200):
    x = torch.randn(32, 4, 8, 8).contiguous(memory_format=layout)
    conv(x).sum().backward()
print("survived")
"""


def test_onednn_1x1_reproducer_survives_in_the_layout_skhash_picks():
    from skhash.deep._device import channels_last_on

    conv = torch.nn.Conv2d(4, 8, kernel_size=1, stride=2, bias=False)
    assert not channels_last_on("cpu", conv)
    code = ONEDNN_1X1_REPRODUCER.format(layout="torch.contiguous_format")
    assert run_python(code, env=AVX2_ONLY).strip() == "survived"


@pytest.mark.slow
def test_onednn_1x1_bug_is_still_in_this_torch():
    """A canary: when this fails, the installed torch has a oneDNN without #6035, and
    channels_last_on may let such networks run channels-last again (measure first)."""
    code = ONEDNN_1X1_REPRODUCER.format(layout="torch.channels_last")
    assert exit_status(code, env=AVX2_ONLY) < 0, f"torch {torch.__version__} no longer crashes"


STRESS_BACKBONES = """
import itertools, sys, warnings
import numpy as np
import torch
from skhash.deep import DAHP, SCAE
from skhash.deep._backbones import build_backbone
from skhash.deep._device import channels_last_on

warnings.simplefilter("ignore")
torch.set_num_threads({threads})
# (backbone, options, smallest side it takes): the test widths and the standard ones
CASES = [
    ("small_cnn", {{"channels": (4, 4, 4), "hidden": 8}}, 8),
    ("small_cnn", {{}}, 8),
    ("alexnet_bn", {{"width": 1 / 16, "fc_dim": 8}}, 8),
    ("alexnet", {{}}, 16),
    ("resnet18", {{"width": 2}}, 8),
    ("resnet18", {{"width": 4}}, 8),
    ("resnet18", {{"width": 16}}, 8),
    ("resnet34", {{"width": 8}}, 8),
    ("resnet50", {{"width": 4}}, 8),
    ("resnet50", {{}}, 8),
]
for (name, options, smallest), size in itertools.product(CASES, (8, 16, 32, 64)):
    if size < smallest:
        continue
    torch.manual_seed(0)
    backbone = build_backbone(name, (3, size, size), options)
    fmt = torch.channels_last if channels_last_on("cpu", backbone) else torch.contiguous_format
    backbone.to(memory_format=fmt)
    print(name, options, size, fmt, file=sys.stderr, flush=True)
    for step in range(3):
        x = torch.randn(8, 3, size, size).contiguous(memory_format=fmt)
        backbone(x).float().pow(2).mean().backward()
# DAHP's attention and SCAE's encoder-decoder, through their estimators
rng = np.random.default_rng(0)
for size in (8, 16, 32, 64):
    X, y = rng.random((32, 3, size, size), dtype=np.float32), np.arange(32) % 4
    for hasher in (DAHP(n_bits=8, width=4, reduction=4), DAHP(n_bits=8, width=16, reduction=4),
                   SCAE(n_bits=8)):
        print(hasher, size, file=sys.stderr, flush=True)
        hasher.set_params(max_epochs=1, batch_size=8, n_jobs={threads}, device="cpu")
        hasher.fit(X, y if hasher.supervised else None)
print("survived")
"""


@pytest.mark.slow
@pytest.mark.parametrize("isa", ["AVX2", "native"])
@pytest.mark.parametrize("threads", [1, 2])
def test_built_in_backbones_train_in_the_layout_skhash_picks(isa, threads):
    """Every built-in backbone at 8x8 .. 64x64, trained in the memory layout
    channels_last_on picks for the CPU, at 1 and 2 threads, under AVX2 and the native ISA."""
    env = AVX2_ONLY if isa == "AVX2" else {}
    out = run_python(STRESS_BACKBONES.format(threads=threads), env=env, timeout=1800)
    assert out.strip() == "survived"
