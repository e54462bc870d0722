"""Tests of the scorers, ``BaseHasher.score`` and model selection with them."""

import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError, UndefinedMetricWarning
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skhash
from skhash.datasets import load_digits
from skhash.metrics import (
    TieOrderWarning,
    _scorer,
    get_retrieval_scorer,
    make_retrieval_scorer,
    mean_average_precision,
    precision_at_k,
    query_time,
)

# The running example of test_metrics.py: query 1 has items 0 (not relevant) and 3 (relevant)
# tied at distance 1. Database order: mAP 11/12; tie-aware: (1 + 11/12) / 2.
Y_DB = np.array([0, 1, 0, 1])
Y_Q = np.array([0, 1])
D = np.array([[0, 2, 1, 3], [1, 0, 2, 1]])


class _FixedIndex:
    """A database whose distances to query ``i`` are row ``i`` of a fixed matrix."""

    def __init__(self, distances):
        self.distances_ = np.asarray(distances)
        self.n_indexed_ = self.distances_.shape[1]
        self.n_calls = 0
        self.rows_asked = []

    def distances(self, codes):
        self.rows_asked.append(len(codes))
        return self.distances_[codes]


class _FixedHasher:
    """Just enough of a fitted hasher for the scorers: the "code" of query ``i`` is ``i``."""

    def __init__(self, distances, database_labels):
        self.index_ = _FixedIndex(distances)
        self.database_labels_ = database_labels
        self.n_calls = 0

    def transform(self, X):
        return np.asarray(X).ravel()

    def kneighbors(self, X, n_neighbors):
        self.n_calls += 1
        self.last_n_neighbors = n_neighbors


X_ROWS = np.array([[0], [1]])  # the queries of D


def test_scorers_on_fixed_distances():
    hasher = _FixedHasher(D, Y_DB)
    # Ranking scorers are tie-aware unless told otherwise.
    assert make_retrieval_scorer()(hasher, X_ROWS, Y_Q) == pytest.approx((1 + 11 / 12) / 2)
    assert get_retrieval_scorer("map")(hasher, X_ROWS, Y_Q) == pytest.approx((1 + 11 / 12) / 2)
    assert get_retrieval_scorer("map_database_order")(hasher, X_ROWS, Y_Q) == pytest.approx(
        11 / 12
    )
    assert make_retrieval_scorer(tie_aware=False)(hasher, X_ROWS, Y_Q) == pytest.approx(11 / 12)
    assert get_retrieval_scorer("map@2")(hasher, X_ROWS, Y_Q) == pytest.approx(1.0)
    assert get_retrieval_scorer("precision@2")(hasher, X_ROWS, Y_Q) == pytest.approx(0.875)
    assert get_retrieval_scorer("precision@2_tie_aware")(hasher, X_ROWS, Y_Q) == pytest.approx(
        0.875
    )
    assert get_retrieval_scorer("precision@2_database_order")(
        hasher, X_ROWS, Y_Q
    ) == pytest.approx(0.75)
    assert get_retrieval_scorer("recall@1")(hasher, X_ROWS, Y_Q) == pytest.approx(0.5)
    assert get_retrieval_scorer("precision_radius1")(hasher, X_ROWS, Y_Q) == pytest.approx(5 / 6)
    micro = make_retrieval_scorer("precision_within_radius", radius=1, average="micro")
    assert micro(hasher, X_ROWS, Y_Q) == pytest.approx(0.8)


def test_scorer_conventions_match_the_functions():
    hasher = _FixedHasher(D, Y_DB)
    y_q = np.array([0, 7])  # query 1: nothing relevant
    for options in (
        dict(empty_queries="skip"),
        dict(k=1, empty_queries="skip_unretrieved", tie_aware=False),
        dict(k=3, normalize="relevant"),
        dict(k=3, normalize="min_k_relevant", tie_aware=False),
        dict(tie_aware=False, tie_break=np.array([3, 2, 1, 0])),
    ):
        expected = mean_average_precision(y_q, Y_DB, D, **{"tie_aware": True, **options})
        with pytest.warns(UndefinedMetricWarning, match="1 of the 2 queries"):
            value = make_retrieval_scorer("map", **options)(hasher, X_ROWS, y_q)
        assert value == pytest.approx(expected)
    scorer = make_retrieval_scorer("precision_at_k", k=2, zero_division=np.nan)
    with pytest.warns(UndefinedMetricWarning):
        value = scorer(hasher, X_ROWS, y_q)
    assert value == pytest.approx(precision_at_k([0], Y_DB, D[:1], 2, tie_aware=True))


