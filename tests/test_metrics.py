"""Tests for skhash.metrics: hand-computed cases, ties, multi-label, scorers, bad inputs."""

import itertools
import re

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.metrics import average_precision_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skhash
from skhash.metrics import (
    _validation,
    average_precision,
    get_retrieval_scorer,
    make_retrieval_scorer,
    mean_average_precision,
    precision_at_k,
    precision_recall_curve,
    precision_within_radius,
    query_time,
    recall_at_k,
    retrieval_report,
)

# A tiny running example. Database labels [0, 1, 0, 1]; query 0 has label 0, query 1 label 1.
#   query 0: distances [0, 2, 1, 3] -> ranking 0 (rel), 2 (rel), 1, 3: no ties.
#   query 1: distances [1, 0, 2, 1] -> ranking 1 (rel, d=0), then items 0 (not rel) and 3 (rel)
#            tied at d=1 (database order puts 0 first), then 2 (not rel, d=2).
Y_DB = np.array([0, 1, 0, 1])
Y_Q = np.array([0, 1])
D = np.array([[0, 2, 1, 3], [1, 0, 2, 1]])


# -- average precision ------------------------------------------------------------------------
def test_average_precision_hand_computed():
    # query 0: relevant at ranks 1 and 2 -> (1/1 + 2/2) / 2 = 1.
    # query 1: relevant at ranks 1 and 3 -> (1/1 + 2/3) / 2 = 5/6.
    assert_allclose(average_precision(Y_Q, Y_DB, D), [1.0, 5 / 6])
    assert mean_average_precision(Y_Q, Y_DB, D) == pytest.approx((1 + 5 / 6) / 2)


def test_average_precision_at_k_divides_by_relevant_retrieved():
    # Ranking (no ties) relevance: [1, 0, 0, 1, 1].
    y_db = [1, 0, 0, 1, 1]
    d = [[0, 1, 2, 3, 4]]
    # AP@2: one relevant in the top 2, at rank 1 -> 1/1 / 1 = 1 (not 1/3: HashNet convention).
    assert_allclose(average_precision([1], y_db, d, k=2), [1.0])
    # AP@4: relevant at ranks 1 and 4 -> (1/1 + 2/4) / 2 = 0.75.
    assert_allclose(average_precision([1], y_db, d, k=4), [0.75])
    # Full AP: ranks 1, 4, 5 -> (1 + 2/4 + 3/5) / 3 = 0.7.
    assert_allclose(average_precision([1], y_db, d), [0.7])
    # k above the database size ranks the whole database.
    assert_allclose(average_precision([1], y_db, d, k=50), [0.7])
    # A query with nothing relevant in the top k scores 0: relevant items are at ranks 2, 3.
    assert_allclose(average_precision([1], [0, 1, 1], [[0, 1, 2]], k=1), [0.0])
    # ... and so does a query with no relevant item at all.
    assert_allclose(average_precision([7], y_db, d), [0.0])


def test_average_precision_matches_sklearn_without_ties():
    rng = np.random.default_rng(0)
    n_db = 30
    y_db = rng.integers(0, 3, n_db)
    y_q = rng.integers(0, 3, 5)
    d = np.stack([rng.permutation(n_db) for _ in range(5)])  # distinct distances: no ties
    expected = [average_precision_score(y_db == yq, -row) for yq, row in zip(y_q, d, strict=True)]
    assert_allclose(average_precision(y_q, y_db, d), expected)
    assert_allclose(average_precision(y_q, y_db, d, tie_aware=True), expected)


