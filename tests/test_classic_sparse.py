"""Sparse input (TF-IDF) in the classic hashers: accepted, never densified, same codes."""

import importlib
import inspect

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer

from skhash import ITQ, LSH, KMeansHashing, PCAHashing, SpectralHashing

SUBMODULES = [
    "cluster",
    "covariance",
    "decomposition",
    "ensemble",
    "feature_selection",
    "linear_model",
    "manifold",
    "metrics",
    "model_selection",
    "neighbors",
    "preprocessing",
    "svm",
]

HASHERS = [
    LSH(n_bits=32, random_state=0),
    PCAHashing(n_bits=16),
    ITQ(n_bits=32, random_state=0),
    SpectralHashing(n_bits=32),
    KMeansHashing(n_bits=16, random_state=0),
]


@pytest.fixture(scope="module")
def corpus():
    """Real text that ships with a package: the docstrings of scikit-learn's public classes
    and functions, labelled by submodule (about 300 documents)."""
    documents, labels = [], []
    for name in SUBMODULES:
        module = importlib.import_module(f"sklearn.{name}")
        for attribute in sorted(module.__all__):
            if attribute.startswith("Halving"):
                continue  # experimental: importing it needs an opt-in import
            obj = getattr(module, attribute)
            doc = inspect.getdoc(obj)
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and doc and len(doc) > 200:
                documents.append(doc)
                labels.append(name)
    return documents, np.asarray(labels)


@pytest.fixture(scope="module", params=[2500, 1500], ids=["arpack", "covariance"])
def tfidf(request, corpus):
    """TF-IDF matrices wider (ARPACK) and narrower (covariance) than 2,000 features."""
    documents, labels = corpus
    X = TfidfVectorizer(sublinear_tf=True, max_features=request.param).fit_transform(documents)
    assert sp.issparse(X) and X.shape[1] == request.param
    return X, labels


@pytest.mark.parametrize("hasher", HASHERS, ids=lambda h: type(h).__name__)
def test_sparse_codes_equal_the_dense_codes(tfidf, hasher):
    # Implicit centring computes the dense method exactly: same PCA (same sign convention),
    # same projections up to rounding, hence the same codes.
    X, y = tfidf
    on_sparse = clone(hasher).fit(X, y)
    on_dense = clone(hasher).fit(X.toarray(), y)
    embedding = on_sparse.embed(X)
    np.testing.assert_allclose(
        embedding, on_dense.embed(X.toarray()), atol=1e-9 * np.abs(embedding).max()
    )
    np.testing.assert_array_equal(on_sparse.transform(X), on_dense.transform(X.toarray()))
    np.testing.assert_array_equal(on_sparse.index_.codes_, on_dense.index_.codes_)
    assert on_sparse.score(X[:60], y[:60]) == pytest.approx(on_dense.score(X[:60], y[:60]))


@pytest.mark.parametrize("hasher", HASHERS, ids=lambda h: type(h).__name__)
def test_sparse_input_is_never_densified(tfidf, hasher, monkeypatch):
    X, y = tfidf

    def refuse(self, *args, **kwargs):  # (the covariance of a few features may be dense)
        raise AssertionError(f"a sparse matrix of {self.shape[0]} rows was densified")

    for cls in (sp.csr_matrix, sp.csr_array, sp.csc_matrix, sp.coo_matrix):
        for method in ("toarray", "todense"):
            densify = getattr(cls, method)
            monkeypatch.setattr(
                cls,
                method,
                lambda self, *a, _densify=densify, **k: (
                    refuse(self) if self.shape[0] == X.shape[0] else _densify(self, *a, **k)
                ),
            )
    fitted = clone(hasher).fit(X, y)
    fitted.add(X[:5], y[:5])
    fitted.kneighbors(X[:5], n_neighbors=3)
    assert fitted.embed(X[:5]).shape == (5, hasher.n_bits)


def test_every_sparse_format_gives_the_same_codes(tfidf):
    X, y = tfidf
    itq = ITQ(n_bits=16, random_state=0).fit(X, y)
    expected = itq.transform(X[:20])
    for fmt in ("csc", "coo", "lil", "dok", "bsr"):
        np.testing.assert_array_equal(itq.transform(X[:20].asformat(fmt)), expected)
    np.testing.assert_array_equal(itq.transform(sp.csr_array(X[:20])), expected)
    np.testing.assert_array_equal(itq.transform(X[:20].astype(np.float32)), expected)


def test_sparse_retrieval_finds_documents_of_the_same_submodule(tfidf):
    X, y = tfidf
    rng = np.random.default_rng(0)
    order = rng.permutation(X.shape[0])
    query, database = order[:60], order[60:]
    score = ITQ(n_bits=32, random_state=0).fit(X[database], y[database]).score(X[query], y[query])
    chance = max(np.mean(y[database] == label) for label in np.unique(y))
    assert score > chance + 0.2


def test_arpack_needs_fewer_components_than_the_smallest_side(corpus):
    documents, _ = corpus
    X = TfidfVectorizer().fit_transform(documents[:40])  # 40 documents, > 2000 words
    assert X.shape[1] > 2000
    with pytest.raises(ValueError, match="ARPACK gives fewer components"):
        PCAHashing(n_bits=40).fit(X)
    assert PCAHashing(n_bits=39).fit(X).transform(X).shape == (40, 39)
    # SpectralHashing asks for as many directions as ARPACK can give
    assert SpectralHashing(n_bits=64).fit(X).components_.shape[0] == 39