def test_scorer_errors():
    hasher = _FixedHasher(D, Y_DB)
    with pytest.raises(ValueError, match="labels y of the queries"):
        make_retrieval_scorer()(hasher, X_ROWS, None)
    with pytest.raises(ValueError, match="y has 1 labels"):
        make_retrieval_scorer()(hasher, X_ROWS, [0])
    with pytest.raises(TypeError, match="different types"):
        make_retrieval_scorer()(hasher, X_ROWS, ["a", "b"])
    hasher.database_labels_ = None
    with pytest.raises(ValueError, match="database_labels_ is None"):
        make_retrieval_scorer()(hasher, X_ROWS, Y_Q)
    with pytest.raises(TypeError, match="scores hashers"):
        make_retrieval_scorer()(StandardScaler().fit(X_ROWS), X_ROWS, Y_Q)
    with pytest.raises(NotFittedError):
        make_retrieval_scorer()(skhash.ITQ(), X_ROWS, Y_Q)


def test_scorer_repr_and_names():
    assert repr(make_retrieval_scorer()) == "make_retrieval_scorer('map')"
    assert repr(get_retrieval_scorer("map@100")) == "make_retrieval_scorer('map', k=100)"
    assert repr(get_retrieval_scorer("recall@5_tie_aware")) == (
        "make_retrieval_scorer('recall_at_k', k=5, tie_aware=True)"
    )
    assert repr(get_retrieval_scorer("map@10_database_order")) == (
        "make_retrieval_scorer('map', k=10, tie_aware=False)"
    )
    assert repr(get_retrieval_scorer("precision_radius0")) == (
        "make_retrieval_scorer('precision_within_radius', radius=0)"
    )
    scorer = make_retrieval_scorer("map")
    assert get_retrieval_scorer(scorer) is scorer
    for name in (
        "map@0",
        "precision@",
        "ndcg@10",
        "precision_radius2_tie_aware",
        "precision_radius2_database_order",
        "MAP",
    ):
        with pytest.raises(ValueError, match=re.escape(repr(name))):
            get_retrieval_scorer(name)


@pytest.mark.parametrize(
    "metric, kwargs, error, match",
    [
        ("accuracy", {}, ValueError, "metric must be one of"),
        ("precision_at_k", {}, TypeError, "'k'"),  # k is required
        ("map", {"radius": 2}, TypeError, "radius"),
        ("precision_at_k", {"k": [1, 2]}, ValueError, "single integer"),
        # Option values are checked when the scorer is made, not at the first split.
        ("map", {"normalize": "all"}, ValueError, "normalize"),
        ("map", {"empty_queries": "skip_unretrieved"}, ValueError, "order of ties"),
        ("map", {"tie_aware": "yes"}, TypeError, "tie_aware"),
        ("recall_at_k", {"k": 0}, ValueError, ">= 1"),
        ("precision_within_radius", {"radius": -1}, ValueError, ">= 0"),
        ("precision_within_radius", {"average": "weighted"}, ValueError, "average"),
    ],
)
def test_make_scorer_checks_its_options(metric, kwargs, error, match):
    with pytest.raises(error, match=match):
        make_retrieval_scorer(metric, **kwargs)


def test_scorer_works_over_query_chunks_with_bounded_memory(monkeypatch):
    rng = np.random.default_rng(0)
    y_db, y_q = rng.integers(0, 4, 300), rng.integers(0, 4, 50)
    d = rng.integers(0, 9, size=(50, 300))
    queries = np.arange(50)[:, None]
    scorers = [
        get_retrieval_scorer("map"),
        get_retrieval_scorer("map@20_database_order"),
        get_retrieval_scorer("precision@10"),
        make_retrieval_scorer("precision_within_radius", radius=3, average="micro"),
        make_retrieval_scorer(
            "map",
            tie_aware=False,
            tie_break=rng.permuted(np.tile(np.arange(300), (50, 1)), axis=1),
        ),
    ]
    whole = [scorer(_FixedHasher(d, y_db), queries, y_q) for scorer in scorers]
    monkeypatch.setattr(_scorer, "_DISTANCE_CHUNK_BYTES", 7 * 4 * 300)  # 7 queries at a time
    for scorer, expected in zip(scorers, whole, strict=True):
        hasher = _FixedHasher(d, y_db)
        assert scorer(hasher, queries, y_q) == pytest.approx(expected, rel=1e-12)
        assert max(hasher.index_.rows_asked) == 7  # never the whole distance matrix
        assert sum(hasher.index_.rows_asked) == 50