def test_multilabel_relevance():
    # Relevant = shares at least one label.
    y_db = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 0], [0, 0, 1]])
    y_q = np.array([[0, 1, 0], [1, 0, 1]])
    d = np.array([[0, 1, 2, 3], [3, 2, 1, 0]])
    # query 0 (class 1): relevant items 1, 2 at ranks 2, 3 -> (1/2 + 2/3) / 2 = 7/12.
    # query 1 (classes 0, 2): relevant items 0, 1, 2, 3 -> AP = 1; ranking 3, 2, 1, 0.
    assert_allclose(average_precision(y_q, y_db, d), [7 / 12, 1.0])
    # precision@2: query 0 has 1 relevant in {0, 1}; query 1 has 2 in {3, 2} -> (1/2 + 1) / 2.
    assert precision_at_k(y_q, y_db, d, 2) == pytest.approx(0.75)
    # recall@2: query 0: 1 of 2; query 1: 2 of 4 -> (1/2 + 1/2) / 2.
    assert recall_at_k(y_q, y_db, d, 2) == pytest.approx(0.5)
    # String class labels work in the single-label form.
    assert_allclose(average_precision(["a", "b"], ["a", "b", "a", "b"], D), [1.0, 5 / 6])


# -- ties -------------------------------------------------------------------------------------
def test_ties_database_order_versus_tie_aware():
    # query 1: items 0 (not rel) and 3 (rel) tied at d=1, ranks 2-3.
    #   database order (0 before 3): AP = (1 + 2/3) / 2 = 5/6.
    #   3 before 0: AP = (1 + 2/2) / 2 = 1. Tie-aware: mean of both = 11/12.
    assert_allclose(average_precision(Y_Q, Y_DB, D, tie_aware=True), [1.0, 11 / 12])
    # Swapping the tied items in the database changes the stable ranking, not the tie-aware one.
    swap = [3, 1, 2, 0]
    assert_allclose(average_precision(Y_Q, Y_DB[swap], D[:, swap]), [1.0, 1.0])
    assert_allclose(average_precision(Y_Q, Y_DB[swap], D[:, swap], tie_aware=True), [1, 11 / 12])
    # precision@2 of query 1: stable 1/2; tie-aware (1 + 1/2) / 2 = 3/4. Query 0: 1.
    assert precision_at_k(Y_Q, Y_DB, D, 2) == pytest.approx(0.75)
    assert precision_at_k(Y_Q, Y_DB, D, 2, tie_aware=True) == pytest.approx(0.875)
    # recall@2 of query 1: stable 1/2; tie-aware 3/4.
    assert recall_at_k(Y_Q, Y_DB, D, 2, tie_aware=True) == pytest.approx((1 + 0.75) / 2)
    # AP@2 of query 1: item 3 at rank 2 gives (1/1 + 2/2) / 2 = 1, item 0 gives 1/1 / 1 = 1.
    assert_allclose(average_precision(Y_Q, Y_DB, D, k=2, tie_aware=True), [1.0, 1.0])


def test_all_tied_database():
    # Every item at the same distance: tie-aware precision@k is the base rate, 2/5.
    y_db = [1, 0, 1, 0, 0]
    d = np.zeros((1, 5), dtype=int)
    assert_allclose(precision_at_k([1], y_db, d, [1, 3, 5], tie_aware=True), [0.4, 0.4, 0.4])
    # Database order: ranks 1 and 3 relevant -> precision@[1, 3, 5] = [1, 2/3, 2/5].
    assert_allclose(precision_at_k([1], y_db, d, [1, 3, 5]), [1, 2 / 3, 0.4])


def _brute_force_tie_average(y_query, y_database, distances, metric):
    """Average ``metric`` over every ordering of the tied items, query by query."""
    values = []
    for yq, row in zip(y_query, distances, strict=True):
        groups = [np.flatnonzero(row == v) for v in np.unique(row)]
        scores = []
        for perms in itertools.product(*(itertools.permutations(g) for g in groups)):
            order = np.concatenate(perms)
            scores.append(metric([yq], y_database[order], row[order][None, :]))
        values.append(np.mean(scores))
    return np.array(values)


