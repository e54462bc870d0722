"""Tests for skhash.metrics functions: hand-computed cases, ties, conventions, bad inputs."""

import itertools
import os
import pathlib
import subprocess
import sys
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import average_precision_score

from skhash.metrics import (
    TieOrderWarning,
    _validation,
    average_precision,
    mean_average_precision,
    precision_at_k,
    precision_recall_auc,
    precision_recall_curve,
    precision_within_radius,
    recall_at_k,
    retrieval_report,
)

NORMALIZE = ("retrieved", "relevant", "min_k_relevant")

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


def _ap_by_definition(ranked_relevance, n_relevant, k, normalize):
    """AP@k of one ranking, by a loop over its ranks."""
    hits, total = 0, 0.0
    for rank, rel in enumerate(ranked_relevance[:k], start=1):
        if rel:
            hits += 1
            total += hits / rank
    denominator = {
        "retrieved": hits,
        "relevant": n_relevant,
        "min_k_relevant": min(k, n_relevant),
    }[normalize]
    return total / denominator if denominator else 0.0


def _brute_force_tie_average(y_query, y_database, distances, metric):
    """Average ``metric(ranked relevance)`` over every ordering of the tied items, per query."""
    values = []
    for yq, row in zip(y_query, distances, strict=True):
        relevant = y_database == yq
        groups = [np.flatnonzero(row == v) for v in np.unique(row)]
        scores = []
        for perms in itertools.product(*(itertools.permutations(g) for g in groups)):
            scores.append(metric(relevant[np.concatenate(perms)]))
        values.append(np.mean(scores))
    return np.array(values)


@pytest.mark.parametrize("seed", range(6))
def test_tie_aware_matches_brute_force_over_permutations(seed):
    rng = np.random.default_rng(seed)
    n_db = int(rng.integers(2, 7))
    y_db = rng.integers(0, 2, n_db)
    y_q = rng.integers(0, 2, 3)
    d = rng.integers(0, 3, size=(3, n_db))
    for k, normalize in itertools.product([None, *range(1, n_db + 1)], NORMALIZE):
        top = n_db if k is None else k
        brute = _brute_force_tie_average(
            y_q, y_db, d, lambda rel, t=top, n=normalize: _ap_by_definition(rel, rel.sum(), t, n)
        )
        tie_aware = average_precision(y_q, y_db, d, k=k, normalize=normalize, tie_aware=True)
        assert_allclose(tie_aware, brute, atol=1e-12)
    for k in range(1, n_db + 1):
        brute = _brute_force_tie_average(y_q, y_db, d, lambda rel, k=k: rel[:k].sum() / k)
        assert precision_at_k(y_q, y_db, d, k, tie_aware=True) == pytest.approx(brute.mean())
        brute = _brute_force_tie_average(
            y_q, y_db, d, lambda rel, k=k: rel[:k].sum() / max(rel.sum(), 1)
        )
        assert recall_at_k(y_q, y_db, d, k, tie_aware=True) == pytest.approx(brute.mean())


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
    with pytest.warns(UndefinedMetricWarning, match="No query is left"):
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
    with pytest.warns(UndefinedMetricWarning, match="No query is left"):
        nan = precision_within_radius([1], Y_DB, [[3, 3, 3, 3]], 1, zero_division=np.nan)
    assert np.isnan(nan)


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


# -- conventions: the AP@k normaliser and which queries count ---------------------------------
def test_normalize_hand_computed():
    # Ranking relevance [1, 0, 0, 1, 1], R = 3 relevant items.
    y_db, d = [1, 0, 0, 1, 1], [[0, 1, 2, 3, 4]]
    # k=2: one hit at rank 1, sum of precisions 1. Divided by 1 hit, R=3, min(2, 3)=2.
    expected = {"retrieved": 1.0, "relevant": 1 / 3, "min_k_relevant": 1 / 2}
    for normalize, value in expected.items():
        assert_allclose(average_precision([1], y_db, d, k=2, normalize=normalize), [value])
    # k=4: hits at ranks 1 and 4, sum 1 + 2/4. Divided by 2, 3, min(4, 3)=3.
    expected = {"retrieved": 0.75, "relevant": 0.5, "min_k_relevant": 0.5}
    for normalize, value in expected.items():
        assert_allclose(average_precision([1], y_db, d, k=4, normalize=normalize), [value])
    # The whole database: every normaliser is R.
    for normalize in NORMALIZE:
        assert_allclose(average_precision([1], y_db, d, normalize=normalize), [0.7])


