"""scikit-learn's estimator checks over every hasher, with small settings."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhash import ITQ, LSH, KMeansHashing, PCAHashing, SpectralHashing

CLASSIC_HASHERS = [
    LSH(n_bits=8, random_state=0),
    PCAHashing(n_bits=2, random_state=0),
    ITQ(n_bits=2, n_iter=5, random_state=0),
    SpectralHashing(n_bits=6, random_state=0),
    KMeansHashing(n_bits=2, bits_per_subspace=2, n_iter=5, random_state=0),
]


def _deep_hashers():
    """Deep hashers with tiny settings; empty without torch."""
    try:
        from skhash.deep.testing import tiny_deep_hashers
    except ImportError:
        return []
    return tiny_deep_hashers()


@parametrize_with_checks(CLASSIC_HASHERS + _deep_hashers(), expected_failed_checks=None)
def test_sklearn_compatible_hasher(estimator, check):
    check(estimator)


@pytest.mark.parametrize("hasher", CLASSIC_HASHERS, ids=lambda h: type(h).__name__)
def test_get_feature_names_out_names_bits(hasher):
    import numpy as np

    X = np.random.default_rng(0).normal(size=(30, 4))
    names = hasher.fit(X).get_feature_names_out()
    assert list(names) == [f"bit{i}" for i in range(hasher.transform(X).shape[1])]