@pytest.mark.parametrize("seed", range(6))
def test_tie_aware_matches_brute_force_over_permutations(seed):
    rng = np.random.default_rng(seed)
    n_db = int(rng.integers(2, 7))
    y_db = rng.integers(0, 2, n_db)
    y_q = rng.integers(0, 2, 3)
    d = rng.integers(0, 3, size=(3, n_db))
    for k in [None, *range(1, n_db + 1)]:
        brute = _brute_force_tie_average(
            y_q, y_db, d, lambda a, b, c, k=k: average_precision(a, b, c, k=k)[0]
        )
        assert_allclose(average_precision(y_q, y_db, d, k=k, tie_aware=True), brute, atol=1e-12)
        if k is None:
            continue
        for metric in (precision_at_k, recall_at_k):
            brute = _brute_force_tie_average(
                y_q, y_db, d, lambda a, b, c, k=k, metric=metric: metric(a, b, c, k)
            )
            assert metric(y_q, y_db, d, k, tie_aware=True) == pytest.approx(brute.mean())


def test_tie_aware_equals_stable_without_ties():
    rng = np.random.default_rng(3)
    y_db = rng.integers(0, 4, 40)
    y_q = rng.integers(0, 4, 6)
    d = np.stack([rng.permutation(40) for _ in range(6)])
    for k in (None, 1, 7, 40):
        assert_allclose(
            average_precision(y_q, y_db, d, k=k, tie_aware=True),
            average_precision(y_q, y_db, d, k=k),
        )
    ks = [1, 5, 40]
    assert_allclose(
        precision_at_k(y_q, y_db, d, ks, tie_aware=True), precision_at_k(y_q, y_db, d, ks)
    )


# -- precision and recall at k ----------------------------------------------------------------
def test_precision_and_recall_at_k_hand_computed():
    # Stable rankings' relevance: query 0 [1, 1, 0, 0]; query 1 [1, 0, 1, 0].
    # precision@1 = 1; @2 = (2/2 + 1/2) / 2 = 3/4; @3 = (2/3 + 2/3) / 2; @4 = 1/2.
    assert_allclose(precision_at_k(Y_Q, Y_DB, D, [1, 2, 3, 4]), [1, 0.75, 2 / 3, 0.5])
    # recall@1 = (1/2 + 1/2) / 2; @2 = (1 + 1/2) / 2; @3 = 1.
    assert_allclose(recall_at_k(Y_Q, Y_DB, D, [1, 2, 3]), [0.5, 0.75, 1.0])
    # A single k gives a float equal to the array entry.
    value = precision_at_k(Y_Q, Y_DB, D, 3)
    assert isinstance(value, float)
    assert value == pytest.approx(2 / 3)
    assert isinstance(recall_at_k(Y_Q, Y_DB, D, np.int64(2)), float)


def test_recall_zero_division():
    # Query label 5 has no relevant item: recall counts 0, 1, or is left out of the mean.
    y_q = [0, 5]
    assert recall_at_k(y_q, Y_DB, D, 1) == pytest.approx(0.25)  # (1/2 + 0) / 2
    assert recall_at_k(y_q, Y_DB, D, 1, zero_division=1.0) == pytest.approx(0.75)
    assert recall_at_k(y_q, Y_DB, D, 1, zero_division=np.nan) == pytest.approx(0.5)
    assert np.isnan(recall_at_k([5], Y_DB, D[:1], 1, zero_division=np.nan))


# -- radius metrics ---------------------------------------------------------------------------
def test_precision_within_radius_hand_computed():
    # radius 1: query 0 retrieves items 0, 2 (both relevant) -> 1; query 1 retrieves 1, 0, 3
    # (2 relevant) -> 2/3. Mean 5/6.
    assert precision_within_radius(Y_Q, Y_DB, D, radius=1) == pytest.approx(5 / 6)
    # radius 0: query 0 -> item 0 (rel) 1; query 1 -> item 1 (rel) 1.
    assert precision_within_radius(Y_Q, Y_DB, D, radius=0) == pytest.approx(1.0)
    # A float radius retrieves distances <= floor(radius).
    assert precision_within_radius(Y_Q, Y_DB, D, radius=1.5) == pytest.approx(5 / 6)


