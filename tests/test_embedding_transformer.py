"""EmbeddingTransformer: a hasher's embedding as a pipeline step (issue 10's essay pipeline)."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhash import ITQ, LSH, EmbeddingTransformer, KMeansHashing, make_hashing_pipeline


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16, y[:400]


@parametrize_with_checks([EmbeddingTransformer(LSH(n_bits=4, random_state=0))])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_transform_is_the_fitted_hashers_embedding(digits):
    X, y = digits
    step = EmbeddingTransformer(ITQ(n_bits=16, random_state=0)).fit(X, y)
    reference = ITQ(n_bits=16, random_state=0).fit(X, y)
    np.testing.assert_allclose(step.transform(X[:50]), reference.embed(X[:50]))
    assert list(step.get_feature_names_out()[:2]) == [
        "embeddingtransformer0",
        "embeddingtransformer1",
    ]
    assert step.get_feature_names_out().shape == (16,)
    assert not hasattr(step.hasher, "index_")  # the user's hasher is not fitted


def test_prefit_copies_and_never_refits(digits):
    X, y = digits
    fitted = LSH(n_bits=8, random_state=0).fit(X)
    step = EmbeddingTransformer(fitted, prefit=True).fit(X[:10] + 5)
    np.testing.assert_allclose(step.transform(X[:20]), fitted.embed(X[:20]))
    assert step.hasher_ is not fitted
    with pytest.raises(Exception, match="not fitted"):
        EmbeddingTransformer(LSH(), prefit=True).fit(X)


def test_bad_layer_is_a_clear_error(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="layer='backbone' is not an embedding of ITQ"):
        EmbeddingTransformer(ITQ(n_bits=4), layer="backbone").fit(X)


def test_set_output_pandas(digits):
    pytest.importorskip("pandas")
    X, y = digits
    step = EmbeddingTransformer(ITQ(n_bits=8, random_state=0)).set_output(transform="pandas")
    frame = step.fit(X, y).transform(X[:5])
    assert list(frame.columns) == [f"embeddingtransformer{i}" for i in range(8)]


def test_cnn_features_then_kmeans_hashing_is_a_plain_pipeline(digits):
    """The essay's pipeline: a deep network's pooled features, k-means quantisation hashing,
    then the hash-table lookup of the final hasher."""
    pytest.importorskip("torch")
    from skhash import DSBH

    X, y = digits
    images = X.reshape(-1, 1, 8, 8).astype(np.float32)
    cnn = DSBH(n_bits=8, channels=(4, 6, 8), hidden=16, max_epochs=2, device="cpu", random_state=0)
    pipeline = make_hashing_pipeline(
        EmbeddingTransformer(cnn, layer="backbone"), KMeansHashing(n_bits=8, random_state=0)
    ).fit(images, y)
    features = pipeline[0].transform(images[:7])
    assert features.shape == (7, 16)
    np.testing.assert_array_equal(pipeline.transform(images[:7]), pipeline[-1].transform(features))
    dist, ind = pipeline.kneighbors(
        images[:3],
        n_neighbors=5,
    )
    assert ind.shape == (3, 5) and (np.diff(dist, axis=1) >= 0).all()
    plain = make_pipeline(clone(pipeline[0]), KMeansHashing(n_bits=8, random_state=0))
    np.testing.assert_array_equal(
        plain.fit(images, y).transform(images[:7]), pipeline.transform(images[:7])
    )
    restored = pickle.loads(pickle.dumps(pipeline))
    np.testing.assert_array_equal(restored.transform(images[:7]), pipeline.transform(images[:7]))


@pytest.mark.parametrize("levels", [None, (2, 3)])
def test_deep_backbone_width_is_known_before_transform(digits, levels):
    pytest.importorskip("torch")
    from skhash import DSBH

    X, y = digits
    images = X[:100].reshape(-1, 1, 8, 8).astype(np.float32)
    cnn = DSBH(n_bits=8, channels=(4, 6, 8), hidden=16, levels=levels, max_epochs=1, device="cpu")
    step = EmbeddingTransformer(cnn, layer="backbone").fit(images, y[:100])
    width = step.transform(images[:3]).shape[1]
    assert width == (16 if levels is None else 6 + 8)
    assert step.get_feature_names_out().shape == (width,)


def test_every_deep_hasher_reports_its_embedding_widths(digits):
    pytest.importorskip("torch")
    from skhash.deep.testing import tiny_deep_hashers

    X, y = digits
    images = X[:60].reshape(-1, 1, 8, 8).astype(np.float32)
    for hasher in tiny_deep_hashers():
        hasher.fit(images, y[:60])
        for layer in ("hash", "backbone"):
            width = hasher.embed(images[:2], layer=layer).shape[1]
            assert hasher._embedding_width(layer) == width, (type(hasher).__name__, layer)


def test_coarse_to_fine_embeds_and_other_estimators_are_refused(digits):
    from sklearn.decomposition import PCA

    from skhash import CoarseToFine

    X, y = digits
    pair = CoarseToFine(LSH(n_bits=8, random_state=0), ITQ(n_bits=16, random_state=0))
    step = EmbeddingTransformer(pair).fit(X, y)
    assert step.transform(X[:4]).shape == (4, 24)
    assert step.get_feature_names_out().shape == (24,)

    class Embeds(PCA):
        def embed(self, X, layer="hash"):
            return self.transform(X)

    with pytest.raises(TypeError, match="takes a skhash hasher"):
        EmbeddingTransformer(Embeds(2)).fit(X)