@pytest.mark.parametrize("normalize", NORMALIZE)
def test_normalize_matches_definition(normalize):
    rng = np.random.default_rng(4)
    y_db, y_q = rng.integers(0, 4, 50), rng.integers(0, 5, 8)  # label 4: nothing relevant
    d = rng.integers(0, 7, size=(8, 50))
    for k in (1, 5, 20, 50):
        expected = []
        for yq, row in zip(y_q, d, strict=True):
            ranked = (y_db == yq)[np.argsort(row, kind="stable")]
            expected.append(_ap_by_definition(ranked, ranked.sum(), k, normalize))
        assert_allclose(average_precision(y_q, y_db, d, k=k, normalize=normalize), expected)


def test_empty_queries_hand_computed():
    # Query 0 (label 0): AP 1. Query 1 (label 1): relevant items at ranks 2 and 3, so nothing
    # relevant in its top 1. Query 2 (label 7): nothing relevant in the database.
    y_db, d = [0, 1, 1, 0], [[0, 1, 2, 3], [0, 1, 1, 2], [0, 1, 2, 3]]
    y_q = [0, 1, 7]
    assert_allclose(average_precision(y_q, y_db, d, k=1), [1, 0, 0])
    assert_allclose(average_precision(y_q, y_db, d, k=1, empty_queries="skip"), [1, 0, np.nan])
    assert_allclose(
        average_precision(y_q, y_db, d, k=1, empty_queries="skip_unretrieved"), [1, np.nan, np.nan]
    )
    assert mean_average_precision(y_q, y_db, d, k=1) == pytest.approx(1 / 3)
    assert mean_average_precision(y_q, y_db, d, k=1, empty_queries="skip") == pytest.approx(0.5)
    assert mean_average_precision(y_q, y_db, d, k=1, empty_queries="skip_unretrieved") == 1.0
    # "skip" is defined with ties in expectation too: the left-out set does not depend on them.
    skipped = average_precision(y_q, y_db, d, tie_aware=True, empty_queries="skip")
    assert_allclose(skipped[:2], average_precision(y_q[:2], y_db, d[:2], tie_aware=True))
    assert np.isnan(skipped[2])


def test_empty_queries_errors_and_all_left_out():
    with pytest.raises(ValueError, match="depends on the order of ties"):
        mean_average_precision(Y_Q, Y_DB, D, tie_aware=True, empty_queries="skip_unretrieved")
    with pytest.raises(ValueError, match="empty_queries"):
        mean_average_precision(Y_Q, Y_DB, D, empty_queries="none")
    with pytest.raises(ValueError, match="normalize"):
        mean_average_precision(Y_Q, Y_DB, D, normalize="all")
    with pytest.warns(UndefinedMetricWarning, match="No query is left"):
        assert np.isnan(mean_average_precision([7, 8], Y_DB, D, empty_queries="skip"))


def test_precision_at_k_zero_division():
    # Query 1 has label 7: no relevant item. Its precision is zero_division, or left out.
    y_q = [0, 7]
    assert precision_at_k(y_q, Y_DB, D, 2) == pytest.approx(0.5)  # (1 + 0) / 2
    assert precision_at_k(y_q, Y_DB, D, 2, zero_division=1.0) == pytest.approx(1.0)
    assert precision_at_k(y_q, Y_DB, D, 2, zero_division=np.nan) == pytest.approx(1.0)
    assert_allclose(precision_at_k(y_q, Y_DB, D, [1, 4], zero_division=np.nan), [1.0, 0.5])
    with pytest.raises(ValueError, match="zero_division"):
        precision_at_k(y_q, Y_DB, D, 2, zero_division=0.5)


# -- tie order: explicit tie breaks and the sorted-database warning ---------------------------
def test_tie_break_permutation_is_a_database_order():
    rng = np.random.default_rng(5)
    y_db, y_q = rng.integers(0, 3, 30), rng.integers(0, 3, 6)
    d = rng.integers(0, 4, size=(6, 30))
    order = rng.permutation(30)
    for metric in (
        lambda *a, **o: average_precision(*a, k=10, **o),
        lambda *a, **o: precision_at_k(*a, [1, 5, 30], **o),
        lambda *a, **o: recall_at_k(*a, 7, **o),
    ):
        assert_allclose(
            metric(y_q, y_db, d, tie_break=order), metric(y_q, y_db[order], d[:, order])
        )
    # The identity is the default order.
    assert_allclose(
        average_precision(y_q, y_db, d, tie_break=np.arange(30)), average_precision(y_q, y_db, d)
    )


