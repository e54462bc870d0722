"""Default threads of the Hamming search, and the fitted state that records them."""

import joblib
import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

import skhash.index._hamming_index as hamming_index_module
from skhash.classic import LSH
from skhash.index import HammingIndex, _search


@pytest.fixture
def codes():
    return np.random.default_rng(0).integers(0, 2, size=(50, 16), dtype=np.uint8)


@pytest.fixture
def seen_n_jobs(monkeypatch):
    """The n_jobs every search of the index receives."""
    seen = []
    real = hamming_index_module.search

    def spy(*args, **kwargs):
        seen.append(kwargs["n_jobs"])
        return real(*args, **kwargs)

    monkeypatch.setattr(hamming_index_module, "search", spy)
    return seen


def test_default_index_searches_on_every_core(codes, seen_n_jobs):
    index = HammingIndex().fit(codes)
    assert index.n_jobs == -1
    assert index.n_threads_ == joblib.cpu_count()
    assert index.backend_ == "numba"
    index.kneighbors(codes[:3], 2)
    assert seen_n_jobs == [-1]


def _two_joblib_workers():
    """A joblib context of 2 workers: parallel_config (joblib >= 1.3) or, before it,
    parallel_backend."""
    if hasattr(joblib, "parallel_config"):
        return joblib.parallel_config(n_jobs=2)
    return joblib.parallel_backend("loky", n_jobs=2)


def test_none_keeps_scikit_learn_meaning(codes):
    assert HammingIndex(n_jobs=None).fit(codes).n_threads_ == 1
    with _two_joblib_workers():
        assert HammingIndex(n_jobs=None).fit(codes).n_threads_ == 2
    assert HammingIndex(n_jobs=1, backend="mih").fit(codes).backend_ == "mih"


def test_zero_threads_refused_at_fit(codes):
    with pytest.raises(InvalidParameterError, match="n_jobs"):
        HammingIndex(n_jobs=0).fit(codes)


@pytest.mark.parametrize(("n_jobs", "expected"), [(None, -1), (1, 1), (2, 2)])
def test_hasher_search_threads(n_jobs, expected, seen_n_jobs):
    X = np.random.default_rng(1).normal(size=(60, 5))
    hasher = LSH(n_bits=16, random_state=0, n_jobs=n_jobs).fit(X)
    hasher.kneighbors(X[:2], 3)
    hasher.radius_neighbors(X[:2], 3)
    hasher.hamming_distances(X[:2])
    assert seen_n_jobs == [expected] * 3
    hasher.set_params(n_jobs=1)  # read at search time
    hasher.kneighbors(X[:2], 3)
    assert seen_n_jobs[-1] == 1


def test_old_pickle_gets_recorded_state(codes):
    index = HammingIndex(n_jobs=1).fit(codes)
    state = index.__getstate__()
    del state["n_threads_"], state["backend_"]
    restored = HammingIndex.__new__(HammingIndex)
    restored.__setstate__(state)
    assert (restored.n_threads_, restored.backend_) == (1, "numba")


@pytest.mark.parametrize(
    ("n", "backend", "started"),
    [
        (2**17, "auto", True),
        (2**17, "numba", True),
        (2**17, "numpy", False),
        (1000, "auto", False),
    ],
)
def test_fit_of_a_large_database_starts_loading_the_kernels(monkeypatch, n, backend, started):
    calls = []
    monkeypatch.setattr(_search, "_warm_up", lambda: calls.append(1))
    codes = np.random.default_rng(2).integers(0, 256, size=(n, 8), dtype=np.uint8)
    HammingIndex(backend=backend).fit(codes, packed=True)
    assert bool(calls) == started
