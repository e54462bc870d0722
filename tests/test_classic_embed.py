"""The embedding of every classic hasher: its signs are exactly the codes."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits

from skhash import ITQ, LSH, KMeansHashing, PCAHashing, SpectralHashing
from skhash.datasets import load_mnist_5k

HASHERS = {
    "LSH": lambda n_bits: LSH(n_bits=n_bits, random_state=0),
    "PCAHashing": lambda n_bits: PCAHashing(n_bits=n_bits),
    "ITQ": lambda n_bits: ITQ(n_bits=n_bits, n_iter=10, random_state=0),
    "SpectralHashing": lambda n_bits: SpectralHashing(n_bits=n_bits),
    "KMeansHashing": lambda n_bits: KMeansHashing(
        n_bits=n_bits, bits_per_subspace=2, n_iter=5, random_state=0
    ),
}


@st.composite
def hashing_problems(draw):
    """A hasher, training data and queries; values on a coarse grid make exact ties
    (duplicate rows, points on decision boundaries) common."""
    name = draw(st.sampled_from(sorted(HASHERS)))
    n_samples = draw(st.integers(4, 40))
    n_features = draw(st.integers(2, 8))
    n_bits = draw(st.integers(1, min(n_samples, n_features)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    levels = draw(st.sampled_from([3, 1000]))
    scale = 10.0 ** draw(st.integers(-6, 6))
    X = rng.integers(0, levels, size=(n_samples + 10, n_features)) * scale
    if draw(st.booleans()):
        X[:, 0] = scale  # a constant feature: rank below n_features
    return HASHERS[name](n_bits), X[:n_samples], X


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(problem=hashing_problems())
def test_signs_of_the_embedding_are_the_codes(problem):
    hasher, X_train, X = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # low-rank draws warn, as they should
        hasher.fit(X_train)
    embedding = hasher.embed(X)
    assert embedding.shape == (len(X), hasher.n_bits)
    assert np.isfinite(embedding).all()
    np.testing.assert_array_equal(embedding > 0, hasher.transform(X))


def _mnist():
    X, y = load_mnist_5k(return_X_y=True)
    return X.reshape(len(X), -1).astype(np.float64)


@pytest.mark.parametrize("name", sorted(HASHERS))
@pytest.mark.parametrize("n_bits", [8, 32, 61])
@pytest.mark.parametrize("load", [lambda: load_digits().data, _mnist], ids=["digits", "mnist5k"])
def test_signs_of_the_embedding_are_the_codes_on_real_data(name, n_bits, load):
    X = load()
    hasher = HASHERS[name](n_bits).fit(X[::2])
    embedding = hasher.embed(X)
    np.testing.assert_array_equal(embedding > 0, hasher.transform(X))
    np.testing.assert_array_equal(hasher.index_.codes_, embedding[::2] > 0)  # the database