def test_tie_break_per_query_reproduces_a_given_ranking():
    # Another code's ranking (here: ties in reverse database order for query 0 and in database
    # order for query 1) is reproduced exactly by passing it as the tie break.
    ranking = np.array([[0, 2, 1, 3], [1, 3, 0, 2]])
    ap = average_precision(Y_Q, Y_DB, D, tie_break=ranking)
    # query 1 ranks 1 (rel), 3 (rel), 0, 2 -> AP 1.
    assert_allclose(ap, [1.0, 1.0])
    assert precision_at_k(Y_Q, Y_DB, D, 2, tie_break=ranking) == 1.0


@pytest.mark.parametrize(
    "tie_break, error, match",
    [
        ([0, 1, 2], ValueError, r"shape \(4,\)"),
        ([0, 1, 1, 2], ValueError, "permutation"),
        ([[0, 1, 2, 3]], ValueError, r"shape \(2, 4\)"),
        ([0.0, 1.0, 2.0, 3.0], TypeError, "permutation"),
    ],
)
def test_tie_break_errors(tie_break, error, match):
    with pytest.raises(error, match=match):
        mean_average_precision(Y_Q, Y_DB, D, tie_break=tie_break)


def test_tie_break_and_tie_aware_exclusive():
    with pytest.raises(ValueError, match="one or the other"):
        precision_at_k(Y_Q, Y_DB, D, 2, tie_aware=True, tie_break=[0, 1, 2, 3])


def _sorted_database(n_per_class=30, n_classes=4, n_bits=3, seed=0):
    rng = np.random.default_rng(seed)
    y_db = np.repeat(np.arange(n_classes), n_per_class)  # sorted by class
    y_q = rng.integers(0, n_classes, 10)
    d = rng.integers(0, n_bits + 1, size=(10, len(y_db)))  # few distances: many ties
    return y_q, y_db, d


def test_sorted_database_with_ties_warns():
    y_q, y_db, d = _sorted_database()
    for call in (
        lambda: mean_average_precision(y_q, y_db, d),
        lambda: average_precision(y_q, y_db, d, k=5),
        lambda: precision_at_k(y_q, y_db, d, 5),
        lambda: recall_at_k(y_q, y_db, d, 5),
        lambda: retrieval_report(y_q, y_db, d, k=5),
    ):
        with pytest.warns(TieOrderWarning, match="sorted by class"):
            call()
    # Multi-label databases stored in blocks of equal label rows are detected too.
    with pytest.warns(TieOrderWarning):
        mean_average_precision(np.eye(4)[y_q], np.eye(4)[y_db], d)