def test_precision_within_radius_empty_ball():
    # Query 1 is at distance 3 from everything: its radius-1 ball is empty.
    d = [[0, 2, 1, 3], [3, 3, 3, 3]]
    assert precision_within_radius(Y_Q, Y_DB, d, radius=1) == pytest.approx(0.5)  # (1 + 0) / 2
    assert precision_within_radius(Y_Q, Y_DB, d, 1, zero_division=1.0) == pytest.approx(1.0)
    assert precision_within_radius(Y_Q, Y_DB, d, 1, zero_division=np.nan) == pytest.approx(1.0)
    assert np.isnan(precision_within_radius([1], Y_DB, [[3, 3, 3, 3]], 1, zero_division=np.nan))


def test_precision_recall_curve_hand_computed():
    precision, recall, radii = precision_recall_curve(Y_Q, Y_DB, D)
    assert_allclose(radii, [0, 1, 2, 3])
    # r=0: q0 {0} P=1 R=1/2; q1 {1} P=1 R=1/2.
    # r=1: q0 {0, 2} P=1 R=1; q1 {1, 0, 3} P=2/3 R=1.
    # r=2: q0 {0, 1, 2} P=2/3; q1 all P=1/2 -> 7/12. r=3: all items, P = base rate 1/2.
    assert_allclose(precision, [1, 5 / 6, 7 / 12, 0.5])
    assert_allclose(recall, [0.5, 1, 1, 1])
    # Chosen radii; one above the largest distance retrieves everything.
    precision, recall, radii = precision_recall_curve(Y_Q, Y_DB, D, radii=[1, 10])
    assert_allclose(precision, [5 / 6, 0.5])
    assert_allclose(recall, [1, 1])
    assert_allclose(radii, [1, 10])


def test_precision_recall_curve_consistent_with_radius_precision():
    rng = np.random.default_rng(1)
    y_db, y_q = rng.integers(0, 3, 50), rng.integers(0, 3, 9)
    d = rng.integers(0, 9, size=(9, 50))
    precision, recall, radii = precision_recall_curve(y_q, y_db, d)
    assert_allclose(radii, np.arange(d.max() + 1))
    assert np.all(np.diff(recall) >= 0)
    for r in (0, 3, 8):
        assert precision[r] == pytest.approx(precision_within_radius(y_q, y_db, d, radius=r))


# -- chunking and report ----------------------------------------------------------------------
def test_chunked_computation_matches(monkeypatch):
    rng = np.random.default_rng(2)
    y_db, y_q = rng.integers(0, 3, 60), rng.integers(0, 3, 25)
    d = rng.integers(0, 6, size=(25, 60)).astype(np.int32)
    results = []
    for budget in (2**25, 1):  # one chunk; one query per chunk
        monkeypatch.setattr(_validation, "_CHUNK_BYTES", budget)
        results.append(
            [
                average_precision(y_q, y_db, d, k=10),
                average_precision(y_q, y_db, d, k=10, tie_aware=True),
                precision_at_k(y_q, y_db, d, [1, 10, 60], tie_aware=True),
                recall_at_k(y_q, y_db, d, [1, 10, 60]),
                precision_recall_curve(y_q, y_db, d)[0],
            ]
        )
    for a, b in zip(*results, strict=True):
        assert_allclose(a, b)


def test_retrieval_report():
    report = retrieval_report(Y_Q, Y_DB, D, k=2, radius=1)
    assert list(report) == ["mAP", "mAP@2", "precision@2", "recall@2", "precision_radius1"]
    # Values from the hand-computed tests above.
    assert_allclose(list(report.values()), [11 / 12, 1.0, 0.75, 0.75, 5 / 6])
    report = retrieval_report(Y_Q, Y_DB, D, k=(1, 3), tie_aware=True)
    assert report["mAP"] == pytest.approx((1 + 11 / 12) / 2)
    assert report["precision@3"] == pytest.approx(precision_at_k(Y_Q, Y_DB, D, 3))
    assert "precision_radius2" in report


