"""Hashing neighbours as sparse graphs: knn_graph and HashingNeighborsTransformer."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.cluster import DBSCAN
from sklearn.datasets import load_digits
from sklearn.manifold import TSNE, Isomap
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neighbors import KNeighborsClassifier, KNeighborsTransformer
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhash import ITQ, LSH, HashingNeighborsTransformer
from skhash.neighbors import knn_graph


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))
    return X[order], y[order]


def test_knn_graph_layout():
    dist = np.array([[0, 2, 2], [1, 1, 3]])
    ind = np.array([[4, 0, 2], [3, 1, 0]])
    graph = knn_graph(dist, ind, 5, mode="distance")
    assert sp.issparse(graph) and graph.format == "csr" and graph.shape == (2, 5)
    assert graph.dtype == np.float64 and graph.nnz == 6  # the zero distance is stored
    np.testing.assert_array_equal(graph.indices, ind.ravel())  # neighbour order kept
    np.testing.assert_array_equal(graph.data, dist.ravel())
    np.testing.assert_array_equal(graph.toarray(), [[2, 0, 2, 0, 0], [3, 1, 0, 1, 0]])
    connectivity = knn_graph(None, ind, 5)
    np.testing.assert_array_equal(connectivity.data, np.ones(6))
    np.testing.assert_array_equal(connectivity.indices, ind.ravel())


def test_knn_graph_matches_scikit_learn(digits):
    X = digits[0][:200]
    nn = KNeighborsTransformer(n_neighbors=4, mode="distance").fit(X)
    dist, ind = nn.kneighbors(X[:50], n_neighbors=5)
    for mode in ("distance", "connectivity"):
        ours = knn_graph(dist, ind, 200, mode)
        theirs = nn.kneighbors_graph(X[:50], n_neighbors=5, mode=mode)
        assert (ours != theirs).nnz == 0
        np.testing.assert_array_equal(ours.indptr, theirs.indptr)


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.zeros((2, 2)), np.zeros((2, 2), int), 3, "weights"), "mode must be"),
        ((None, np.zeros((2, 2), int), 3, "distance"), "distance mode needs"),
        ((np.zeros((2, 3)), np.zeros((2, 2), int), 3, "distance"), "distance mode needs"),
        ((None, np.array([[0, 3]]), 3, "connectivity"), r"indices in \[0, 3\)"),
        ((None, np.array([0, 1]), 3, "connectivity"), "must be 2-D"),
    ],
)
def test_knn_graph_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        knn_graph(*args)


def test_transform_holds_the_nearest_codes(digits):
    X, _ = digits
    itq = ITQ(n_bits=16, random_state=0)
    transformer = HashingNeighborsTransformer(itq, n_neighbors=6).fit(X[:1000])
    graph = transformer.transform(X[1000:1100])
    assert graph.shape == (100, 1000) and graph.getnnz(axis=1).tolist() == [7] * 100
    # the same distances as an exact scan of the codes (manhattan on 0/1 = Hamming)
    codes = transformer.hasher_.index_.codes_.astype(float)
    exact = KNeighborsTransformer(n_neighbors=6, metric="manhattan").fit(codes)
    expected = exact.transform(transformer.hasher_.transform(X[1000:1100]).astype(float))
    for i in range(100):
        np.testing.assert_array_equal(graph[i].data, np.sort(expected[i].data))
    connectivity = clone(transformer).set_params(mode="connectivity").fit(X[:1000])
    assert connectivity.transform(X[1000:1100]).getnnz(axis=1).tolist() == [6] * 100


@pytest.mark.parametrize("mode, n_stored", [("distance", 6), ("connectivity", 5)])
def test_fit_transform_makes_each_sample_its_own_first_neighbour(digits, mode, n_stored):
    # 8 bits: many samples share a code, so the plain query of the training set lists
    # identical-code twins before the sample itself; fit_transform does not.
    X = digits[0][:500]
    transformer = HashingNeighborsTransformer(ITQ(n_bits=8, random_state=0), mode=mode)
    graph = transformer.fit_transform(X)
    assert graph.getnnz(axis=1).tolist() == [n_stored] * 500
    rows = np.split(graph.indices, graph.indptr[1:-1])
    assert [row[0] for row in rows] == list(range(500))
    others_dist, others_ind = transformer.hasher_.kneighbors(None, n_neighbors=n_stored - 1)
    np.testing.assert_array_equal(np.vstack(rows)[:, 1:], others_ind)
    if mode == "distance":
        np.testing.assert_array_equal(graph.data.reshape(500, -1)[:, 0], 0)
        np.testing.assert_array_equal(graph.data.reshape(500, -1)[:, 1:], others_dist)
    plain = transformer.transform(X)  # the same query, ties in database order
    assert (plain.indices[plain.indptr[:-1]] != np.arange(500)).any()


@pytest.mark.parametrize("rerank", ["asymmetric", "embedding"])
def test_fit_transform_with_a_re_ranking_hasher(digits, rerank):
    # Re-ranked distances are floats, and "asymmetric" needs the queries' embeddings, so
    # the training graph queries X itself rather than the database (X=None).
    X = digits[0][:400]
    hasher = ITQ(n_bits=16, random_state=0, rerank=rerank)
    transformer = HashingNeighborsTransformer(hasher, n_neighbors=4)
    graph = transformer.fit_transform(X)
    rows = graph.indices.reshape(400, 5)
    np.testing.assert_array_equal(rows[:, 0], np.arange(400))
    dist, ind = transformer.hasher_.kneighbors(X, n_neighbors=5)
    for i in range(400):
        others = ind[i][ind[i] != i][:4]
        np.testing.assert_array_equal(rows[i, 1:], others)
        np.testing.assert_allclose(graph[i].data[1:], dist[i][ind[i] != i][:4])


def test_k_neighbors_classifier_on_hashing_neighbours(digits):
    X, y = digits
    model = make_pipeline(
        HashingNeighborsTransformer(ITQ(n_bits=32, random_state=0), n_neighbors=10),
        KNeighborsClassifier(n_neighbors=10, metric="precomputed"),
    ).fit(X[:1400], y[:1400])
    accuracy = model.score(X[1400:], y[1400:])
    exact = KNeighborsClassifier(n_neighbors=10).fit(X[:1400], y[:1400]).score(X[1400:], y[1400:])
    assert accuracy > 0.9 and accuracy > exact - 0.05


def test_grid_search_tunes_the_hasher_inside_the_transformer(digits):
    X, y = digits
    model = make_pipeline(
        HashingNeighborsTransformer(ITQ(random_state=0), n_neighbors=5),
        KNeighborsClassifier(n_neighbors=5, metric="precomputed"),
    )
    search = GridSearchCV(model, {"hashingneighborstransformer__hasher__n_bits": [4, 32]}, cv=3)
    search.fit(X[:600], y[:600])
    assert search.best_params_["hashingneighborstransformer__hasher__n_bits"] == 32


def test_tsne_on_hashing_neighbours(digits):
    X, y = digits[0][:600], digits[1][:600]
    embedding = make_pipeline(
        HashingNeighborsTransformer(ITQ(n_bits=32, random_state=0), n_neighbors=31),
        TSNE(perplexity=10, metric="precomputed", init="random", max_iter=300, random_state=0),
    ).fit_transform(X)
    assert embedding.shape == (600, 2)
    assert cross_val_score(KNeighborsClassifier(5), embedding, y, cv=3).mean() > 0.8


def test_isomap_on_hashing_neighbours(digits):
    X, y = digits
    embedding = make_pipeline(
        HashingNeighborsTransformer(ITQ(n_bits=32, random_state=0), n_neighbors=10),
        Isomap(n_neighbors=10, n_components=2, metric="precomputed"),
    ).fit_transform(X)
    assert embedding.shape == (len(X), 2)
    assert cross_val_score(KNeighborsClassifier(5), embedding, y, cv=3).mean() > 0.6


def test_dbscan_on_hashing_neighbours_equals_dbscan_on_all_hamming_distances(digits):
    # With enough neighbours stored to hold every eps-ball, the sparse graph gives DBSCAN
    # exactly the dense Hamming matrix's clustering (each sample counts itself, as there).
    X, y = digits
    transformer = HashingNeighborsTransformer(ITQ(n_bits=32, random_state=0), n_neighbors=150)
    graph = transformer.fit_transform(X)
    dense = transformer.hasher_.hamming_distances().astype(float)
    assert (dense <= 3).sum(axis=1).max() <= 151  # every 3-ball is in the graph
    on_graph = DBSCAN(eps=3, min_samples=5, metric="precomputed").fit_predict(graph)
    on_dense = DBSCAN(eps=3, min_samples=5, metric="precomputed").fit_predict(dense)
    np.testing.assert_array_equal(on_graph, on_dense)
    assert len(set(on_graph) - {-1}) >= 5


def test_transformer_pickles_and_clones(digits):
    X = digits[0][:300]
    transformer = HashingNeighborsTransformer(LSH(n_bits=32, random_state=0), n_neighbors=3)
    graph = transformer.fit(X).transform(X[:20])
    restored = pickle.loads(pickle.dumps(transformer))
    assert (restored.transform(X[:20]) != graph).nnz == 0
    assert not hasattr(clone(transformer), "hasher_")
    assert transformer.get_feature_names_out()[:2].tolist() == [
        "hashingneighborstransformer0",
        "hashingneighborstransformer1",
    ]


def test_transformer_validates_its_parameters(digits):
    X = digits[0][:50]
    with pytest.raises(ValueError, match="n_neighbors"):
        HashingNeighborsTransformer(LSH(), n_neighbors=0).fit(X)
    with pytest.raises(ValueError, match="mode"):
        HashingNeighborsTransformer(LSH(), mode="weights").fit(X)
    with pytest.raises((TypeError, ValueError), match="hasher"):
        HashingNeighborsTransformer("ITQ").fit(X)
    with pytest.raises(ValueError, match="n_neighbors <= n_indexed"):
        HashingNeighborsTransformer(LSH(), n_neighbors=50).fit(X).transform(X)


# On the checks' 2-feature data many samples share a code. fit_transform then puts each
# sample first in its own row, while transform of the same data ranks equal distances by
# database order (test_fit_transform_makes_each_sample_its_own_first_neighbour).
_SELF_FIRST = "fit_transform puts each sample first among equal-distance neighbours"


@parametrize_with_checks(
    [HashingNeighborsTransformer(LSH(n_bits=64, random_state=0), n_neighbors=3)],
    expected_failed_checks=lambda estimator: {
        "check_transformer_general": _SELF_FIRST,
        "check_transformer_data_not_an_array": _SELF_FIRST,
    },
)
def test_sklearn_compatible_transformer(estimator, check):
    check(estimator)