# -- real hashers ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True, shuffle=True, random_state=0)
    return X[:600], y[:600], X[600:800], y[600:800]


def test_score_is_the_tie_aware_map_scorer(digits):
    X, y, Xq, yq = digits
    hasher = skhash.ITQ(n_bits=8, random_state=0).fit(X, y)
    distances = hasher.hamming_distances(Xq)
    assert hasher.score(Xq, yq) == pytest.approx(
        mean_average_precision(yq, y, distances, tie_aware=True)
    )
    assert hasher.score(Xq, yq, tie_aware=False) == pytest.approx(
        mean_average_precision(yq, y, distances)
    )
    assert hasher.score(Xq, yq, k=50, normalize="relevant") == pytest.approx(
        mean_average_precision(yq, y, distances, k=50, normalize="relevant", tie_aware=True)
    )
    assert hasher.score(Xq, yq) == pytest.approx(get_retrieval_scorer("map")(hasher, Xq, yq))


def test_score_errors(digits):
    X, y, Xq, yq = digits
    hasher = skhash.ITQ(n_bits=8, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"score\(\) needs the labels y"):
        hasher.score(Xq, None)
    with pytest.raises(ValueError, match="empty_queries"):
        hasher.score(Xq, yq, empty_queries="all")
    with pytest.raises(ValueError, match="no column"):
        skhash.ITQ(n_bits=8).fit(X, np.zeros((len(X), 0)))


def test_label_sets_through_fit_and_score(digits):
    X, y, Xq, yq = digits
    sets = [(int(c), 10 + int(c) % 2) for c in y]  # the digit and "even"/"odd"
    query_sets = [(int(c), 10 + int(c) % 2) for c in yq]
    hasher = skhash.ITQ(n_bits=16, random_state=0).fit(X, sets)
    assert hasher.database_labels_.shape == (len(X), 12)
    indicator = np.zeros((len(Xq), 12), dtype=np.uint8)
    indicator[np.arange(len(Xq)), yq] = 1
    indicator[np.arange(len(Xq)), 10 + yq % 2] = 1
    assert hasher.score(Xq, query_sets) == pytest.approx(hasher.score(Xq, indicator))
    hasher.add(Xq[:3], query_sets[:3])
    assert hasher.database_labels_.shape == (len(X) + 3, 12)
    with pytest.raises(ValueError, match="12 columns"):
        hasher.score(Xq[:2], [(12,), (0,)])


def test_no_shared_label_warning_suggests_a_splitter_for_multilabel():
    from skhash.utils.validation import warn_if_nothing_relevant

    with pytest.warns(UndefinedMetricWarning, match=r"KFold\(5, shuffle=True\)"):
        warn_if_nothing_relevant(np.array([[0, 1]]), np.array([[1, 0]]))
    with pytest.warns(UndefinedMetricWarning, match=r"StratifiedKFold\(5, shuffle=True\)"):
        warn_if_nothing_relevant(np.array([1]), np.array([0]))
    # ... and what it suggests works for multi-label y.
    X, y = load_digits(return_X_y=True)
    X, y = X[:600], y[:600]
    Y = np.eye(10, dtype=np.uint8)[y]
    Y[:, 0] |= y % 2 == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", UndefinedMetricWarning)
        scores = cross_val_score(
            skhash.PCAHashing(n_bits=8), X, Y, cv=KFold(3, shuffle=True, random_state=0)
        )
    assert scores.min() > 0.3


def test_grid_search_scorers_equal_the_metrics(digits):
    X, y, _, _ = digits
    scoring = {"map": get_retrieval_scorer("map@20"), "p": get_retrieval_scorer("precision@5")}
    grid = GridSearchCV(
        skhash.ITQ(random_state=0),
        {"n_bits": [2, 16]},
        scoring=scoring,
        refit="map",
        cv=KFold(3),
        error_score="raise",
    ).fit(X, y)
    # Each split's score is the metric on that split's fitted hasher, recomputed here.
    for i, n_bits in enumerate([2, 16]):
        expected = []
        for train, test in KFold(3).split(X):
            hasher = skhash.ITQ(n_bits=n_bits, random_state=0).fit(X[train], y[train])
            d = hasher.hamming_distances(X[test])
            expected.append(mean_average_precision(y[test], y[train], d, k=20, tie_aware=True))
        assert grid.cv_results_["mean_test_map"][i] == pytest.approx(np.mean(expected))
    assert grid.best_params_ == {"n_bits": 16}
    # A pipeline ending with a hasher is scored through its last step.
    pipe = make_pipeline(StandardScaler(), skhash.LSH(n_bits=16, random_state=0)).fit(X, y)
    score = make_retrieval_scorer("map", k=20)(pipe, X, y)
    distances = pipe[-1].hamming_distances(pipe[:-1].transform(X))
    assert score == pytest.approx(mean_average_precision(y, y, distances, k=20, tie_aware=True))