# -- bad inputs -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "y_query, y_database, distances, error, match",
    [
        ([0, 1], [0, 1, 0, 1], [[0, 1, np.nan, 2], [0, 1, 2, 3]], ValueError, "NaN"),
        ([0, 1], [0, 1, 0, 1], [0, 1, 2, 3], ValueError, "2-D"),
        ([0, 1], [0, 1, 0], D, ValueError, "y_database has 3 labels"),
        ([0], Y_DB, D, ValueError, "y_query has 1 labels"),
        (Y_Q, Y_DB, -D, ValueError, "non-negative"),
        (Y_Q, Y_DB, D + 0.5, ValueError, "integer"),
        (Y_Q, Y_DB, D.astype(str), TypeError, "numeric"),
        (Y_Q, Y_DB, np.zeros((2, 0)), ValueError, "at least one"),
        (["a", "b"], Y_DB, D, TypeError, "different types"),
        (Y_Q, [[1, 0], [0, 1], [1, 0], [0, 1]], D, ValueError, "same label form"),
        ([[0, 2], [1, 0]], [[1, 0], [0, 1], [1, 0], [0, 1]], D, ValueError, "binary"),
        (None, Y_DB, D, ValueError, "y_query"),
    ],
)
def test_bad_inputs(y_query, y_database, distances, error, match):
    for metric in (
        mean_average_precision,
        lambda *args: precision_at_k(*args, 1),
        precision_recall_curve,
    ):
        with pytest.raises(error, match=match):
            metric(y_query, y_database, distances)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: average_precision(Y_Q, Y_DB, D, k=0), ValueError, "'k'"),
        (lambda: average_precision(Y_Q, Y_DB, D, k=True), TypeError, "integer"),
        (lambda: average_precision(Y_Q, Y_DB, D, k=2.0), TypeError, "'k'"),
        (lambda: precision_at_k(Y_Q, Y_DB, D, 5), ValueError, "n_database"),
        (lambda: precision_at_k(Y_Q, Y_DB, D, [1, 0]), ValueError, ">= 1"),
        (lambda: precision_at_k(Y_Q, Y_DB, D, [1.5]), TypeError, "integers"),
        (lambda: recall_at_k(Y_Q, Y_DB, D, 1, zero_division=0.5), ValueError, "zero_division"),
        (lambda: precision_within_radius(Y_Q, Y_DB, D, radius=-1), ValueError, "radius"),
        (lambda: precision_recall_curve(Y_Q, Y_DB, D, radii=[np.inf]), ValueError, "finite"),
        (lambda: precision_recall_curve(Y_Q, Y_DB, D, radii=[]), ValueError, "non-empty"),
    ],
)
def test_bad_parameters(call, error, match):
    with pytest.raises(error, match=match):
        call()


# -- scorers ----------------------------------------------------------------------------------
class _FakeHasher:
    """Just enough of a fitted hasher for the scorers: a fixed distance matrix."""

    def __init__(self, distances, database_labels):
        self.distances = np.asarray(distances)
        self.database_labels_ = database_labels
        self.n_calls = 0

    def hamming_distances(self, X):
        return self.distances[np.asarray(X).ravel()]

    def kneighbors(self, X, n_neighbors):
        self.n_calls += 1
        self.last_n_neighbors = n_neighbors


def test_scorer_on_fake_hasher():
    hasher = _FakeHasher(D, Y_DB)
    X = np.array([[0], [1]])  # rows of D
    assert make_retrieval_scorer()(hasher, X, Y_Q) == pytest.approx(11 / 12)
    assert get_retrieval_scorer("map@2")(hasher, X, Y_Q) == pytest.approx(1.0)
    assert get_retrieval_scorer("precision@2")(hasher, X, Y_Q) == pytest.approx(0.75)
    assert get_retrieval_scorer("precision@2_tie_aware")(hasher, X, Y_Q) == pytest.approx(0.875)
    assert get_retrieval_scorer("recall@1")(hasher, X, Y_Q) == pytest.approx(0.5)
    assert get_retrieval_scorer("precision_radius1")(hasher, X, Y_Q) == pytest.approx(5 / 6)
    hasher.database_labels_ = None
    with pytest.raises(ValueError, match="database_labels_ is None"):
        make_retrieval_scorer()(hasher, X, Y_Q)
    with pytest.raises(TypeError, match="hamming_distances"):
        make_retrieval_scorer()(StandardScaler().fit(X), X, Y_Q)


