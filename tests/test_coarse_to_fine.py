"""CoarseToFine: coarse codes select candidates, fine codes order them."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhash import ITQ, LSH, CoarseToFine
from skhash.datasets import load_mnist_5k


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))
    return X[order[300:]], y[order[300:]], X[order[:300]], y[order[:300]]


@pytest.fixture(scope="module")
def fitted(digits):
    X, y, _, _ = digits
    coarse, fine = ITQ(n_bits=8, random_state=0), ITQ(n_bits=32, random_state=0)
    return CoarseToFine(coarse, fine, n_candidates=40).fit(X, y)


def _brute_force(search, X, n_neighbors):
    """The definition: the candidates ordered by (fine distance, index)."""
    coarse_codes = search.coarse_.transform(X)
    candidates = search.coarse_.index_.kneighbors(coarse_codes, search.n_candidates)[1]
    fine = search.fine_.hamming_distances(X)
    dist, ind = [], []
    for row, cand in zip(fine, candidates, strict=True):
        order = np.lexsort((cand, row[cand]))[:n_neighbors]
        dist.append(row[cand][order])
        ind.append(cand[order])
    return np.array(dist), np.array(ind)


def test_kneighbors_orders_the_coarse_candidates_by_fine_distance(fitted, digits):
    Xq = digits[2]
    dist, ind = fitted.kneighbors(Xq, n_neighbors=7)
    expected_dist, expected_ind = _brute_force(fitted, Xq, 7)
    np.testing.assert_array_equal(ind, expected_ind)
    np.testing.assert_array_equal(dist, expected_dist)
    assert dist.dtype == np.int32 and ind.dtype == np.int64
    np.testing.assert_array_equal(fitted.kneighbors(Xq, 7, return_distance=False), ind)


def test_all_candidates_is_the_fine_scan(digits):
    X, y, Xq, _ = digits
    search = CoarseToFine(LSH(8, random_state=0), ITQ(32, random_state=0), n_candidates=10**6)
    search.fit(X, y)
    for query in (Xq, None):
        for got, expected in zip(
            search.kneighbors(query, 12), search.fine_.kneighbors(query, 12), strict=True
        ):
            np.testing.assert_array_equal(got, expected)
        got = search.radius_neighbors(query, radius=6)
        expected = search.fine_.radius_neighbors(query, radius=6)
        for part in range(2):
            for a, b in zip(got[part], expected[part], strict=True):
                np.testing.assert_array_equal(a, b)
    assert search.score(Xq, digits[3]) == pytest.approx(search.fine_.score(Xq, digits[3]))


def test_querying_the_database_excludes_each_item(fitted):
    dist, ind = fitted.kneighbors(n_neighbors=5)
    n = fitted.n_indexed_
    assert ind.shape == (n, 5) and not (ind == np.arange(n)[:, None]).any()
    np.testing.assert_array_equal(dist, np.sort(dist, axis=1))
    _, ind_radius = fitted.radius_neighbors(radius=3)
    assert all(i not in row for i, row in enumerate(ind_radius))
    assert sum(map(len, ind_radius)) > n  # not empty: neighbours other than the item


def test_recall_against_the_fine_scan_on_the_mnist_subset():
    # The target: recall@10 >= 0.8 against the fine scan alone, n_candidates=300.
    X, y = load_mnist_5k(return_X_y=True)
    X = X.reshape(len(X), -1).astype(np.float64)
    order = np.random.default_rng(0).permutation(len(X))
    Xq, Xd = X[order[:1000]], X[order[1000:]]
    search = CoarseToFine(ITQ(16, random_state=0), ITQ(64, random_state=0), n_candidates=300)
    search.fit(Xd)
    _, found = search.kneighbors(Xq, n_neighbors=10)
    _, exact = search.fine_.kneighbors(Xq, n_neighbors=10)
    recall = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(found, exact, strict=True)])
    assert recall >= 0.8  # measured 0.889


def test_radius_lookup_selects_the_coarse_ball(digits):
    X, y, Xq, _ = digits
    search = CoarseToFine(ITQ(16, random_state=0), ITQ(32, random_state=0), candidate_radius=1)
    search.fit(X, y)
    ball = search.coarse_.radius_neighbors(Xq, radius=1, return_distance=False)
    fine = search.fine_.hamming_distances(Xq)
    dist, ind = search.radius_neighbors(Xq, radius=32)  # every candidate
    for i in range(len(Xq)):
        np.testing.assert_array_equal(np.sort(ind[i]), np.sort(ball[i]))
        np.testing.assert_array_equal(dist[i], fine[i, ind[i]])
        assert np.all(np.diff(dist[i]) >= 0)
    # kneighbors: the ball's best, or the nearest coarse codes when the ball is too small
    _, knn = search.kneighbors(Xq, n_neighbors=5)
    small = [len(b) < 5 for b in ball]
    assert any(small) and not all(small)
    for i in range(len(Xq)):
        pool = ball[i] if len(ball[i]) >= 5 else search.coarse_.kneighbors(Xq[i : i + 1], 5)[1][0]
        assert set(knn[i]) <= set(pool)
        ranked = pool[np.lexsort((pool, fine[i, pool]))][:5]
        np.testing.assert_array_equal(knn[i], ranked)


def test_empty_balls_give_empty_rows(digits):
    X, y, Xq, _ = digits
    search = CoarseToFine(LSH(64, random_state=0), ITQ(32, random_state=0), candidate_radius=0)
    search.fit(X, y)
    noise = np.random.default_rng(0).normal(size=(3, X.shape[1])) * 100
    queries = np.vstack([noise, X[:2]])  # noise: empty balls; stored items: their own code
    dist, ind = search.radius_neighbors(queries, radius=32)
    assert len(ind) == 5 and all(len(row) == 0 for row in ind[:3])
    assert all(i in row for i, row in zip(range(2), ind[3:], strict=True))
    _, knn = search.kneighbors(queries, n_neighbors=3)  # small balls: nearest coarse codes
    assert knn.shape == (5, 3)


def test_score_ranks_candidates_first_then_the_rest_by_coarse_distance(fitted, digits):
    from skhash.metrics import average_precision

    Xq, yq = digits[2][:30], digits[3][:30]
    coarse_codes = fitted.coarse_.transform(Xq)
    candidates = fitted.coarse_.index_.kneighbors(coarse_codes, fitted.n_candidates)[1]
    ranking = fitted.coarse_.hamming_distances(Xq) + 33
    fine = fitted.fine_.hamming_distances(Xq)
    for i, cand in enumerate(candidates):
        ranking[i, cand] = fine[i, cand]
    for tie_aware in (True, False):
        expected = average_precision(yq, fitted.database_labels_, ranking, tie_aware=tie_aware)
        assert fitted.score(Xq, yq, tie_aware=tie_aware) == pytest.approx(expected.mean())
    expected = average_precision(yq, fitted.database_labels_, ranking, k=20, tie_aware=True)
    assert fitted.score(Xq, yq, k=20) == pytest.approx(expected.mean())
    assert fitted.score(Xq, yq) != fitted.score(Xq, yq, tie_aware=False)


def test_grid_search_tunes_nested_parameters(digits):
    X, y, _, _ = digits
    search = CoarseToFine(ITQ(random_state=0), ITQ(n_bits=32, random_state=0), n_candidates=50)
    grid = GridSearchCV(
        search, {"coarse__n_bits": [2, 16]}, cv=KFold(3, shuffle=True, random_state=0)
    )
    grid.fit(X, y)
    assert grid.best_params_ == {"coarse__n_bits": 16}
    scores = grid.cv_results_["mean_test_score"]
    assert scores[1] > scores[0] + 0.02


def test_clone_and_pickle(fitted, digits):
    Xq = digits[2]
    assert clone(fitted).get_params()["coarse__n_bits"] == 8
    assert not hasattr(clone(fitted), "coarse_")
    restored = pickle.loads(pickle.dumps(fitted))
    for got, expected in zip(restored.kneighbors(Xq, 5), fitted.kneighbors(Xq, 5), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_add_updates_both_stages_together(digits):
    X, y, Xq, yq = digits
    search = CoarseToFine(ITQ(8, random_state=0), ITQ(32, random_state=0), n_candidates=60)
    search.fit(X, y).add(Xq, yq)
    assert search.n_indexed_ == len(X) + len(Xq)
    for stage in (search.coarse_, search.fine_):
        np.testing.assert_array_equal(stage.index_.codes_, stage.transform(np.vstack([X, Xq])))
    np.testing.assert_array_equal(search.database_labels_, np.concatenate([y, yq]))
    for got, expected in zip(search.kneighbors(Xq, 5), _brute_force(search, Xq, 5), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_a_failed_add_changes_neither_stage(digits, monkeypatch):
    X, y, Xq, yq = digits
    search = CoarseToFine(ITQ(8, random_state=0), ITQ(32, random_state=0)).fit(X, y)
    before = search.kneighbors(Xq[:10], 5)

    def interrupted(X, y=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(search.fine_, "add", interrupted, raising=False)
    with pytest.raises(KeyboardInterrupt):  # after the coarse stage has added
        search.add(Xq, yq)
    assert search.coarse_.index_.n_indexed_ == search.fine_.index_.n_indexed_ == len(X)
    assert len(search.coarse_.database_labels_) == len(X)
    for got, expected in zip(search.kneighbors(Xq[:10], 5), before, strict=True):
        np.testing.assert_array_equal(got, expected)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="needs y"):
        search.add(Xq)
    assert search.coarse_.index_.n_indexed_ == len(X)


def test_transform_embed_graph_and_names(fitted, digits):
    Xq = digits[2][:10]
    codes = fitted.transform(Xq)
    np.testing.assert_array_equal(
        codes, np.hstack([fitted.coarse_.transform(Xq), fitted.fine_.transform(Xq)])
    )
    np.testing.assert_array_equal(fitted.embed(Xq) > 0, codes)
    names = fitted.get_feature_names_out()
    assert names[0] == "coarse_bit0" and names[8] == "fine_bit0" and len(names) == 40
    graph = fitted.kneighbors_graph(Xq, n_neighbors=4, mode="distance")
    dist, ind = fitted.kneighbors(Xq, 4)
    assert graph.shape == (10, fitted.n_indexed_)
    np.testing.assert_array_equal(graph.indices, ind.ravel())
    np.testing.assert_array_equal(graph.data, dist.ravel())


def test_bad_input_gets_clear_errors(fitted, digits):
    Xq = digits[2][:3]
    with pytest.raises(ValueError, match="n_neighbors"):
        fitted.kneighbors(Xq, n_neighbors=0)
    with pytest.raises(ValueError, match="when querying the database itself"):
        fitted.kneighbors(None, n_neighbors=fitted.n_indexed_)
    with pytest.raises(TypeError, match="n_neighbors must be an integer"):
        fitted.kneighbors(Xq, n_neighbors=2.5)
    with pytest.raises(ValueError, match="radius"):
        fitted.radius_neighbors(Xq, radius=-1)
    with pytest.raises(ValueError, match="radius"):
        fitted.radius_neighbors(Xq, radius=float("nan"))
    with pytest.raises(ValueError, match="n_candidates"):
        CoarseToFine(LSH(), LSH(), n_candidates=0).fit(digits[0])
    with pytest.raises(ValueError, match="X=None"):
        CoarseToFine(LSH(), ITQ(rerank="asymmetric")).fit(digits[0]).kneighbors()
    with pytest.raises(ValueError, match="labelled database"):
        CoarseToFine(LSH(), LSH()).fit(digits[0]).score(Xq, digits[3][:3])
    with pytest.raises(ValueError, match="features"):
        fitted.kneighbors(Xq[:, :10])


@pytest.mark.deep
def test_works_with_a_deep_fine_hasher(digits):
    pytest.importorskip("torch")
    from skhash import DSBH

    X, y, Xq, yq = digits
    fine = DSBH(
        n_bits=16,
        image_shape=(1, 8, 8),
        channels=(4, 4, 4),
        hidden=16,
        max_epochs=1,
        augmentation=None,
        device="cpu",
        random_state=0,
    )
    search = CoarseToFine(ITQ(8, random_state=0), fine, n_candidates=100).fit(X[:600], y[:600])
    for got, expected in zip(search.kneighbors(Xq, 5), _brute_force(search, Xq, 5), strict=True):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(search.embed(Xq) > 0, search.transform(Xq))


@parametrize_with_checks(
    [CoarseToFine(LSH(n_bits=4, random_state=0), LSH(n_bits=16, random_state=0), n_candidates=5)],
    expected_failed_checks=None,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("query", ["X", "None"])
def test_compiled_ranking_equals_numpy(digits, monkeypatch, query):
    import skhash.coarse_to_fine as module

    X, y, Xq, _ = digits
    search = CoarseToFine(ITQ(8, random_state=0), ITQ(24, random_state=0), n_candidates=200)
    search.fit(X, y)
    Xq = Xq if query == "X" else None
    expected = search.kneighbors(Xq, n_neighbors=9)
    monkeypatch.setattr(module, "COMPILED_MIN_CANDIDATES", 0)
    for got, want in zip(search.kneighbors(Xq, n_neighbors=9), expected, strict=True):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype


@pytest.mark.parametrize("rerank", ["asymmetric", "embedding"])
def test_the_fine_hashers_reranking_orders_the_candidates(digits, rerank):
    """With every item a candidate, the two stages rank as the fine hasher alone does;
    with fewer, the re-ranked neighbours come from the candidates."""
    X, y, Xq, yq = digits
    fine = ITQ(n_bits=16, random_state=0, rerank=rerank, rerank_factor=3)
    alone = clone(fine).fit(X, y)
    everything = CoarseToFine(LSH(n_bits=8, random_state=0), fine, n_candidates=len(X))
    everything.fit(X, y)
    dist, ind = everything.kneighbors(Xq, n_neighbors=7)
    want_dist, want_ind = alone.kneighbors(Xq, n_neighbors=7)
    assert dist.dtype == np.float64
    np.testing.assert_array_equal(ind, want_ind)
    np.testing.assert_allclose(dist, want_dist)
    got = everything.radius_neighbors(Xq[:20], radius=3)
    want = alone.radius_neighbors(Xq[:20], radius=3)
    for a, b in zip(got[1], want[1], strict=True):
        np.testing.assert_array_equal(a, b)
    assert everything.score(Xq, yq) == pytest.approx(alone.score(Xq, yq))

    few = CoarseToFine(LSH(n_bits=8, random_state=0), fine, n_candidates=50).fit(X, y)
    plain = CoarseToFine(LSH(n_bits=8, random_state=0), ITQ(n_bits=16, random_state=0))
    plain.set_params(n_candidates=50).fit(X, y)
    ind = few.kneighbors(Xq, n_neighbors=5, return_distance=False)
    hamming = plain.kneighbors(Xq, n_neighbors=15, return_distance=False)
    assert all(set(ind[i]) <= set(hamming[i]) for i in range(len(Xq)))
    assert 0 < few.score(Xq, yq) <= 1


def test_a_fused_multi_level_fine_hasher_orders_candidates_by_its_fusion(monkeypatch):
    pytest.importorskip("torch")
    from skhash.deep import DSBH, _base

    # Fit stores a fusion other than plain Hamming, whatever the tiny training gives.
    monkeypatch.setattr(_base, "learn_level_weights", lambda *a, **k: ({2: 0.25, 3: 1.0}, {}))
    X, y = load_digits(return_X_y=True)
    X = (X[:200] / 16).reshape(-1, 8, 8)
    fast = dict(max_epochs=1, batch_size=32, device="cpu", random_state=0, augmentation=None)
    fine = DSBH(n_bits=8, channels=(4, 6, 8), hidden=8, levels=(2, 3), **fast)
    coarse = DSBH(n_bits=4, channels=(4, 6, 8), hidden=8, **fast)
    # Every item a candidate: the two-stage search is then the fine hasher's own ranking.
    search = CoarseToFine(coarse, fine, n_candidates=200).fit(X, y[:200])
    assert search.fine_.level_weights_ == {2: 0.25, 3: 1.0}
    dist, ind = search.kneighbors(X[:10], n_neighbors=5)
    own_dist, own_ind = search.fine_.kneighbors(X[:10], n_neighbors=5)
    np.testing.assert_array_equal(ind, own_ind)
    np.testing.assert_allclose(dist, own_dist)
    assert dist.dtype == np.float64  # the weighted distance, not the Hamming one