def test_no_tie_order_warning_when_order_does_not_matter():
    y_q, y_db, d = _sorted_database()
    shuffle = np.random.default_rng(1).permutation(len(y_db))
    no_ties = np.tile(np.arange(len(y_db)), (10, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", TieOrderWarning)
        mean_average_precision(y_q, y_db, d, tie_aware=True)
        mean_average_precision(y_q, y_db, d, tie_break=np.arange(len(y_db)))
        mean_average_precision(y_q, y_db[shuffle], d[:, shuffle])  # not sorted
        mean_average_precision(y_q, y_db, no_ties)  # no ties
        precision_within_radius(y_q, y_db, d, radius=1)  # a ball has no order
        mean_average_precision(Y_Q, Y_DB, D)  # too small to tell


def test_sorted_database_inflates_ties_in_database_order():
    # Why the warning exists: the same codes, the database sorted by class or shuffled.
    y_q, y_db, d = _sorted_database(n_bits=1)
    shuffle = np.random.default_rng(2).permutation(len(y_db))
    with pytest.warns(TieOrderWarning):
        as_stored = mean_average_precision(y_q, y_db, d)
    shuffled = mean_average_precision(y_q, y_db[shuffle], d[:, shuffle])
    tie_aware = mean_average_precision(y_q, y_db, d, tie_aware=True)
    assert tie_aware == pytest.approx(
        mean_average_precision(y_q, y_db[shuffle], d[:, shuffle], tie_aware=True)
    )
    assert abs(as_stored - tie_aware) > abs(shuffled - tie_aware)


# -- radius metrics: micro averaging and the area under the curve -----------------------------
def test_micro_average_hand_computed():
    # r=1: query 0 retrieves 2 items (2 relevant), query 1 retrieves 3 (2 relevant).
    # Macro: (1 + 2/3) / 2 = 5/6. Micro: 4 relevant pairs of 5 retrieved pairs.
    assert precision_within_radius(Y_Q, Y_DB, D, radius=1, average="micro") == pytest.approx(0.8)
    precision, recall, radii = precision_recall_curve(Y_Q, Y_DB, D, average="micro")
    # r=0: 2/2; r=1: 4/5; r=2: query 0 retrieves 3 (2 rel), query 1 all 4 (2 rel): 4/7; r=3: 4/8.
    assert_allclose(precision, [1, 0.8, 4 / 7, 0.5])
    # 4 relevant pairs in all: 2 found at r=0, all 4 from r=1.
    assert_allclose(recall, [0.5, 1, 1, 1])
    # An empty set of retrieved pairs: zero_division.
    far = np.full((2, 4), 5)
    assert precision_within_radius(Y_Q, Y_DB, far, 1, average="micro") == 0.0
    with pytest.warns(UndefinedMetricWarning):
        assert np.isnan(precision_within_radius(Y_Q, Y_DB, far, 1, zero_division=np.nan))


def test_micro_average_matches_pooled_pairs():
    rng = np.random.default_rng(6)
    y_db, y_q = rng.integers(0, 3, 40), rng.integers(0, 3, 7)
    d = rng.integers(0, 6, size=(7, 40))
    relevant = y_q[:, None] == y_db[None, :]
    precision, recall, radii = precision_recall_curve(y_q, y_db, d, average="micro")
    for r, p, rec in zip(radii, precision, recall, strict=True):
        inside = d <= r
        assert p == pytest.approx((relevant & inside).sum() / inside.sum())
        assert rec == pytest.approx((relevant & inside).sum() / relevant.sum())


def test_precision_recall_auc_conventions():
    # Curve (recall, precision): (0.5, 1), (1, 0.8), (1, 4/7), (1, 0.5). Starts at (0, 1); the
    # points of recall 1 count once (the first): 0.5 * 1 + 0.5 * (1 + 0.8) / 2.
    assert precision_recall_auc(Y_Q, Y_DB, D, average="micro") == pytest.approx(0.95)
    # Macro curve: (0.5, 1), (1, 5/6), ...: 0.5 + 0.5 * (1 + 5/6) / 2.
    assert precision_recall_auc(Y_Q, Y_DB, D) == pytest.approx(0.5 + (1 + 5 / 6) / 4)
    # An undefined precision takes the next defined one: at r=0 nothing is retrieved.
    d = D + 1
    precision, recall, _ = precision_recall_curve(
        Y_Q, Y_DB, d, zero_division=np.nan, average="micro"
    )
    assert np.isnan(precision[0]) and recall[0] == 0
    area = precision_recall_auc(Y_Q, Y_DB, d, zero_division=np.nan, average="micro")
    assert area == pytest.approx(0.95)  # the same curve, shifted by one radius


# -- inputs the fuzzer found ------------------------------------------------------------------
def test_huge_distances_rank_like_small_ones():
    for scale, dtype in ((10**10, np.int64), (1e20, np.float64), (2**62, np.uint64)):
        big = (D * scale).astype(dtype)
        for tie_aware in (False, True):
            assert mean_average_precision(Y_Q, Y_DB, big, tie_aware=tie_aware) == pytest.approx(
                mean_average_precision(Y_Q, Y_DB, D, tie_aware=tie_aware)
            )
        assert precision_at_k(Y_Q, Y_DB, big, 2, tie_aware=True) == pytest.approx(0.875)
        assert precision_within_radius(Y_Q, Y_DB, big, radius=scale) == pytest.approx(5 / 6)
    big = D.astype(np.uint64) + np.uint64(2**63)  # above int64: never wrapped to negatives
    assert mean_average_precision(Y_Q, Y_DB, big) == pytest.approx(11 / 12)
    with pytest.raises(ValueError, match="pass the radii"):
        precision_recall_curve(Y_Q, Y_DB, D * 10**10)


def test_huge_distances_memory_is_bounded():
    # A distance of 1e10 once sized a (n_queries, 1e10) histogram: 74.5 GiB.
    rng = np.random.default_rng(0)
    d = rng.integers(0, 2**40, size=(50, 2000))
    d[0, 0] = 10**10
    y = np.arange(2000) % 7
    tracemalloc.start()
    try:
        mean_average_precision(y[:50], y, d, tie_aware=True, k=100)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20


def test_huge_radius_and_k():
    # radius 1e300 retrieves everything: the base rate; k beyond int64 ranks everything.
    assert precision_within_radius(Y_Q, Y_DB, D, radius=1e300) == pytest.approx(0.5)
    assert mean_average_precision(Y_Q, Y_DB, D, k=2**70) == pytest.approx(11 / 12)
    assert_allclose(precision_recall_curve(Y_Q, Y_DB, D, radii=[0, 1e300])[0], [1, 0.5])
    with pytest.raises(ValueError, match="<= n_database"):
        precision_at_k(Y_Q, Y_DB, D, 2**70)
    with pytest.raises(ValueError, match="<= n_database"):
        recall_at_k(Y_Q, Y_DB, D, [1, 2**70])


def test_no_clipping_hides_a_value_outside_unit_interval():
    # average_precision no longer clips: every value is its formula's, in [0, 1] by itself.
    rng = np.random.default_rng(7)
    y_db, y_q = rng.integers(0, 2, 200), rng.integers(0, 2, 30)
    d = rng.integers(0, 3, size=(30, 200))
    for normalize in NORMALIZE:
        for tie_aware in (False, True):
            ap = average_precision(y_q, y_db, d, k=150, normalize=normalize, tie_aware=tie_aware)
            assert ap.min() >= 0 and ap.max() <= 1 + 1e-12


# -- labels -----------------------------------------------------------------------------------
def test_label_sets_equal_indicator_matrices():
    y_db_sets = [(0,), (1, 2), (0, 1), (2,)]
    y_db = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 0], [0, 0, 1]])
    y_q_sets = [(1,), (0, 2)]
    y_q = np.array([[0, 1, 0], [1, 0, 1]])
    d = np.array([[0, 1, 2, 3], [3, 2, 1, 0]])
    expected = average_precision(y_q, y_db, d)
    assert_allclose(average_precision(y_q_sets, y_db_sets, d), expected)
    assert_allclose(average_precision([{1}, {0, 2}], y_db_sets, d), expected)
    # Ragged lists are label sets too; an empty set is an item with no label.
    assert_allclose(average_precision([[1], [0, 2]], [[0], [1, 2], [0, 1], []], d)[0], 7 / 12)