def _sorted_folds(y, n_splits=5):
    """StratifiedKFold on class-sorted data, and the same folds with shuffled training rows."""
    rng = np.random.default_rng(0)
    folds = list(StratifiedKFold(n_splits).split(np.zeros(len(y)), y))
    return folds, [(rng.permutation(train), test) for train, test in folds]


def test_model_selection_is_not_biased_by_tie_order_digits():
    # Digits sorted by class (as load_image_folder returns images): unshuffled folds keep
    # each training part sorted, and database-order ties then reward the shortest codes.
    X, y = load_digits(return_X_y=True)
    order = np.argsort(y, kind="stable")
    X, y = X[order], y[order]
    sorted_folds, shuffled_folds = _sorted_folds(y)
    grid = {"n_bits": [2, 8]}

    def search(cv, scoring=None):
        scoring = None if scoring is None else get_retrieval_scorer(scoring)
        search = GridSearchCV(skhash.PCAHashing(), grid, cv=cv, scoring=scoring, refit=False)
        return search.fit(X, y)

    default_sorted = search(sorted_folds).cv_results_["mean_test_score"]
    default_shuffled = search(shuffled_folds).cv_results_["mean_test_score"]
    # The default score does not depend on the database order ...
    np.testing.assert_allclose(default_sorted, default_shuffled, atol=1e-3)
    # ... while ties in database order inflate the 2-bit score on the sorted database, and warn.
    with pytest.warns(TieOrderWarning):
        order_sorted = search(sorted_folds, "map_database_order").cv_results_["mean_test_score"]
    assert order_sorted[0] - default_sorted[0] > 0.05


@pytest.mark.slow
def test_model_selection_is_not_biased_by_tie_order_mnist():
    # The reproducer of the issue: ITQ on the MNIST subset (sorted by class), unshuffled
    # StratifiedKFold. Ties in database order scored 4 bits at 0.335 against 0.282 tie-aware.
    X, y = skhash.datasets.load_mnist_5k(return_X_y=True)
    sorted_folds, shuffled_folds = _sorted_folds(y)
    grid = {"n_bits": [4, 8, 16, 32]}
    default_sorted = GridSearchCV(skhash.ITQ(random_state=0), grid, cv=sorted_folds).fit(X, y)
    scores = default_sorted.cv_results_["mean_test_score"]
    four_bits = GridSearchCV(skhash.ITQ(random_state=0), {"n_bits": [4]}, cv=shuffled_folds)
    assert scores[0] == pytest.approx(four_bits.fit(X, y).best_score_, abs=2e-3)
    with pytest.warns(TieOrderWarning):
        by_order = GridSearchCV(
            skhash.ITQ(random_state=0),
            {"n_bits": [4]},
            cv=sorted_folds,
            scoring=get_retrieval_scorer("map_database_order"),
        ).fit(X, y)
    assert by_order.best_score_ - scores[0] > 0.03
    assert np.all(np.diff(scores) > 0) and default_sorted.best_params_ == {"n_bits": 32}


# -- query time --------------------------------------------------------------------------------
def test_query_time():
    hasher = _FixedHasher(D, Y_DB)
    del hasher.index_
    query_time(hasher, np.zeros((4, 2)), n_neighbors=3, n_repeats=5)
    assert hasher.n_calls == 6  # one warm-up call, then five timed calls
    assert hasher.last_n_neighbors == 3
    hasher.index_ = type("Index", (), {"n_indexed_": 2})()
    query_time(hasher, np.zeros((4, 2)), n_neighbors=100, n_repeats=1)
    assert hasher.last_n_neighbors == 2  # capped at the database size
    with pytest.raises(ValueError, match="at least one query"):
        query_time(hasher, np.zeros((0, 2)))
    with pytest.raises(ValueError, match="n_repeats"):
        query_time(hasher, np.zeros((4, 2)), n_repeats=0)
