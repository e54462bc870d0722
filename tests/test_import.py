"""Importing skhash is cheap and has no side effects."""

import subprocess
import sys

import pytest


def _run(code):
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_import_skhash_never_imports_torch_or_numba():
    out = _run(
        "import sys, skhash; skhash.ITQ; skhash.metrics; skhash.datasets; "
        "print('torch' in sys.modules, 'numba' in sys.modules)"
    )
    assert out == "False False"


def test_deep_hashers_load_lazily():
    pytest.importorskip("torch")
    out = _run("import sys, skhash; print(skhash.DSBH.__module__, 'torch' in sys.modules)")
    assert out == "skhash.deep._dsbh True"


def test_search_leaves_thread_settings_as_found():
    pytest.importorskip("numba")
    out = _run(
        "import numba, numpy as np\n"
        "from skhash.index import HammingIndex\n"
        "before = numba.get_num_threads()\n"
        "codes = np.random.default_rng(0).integers(0, 2, (3000, 64))\n"
        "HammingIndex(backend='numba', n_jobs=1).fit(codes).kneighbors(codes[:50], 5)\n"
        "print(before == numba.get_num_threads())"
    )
    assert out == "True"


def test_unknown_attribute_is_an_attribute_error():
    import skhash

    with pytest.raises(AttributeError, match="NoSuchHasher"):
        skhash.NoSuchHasher  # noqa: B018
