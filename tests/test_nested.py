"""Nested code lengths: one deep model whose code prefixes are codes of their own."""

import copy
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import skhash.deep  # noqa: E402
from skhash import CoarseToFine  # noqa: E402
from skhash.deep import CSQ, DSH  # noqa: E402
from skhash.index import HammingIndex  # noqa: E402
from skhash.metrics import mean_average_precision  # noqa: E402

FAST = dict(max_epochs=2, batch_size=32, device="cpu", random_state=0, augmentation=None)
DEEP_HASHERS = [
    "BiHalf",
    "CSQ",
    "DAHP",
    "DPHB",
    "DPSH",
    "DSBH",
    "DSH",
    "GreedyHash",
    "HashNet",
    "OrthoHash",
    "SCAE",
]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32).reshape(-1, 8, 8)
    return X[:300], y[:300], X[300:400], y[300:400]


@pytest.fixture(scope="module")
def nested_csq(digits):
    X, y, _, _ = digits
    return CSQ(n_bits=16, nested=(4, 8, 16), **FAST).fit(X, y)


@pytest.mark.parametrize("name", DEEP_HASHERS)
def test_every_deep_hasher_takes_nested(name):
    cls = getattr(skhash.deep, name)
    hasher = cls(n_bits=16, nested=(8, 16))
    assert hasher.get_params()["nested"] == (8, 16)
    assert clone(hasher).nested == (8, 16)
    assert cls().nested is None


# Two epochs on 300 digits: some methods (DPHB) still give few distinct codes, nested or not.
@pytest.mark.filterwarnings("ignore:.*gives every training sample the same code")
@pytest.mark.parametrize("name", DEEP_HASHERS)
def test_nested_training_adds_the_prefix_losses(digits, name):
    X, y, Xq, _ = digits
    cls = getattr(skhash.deep, name)
    hasher = cls(n_bits=8, nested=(4, 8), **FAST).fit(X, y)
    assert hasher.nested_ == (4, 8)
    assert hasher.history_[-1]["nested_distillation"] >= 0.0
    assert np.isfinite(hasher.history_[-1]["train_loss"])
    assert hasher.transform(Xq, n_bits=4).shape == (len(Xq), 4)


def test_prefixes_are_the_first_bits_of_the_code(digits, nested_csq):
    _, _, Xq, _ = digits
    full = nested_csq.transform(Xq)
    assert full.shape == (len(Xq), 16)
    np.testing.assert_array_equal(nested_csq.transform(Xq, n_bits=16), full)
    for n_bits in (4, 8):
        np.testing.assert_array_equal(nested_csq.transform(Xq, n_bits=n_bits), full[:, :n_bits])
    with pytest.raises(ValueError, match=r"not one of the code lengths.*\[4, 8, 16\]"):
        nested_csq.transform(Xq, n_bits=6)
    # set_output names columns after the whole code: a prefix is a clear error, not pandas'
    framed = copy.copy(nested_csq).set_output(transform="pandas")
    assert framed.transform(Xq).shape == (len(Xq), 16)
    with pytest.raises(ValueError, match=r"prefix.*iloc\[:, :8\]"):
        framed.transform(Xq, n_bits=8)


def test_the_prefix_index_is_the_index_of_the_prefix_codes(digits, nested_csq):
    X, y, Xq, yq = digits
    prefix = nested_csq.prefix_index(8)
    assert prefix is nested_csq.prefix_index(8)  # built once
    assert nested_csq.prefix_index(16) is nested_csq.index_
    expected = HammingIndex().fit(nested_csq.transform(X, n_bits=8))
    queries = nested_csq.transform(Xq, n_bits=8)
    np.testing.assert_array_equal(prefix.distances(queries), expected.distances(queries))
    # The database changes: the prefix index follows (from the stored codes).
    hasher = pickle.loads(pickle.dumps(nested_csq))
    assert "_prefix_indexes" not in hasher.__dict__
    hasher.add(Xq, yq)
    assert hasher.prefix_index(8).n_indexed_ == len(X) + len(Xq)
    # Each prefix ranks well: far above chance on the digits.
    assert mean_average_precision(yq, y, prefix.distances(queries), tie_aware=True) > 0.3


def test_nested_parameter_errors(digits):
    X, y, _, _ = digits
    with pytest.raises(ValueError, match="must be n_bits=16"):
        CSQ(n_bits=16, nested=(4, 8), **FAST).fit(X, y)
    with pytest.raises(ValueError, match="increasing code lengths"):
        CSQ(n_bits=16, nested=(8, 4, 16), **FAST).fit(X, y)
    with pytest.raises(ValueError, match="use one of them"):
        DSH(n_bits=16, nested=(8, 16), levels=(2, 3), **FAST).fit(X, y)
    with pytest.raises(ValueError, match="not one of the code lengths"):
        CSQ(n_bits=8, **FAST).fit(X, y).transform(X, n_bits=4)


def test_nested_restores_n_bits_when_a_prefix_loss_fails(digits, monkeypatch):
    X, y, _, _ = digits
    hasher = CSQ(n_bits=8, nested=(4, 8), **FAST)

    def failing(outputs, batch):
        raise RuntimeError("boom")

    monkeypatch.setattr(hasher, "_network_loss", failing)
    with pytest.raises(RuntimeError, match="boom"):
        hasher.fit(X, y)
    assert hasher.n_bits == 8


def test_coarse_to_fine_from_one_nested_model(digits, nested_csq):
    X, y, Xq, yq = digits
    search = CoarseToFine.from_nested(nested_csq, 4, n_candidates=50)
    dist, ind = search.kneighbors(Xq, n_neighbors=5)
    # Reference: the 50 nearest 4-bit prefixes, ordered by the 16-bit codes.
    coarse = HammingIndex().fit(nested_csq.transform(X, n_bits=4))
    candidates = coarse.kneighbors(nested_csq.transform(Xq, n_bits=4), 50, False)
    full_db, full_q = nested_csq.transform(X), nested_csq.transform(Xq)
    for i in range(len(Xq)):
        d = (full_db[candidates[i]] != full_q[i]).sum(axis=1)
        order = np.lexsort((candidates[i], d))[:5]
        np.testing.assert_array_equal(ind[i], candidates[i][order])
        np.testing.assert_array_equal(dist[i], d[order])
    assert search.transform(Xq).shape == (len(Xq), 20)
    assert 0.0 < search.score(Xq, yq) <= 1.0
    # add: one model, added once; the prefix index follows.
    grown = CoarseToFine.from_nested(clone_fitted(nested_csq), 8).add(Xq, yq)
    assert grown.n_indexed_ == len(X) + len(Xq) == grown.coarse_.index_.n_indexed_
    with pytest.raises(ValueError, match="prefix lengths shorter"):
        CoarseToFine.from_nested(nested_csq, 16)


def clone_fitted(hasher):
    return pickle.loads(pickle.dumps(hasher))