def test_scorer_repr_and_names():
    assert repr(make_retrieval_scorer()) == "make_retrieval_scorer('map')"
    assert repr(get_retrieval_scorer("map@100")) == "make_retrieval_scorer('map', k=100)"
    assert repr(get_retrieval_scorer("recall@5_tie_aware")) == (
        "make_retrieval_scorer('recall_at_k', k=5, tie_aware=True)"
    )
    assert repr(get_retrieval_scorer("precision_radius0")) == (
        "make_retrieval_scorer('precision_within_radius', radius=0)"
    )
    scorer = make_retrieval_scorer("map")
    assert get_retrieval_scorer(scorer) is scorer
    for name in ("map@0", "precision@", "ndcg@10", "precision_radius2_tie_aware", "MAP"):
        with pytest.raises(ValueError, match=re.escape(repr(name))):
            get_retrieval_scorer(name)
    with pytest.raises(ValueError, match="metric must be one of"):
        make_retrieval_scorer("accuracy")
    with pytest.raises(TypeError, match="'k'"):
        make_retrieval_scorer("precision_at_k")  # k is required
    with pytest.raises(TypeError, match="radius"):
        make_retrieval_scorer("map", radius=2)
    with pytest.raises(ValueError, match="single integer"):
        make_retrieval_scorer("precision_at_k", k=[1, 2])


def test_grid_search_with_hasher():
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=6, size=(3, 20))
    y = rng.integers(0, 3, 120)  # shuffled classes: every fold's database holds each class
    X = centers[y] + rng.normal(size=(120, 20))
    scoring = {"map": get_retrieval_scorer("map@20"), "p": get_retrieval_scorer("precision@5")}
    grid = GridSearchCV(
        skhash.ITQ(random_state=0),
        {"n_bits": [1, 8]},
        scoring=scoring,
        refit="map",
        cv=3,
        error_score="raise",
    ).fit(X, y)
    scores = grid.cv_results_["mean_test_map"]
    assert np.all((scores >= 0) & (scores <= 1))
    assert grid.best_params_ == {"n_bits": 8}
    assert np.all(grid.cv_results_["mean_test_p"] > 0)
    assert scores[1] > 0.9  # well-separated blobs
    # The scorer matches the metric computed by hand on the refitted hasher.
    best = grid.best_estimator_
    expected = mean_average_precision(y, y, best.hamming_distances(X), k=20)
    assert get_retrieval_scorer("map@20")(best, X, y) == pytest.approx(expected)
    # A pipeline ending with a hasher is scored through its last step.
    pipe = make_pipeline(StandardScaler(), skhash.LSH(n_bits=16, random_state=0)).fit(X, y)
    score = make_retrieval_scorer("map", k=20)(pipe, X, y)
    codes = pipe[-1].hamming_distances(pipe[:-1].transform(X))
    assert score == pytest.approx(mean_average_precision(y, y, codes, k=20))


# -- query time -------------------------------------------------------------------------------
def test_query_time():
    hasher = _FakeHasher(D, Y_DB)
    seconds = query_time(hasher, np.zeros((4, 2)), n_neighbors=3, n_repeats=5)
    assert seconds >= 0.0
    assert hasher.n_calls == 6  # one warm-up call, then five timed calls
    assert hasher.last_n_neighbors == 3
    hasher.index_ = type("Index", (), {"n_indexed_": 2})()
    query_time(hasher, np.zeros((4, 2)), n_neighbors=100, n_repeats=1)
    assert hasher.last_n_neighbors == 2  # capped at the database size
    with pytest.raises(ValueError, match="at least one query"):
        query_time(hasher, np.zeros((0, 2)))
    with pytest.raises(ValueError, match="n_repeats"):
        query_time(hasher, np.zeros((4, 2)), n_repeats=0)