@pytest.mark.parametrize(
    "y_database, error, match",
    [
        (np.zeros((4, 0)), ValueError, "no column"),
        ([("cat",), ("dog",), ("cat",), ()], ValueError, "MultiLabelBinarizer"),
        ([(0,), (-1,), (0,), ()], ValueError, ">= 0"),
        ([[0, 3], [1, 4], [0, 1], [2, 2]], ValueError, "label sets as tuples"),
    ],
)
def test_bad_label_matrices(y_database, error, match):
    with pytest.raises(error, match=match):
        mean_average_precision([[1, 0, 0]] * 2, y_database, D)


def test_query_label_sets_outside_the_database_columns():
    with pytest.raises(ValueError, match="3 columns"):
        mean_average_precision([(0,), (5,)], np.eye(3, dtype=int)[[0, 1, 2, 0]], D)


# -- properties against the definitions -------------------------------------------------------
@settings(max_examples=60)
@given(
    data=st.data(),
    n_db=st.integers(1, 6),
    n_q=st.integers(1, 3),
    normalize=st.sampled_from(NORMALIZE),
)
def test_property_ap_against_definition_and_permutations(data, n_db, n_q, normalize):
    y_db = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n_db, max_size=n_db)))
    y_q = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n_q, max_size=n_q)))
    d = np.array(
        data.draw(
            st.lists(
                st.lists(st.integers(0, 3), min_size=n_db, max_size=n_db),
                min_size=n_q,
                max_size=n_q,
            )
        )
    )
    k = data.draw(st.one_of(st.none(), st.integers(1, n_db + 2)))
    top = n_db if k is None else min(k, n_db)
    stable = average_precision(y_q, y_db, d, k=k, normalize=normalize)
    for yq, row, value in zip(y_q, d, stable, strict=True):
        ranked = (y_db == yq)[np.argsort(row, kind="stable")]
        assert value == pytest.approx(_ap_by_definition(ranked, ranked.sum(), top, normalize))
    brute = _brute_force_tie_average(
        y_q, y_db, d, lambda rel: _ap_by_definition(rel, rel.sum(), top, normalize)
    )
    tie_aware = average_precision(y_q, y_db, d, k=k, normalize=normalize, tie_aware=True)
    assert_allclose(tie_aware, brute, atol=1e-12)


def test_hypothesis_is_derandomised_in_ci():
    # tests/conftest.py loads a derandomised profile when CI=true, so property tests draw the
    # same examples on every CI run.
    code = (
        "import sys; sys.path.insert(0, 'tests'); import conftest; "
        "from hypothesis import settings; print(settings.default.derandomize)"
    )
    root = pathlib.Path(__file__).parents[1]
    for ci, expected in (("true", "True"), (None, "False")):
        env = {key: value for key, value in os.environ.items() if key != "CI"}
        if ci is not None:
            env["CI"] = ci
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True
        )
        assert out.stdout.strip() == expected, out.stderr
