"""Graded and hierarchical relevance metrics, each against a direct loop over its formula.

The references below are written from the published formulas (nDCG, ACG and weighted mAP as
defined by Zhao et al., CVPR 2015; AHP by Deng et al., CVPR 2011), one query and one rank at
a time. The tie-aware variants are checked against the mean over every order of the
database (each order ranked with a stable sort, which breaks ties by it).
"""

import itertools
import math

import numpy as np
import pytest

import skhash
from skhash.datasets import load_digits
from skhash.metrics import (
    acg_at_k,
    get_retrieval_scorer,
    graded_relevance,
    make_retrieval_scorer,
    mean_average_hierarchical_precision,
    mean_average_precision,
    ndcg_at_k,
    precision_at_k,
    precision_within_radius,
    recall_at_k,
    weighted_map,
)

HIERARCHY = {0: 0, 1: 0, 2: 1, 3: 1, 4: 1, 5: 2}  # fine label -> coarse label


# -- direct references ---------------------------------------------------------------------------
def _grade(a, b, hierarchy):
    if np.ndim(a) == 1:  # indicator rows: number of shared labels
        return int(np.sum(np.asarray(a) * np.asarray(b)))
    if hierarchy is None:
        return int(a == b)
    return 2 if a == b else int(hierarchy[a] == hierarchy[b])


def _ranking(distances_row, order=None):
    """Indices of the database, nearest first; ties in ``order`` (database order default)."""
    order = range(len(distances_row)) if order is None else order
    position = {item: p for p, item in enumerate(order)}
    return sorted(range(len(distances_row)), key=lambda j: (distances_row[j], position[j]))


def _reference(metric, y_query, y_database, distances, k, hierarchy=None, order=None):
    values = []
    for q, row in enumerate(np.asarray(distances)):
        ranked = _ranking(row, order)[:k]
        r = [_grade(y_query[q], y_database[j], hierarchy) for j in ranked]
        every = sorted((_grade(y_query[q], y, hierarchy) for y in y_database), reverse=True)
        if metric == "acg":
            values.append(sum(r) / k)
        elif metric == "ndcg":
            dcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(r))
            ideal = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(every[:k]))
            values.append(dcg / ideal if ideal > 0 else 0.0)
        elif metric == "wmap":
            terms = [sum(r[: i + 1]) / (i + 1) for i in range(len(r)) if r[i] > 0]
            values.append(sum(terms) / len(terms) if terms else 0.0)
        else:  # mahp
            hp = []
            for j in range(1, k + 1):
                best = sum(every[:j])
                hp.append(sum(r[:j]) / best if best > 0 else 0.0)
            values.append(sum(hp) / k)
    return float(np.mean(values))


METRICS = {
    "acg": acg_at_k,
    "ndcg": ndcg_at_k,
    "wmap": weighted_map,
    "mahp": mean_average_hierarchical_precision,
}


def _problem(kind, rng, n_queries=6, n_database=30, n_bits=5):
    if kind == "multi-label":
        y_query = (rng.random((n_queries, 4)) < 0.4).astype(int)
        y_database = (rng.random((n_database, 4)) < 0.4).astype(int)
        hierarchy = None
    else:
        y_query = rng.integers(0, 6, n_queries)
        y_database = rng.integers(0, 6, n_database)
        hierarchy = HIERARCHY if kind == "hierarchy" else None
    distances = rng.integers(0, n_bits + 1, (n_queries, n_database))
    return y_query, y_database, distances, hierarchy


@pytest.mark.parametrize("metric", sorted(METRICS))
@pytest.mark.parametrize("kind", ["single-label", "multi-label", "hierarchy"])
@pytest.mark.parametrize("k", [1, 7, 30, 100])
def test_metric_matches_its_formula(metric, kind, k):
    rng = np.random.default_rng(hash((metric, kind, k)) % 2**32)
    y_query, y_database, distances, hierarchy = _problem(kind, rng)
    expected = _reference(metric, y_query, y_database, distances, min(k, 30), hierarchy)
    got = METRICS[metric](y_query, y_database, distances, k, hierarchy=hierarchy)
    assert got == pytest.approx(expected)


@pytest.mark.parametrize("metric", sorted(METRICS))
@pytest.mark.parametrize("kind", ["single-label", "multi-label", "hierarchy"])
@pytest.mark.parametrize("k", [1, 3, 6])
def test_tie_aware_is_the_mean_over_every_order(metric, kind, k):
    rng = np.random.default_rng(hash((metric, kind, k, "ties")) % 2**32)
    y_query, y_database, distances, hierarchy = _problem(
        kind, rng, n_queries=3, n_database=6, n_bits=2
    )
    orders = list(itertools.permutations(range(6)))
    expected = np.mean(
        [
            _reference(metric, y_query, y_database, distances, k, hierarchy, order)
            for order in orders
        ]
    )
    got = METRICS[metric](y_query, y_database, distances, k, tie_aware=True, hierarchy=hierarchy)
    assert got == pytest.approx(expected)


def test_binary_relevance_reduces_to_the_binary_metrics():
    rng = np.random.default_rng(0)
    y_query, y_database, distances, _ = _problem("single-label", rng, n_database=40)
    for tie_aware in (False, True):
        assert acg_at_k(y_query, y_database, distances, 10, tie_aware=tie_aware) == (
            pytest.approx(precision_at_k(y_query, y_database, distances, 10, tie_aware=tie_aware))
        )
        assert weighted_map(y_query, y_database, distances, 10, tie_aware=tie_aware) == (
            pytest.approx(
                mean_average_precision(y_query, y_database, distances, k=10, tie_aware=tie_aware)
            )
        )


def test_graded_relevance():
    assert graded_relevance([0, 2], [0, 1, 2, 5], hierarchy=HIERARCHY).tolist() == [
        [2, 1, 0, 0],
        [0, 0, 2, 0],
    ]
    assert graded_relevance([(0, 1, 2)], [(0,), (1, 2), (3,)]).tolist() == [[1, 2, 0]]
    # A hierarchy as an array (entry f is the coarse label of f), and string labels.
    assert graded_relevance([1], [0, 1, 2], hierarchy=[0, 0, 1]).tolist() == [[1, 2, 0]]
    words = {"cat": "animal", "dog": "animal", "car": "vehicle"}
    assert graded_relevance(["cat"], ["dog", "car", "cat"], hierarchy=words).tolist() == [
        [1, 0, 2]
    ]


def test_a_perfect_hierarchical_ranking_scores_one():
    y_database = np.array([0, 1, 2, 3, 5, 0, 1])
    grades = graded_relevance([0], y_database, hierarchy=HIERARCHY)[0]
    distances = (2 - grades)[None, :]  # fine matches first, then coarse, then the rest
    for metric in (ndcg_at_k, mean_average_hierarchical_precision):
        assert metric([0], y_database, distances, 5, hierarchy=HIERARCHY) == 1.0
    # Swapping a coarse match ahead of a fine one costs in both.
    worse = distances.copy()
    worse[0, [0, 1]] = worse[0, [1, 0]]
    for metric in (ndcg_at_k, mean_average_hierarchical_precision):
        assert metric([0], y_database, worse, 5, hierarchy=HIERARCHY) < 1.0


@pytest.mark.parametrize(
    "metric", [mean_average_precision, precision_at_k, recall_at_k, precision_within_radius]
)
def test_coarse_granularity_is_the_metric_of_the_coarse_labels(metric):
    rng = np.random.default_rng(1)
    y_query, y_database, distances, _ = _problem("hierarchy", rng, n_database=40)
    coarse = np.vectorize(HIERARCHY.get)
    args = () if metric in (mean_average_precision, precision_within_radius) else (10,)
    got = metric(y_query, y_database, distances, *args, hierarchy=HIERARCHY, granularity="coarse")
    assert got == pytest.approx(metric(coarse(y_query), coarse(y_database), distances, *args))
    fine = metric(y_query, y_database, distances, *args, hierarchy=HIERARCHY)
    assert fine == pytest.approx(metric(y_query, y_database, distances, *args))
    assert got != pytest.approx(fine)


def test_hierarchy_errors():
    y, distances = np.array([0, 1]), np.array([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="needs the hierarchy"):
        mean_average_precision(y, y, distances, granularity="coarse")
    with pytest.raises(ValueError, match=r"does not map.*\[7\]"):
        mean_average_precision([0, 7], y, distances, hierarchy={0: 0, 1: 0}, granularity="coarse")
    with pytest.raises(ValueError, match="does not map"):
        ndcg_at_k([0, 7], y, distances, 2, hierarchy={0: 0, 1: 0})
    with pytest.raises(ValueError, match="multi-label"):
        ndcg_at_k([(0, 1), (1,)], [(0,), (1,)], distances, 2, hierarchy={0: 0, 1: 0})
    with pytest.raises(ValueError, match="granularity"):
        mean_average_precision(y, y, distances, hierarchy={0: 0, 1: 0}, granularity="middle")
    with pytest.raises(ValueError, match="empty"):
        ndcg_at_k(y, y, distances, 2, hierarchy={})
    with pytest.raises(ValueError, match="distances"):
        ndcg_at_k(y, y, [[0, 1]], 2)


def test_graded_metrics_work_over_query_chunks(monkeypatch):
    from skhash.metrics import _graded

    rng = np.random.default_rng(3)
    y_query, y_database, distances, hierarchy = _problem("hierarchy", rng, n_queries=9)
    whole = mean_average_hierarchical_precision(
        y_query, y_database, distances, 10, hierarchy=hierarchy, tie_aware=True
    )
    monkeypatch.setattr(_graded, "_CHUNK_BYTES", 1)  # one query per chunk
    chunked = mean_average_hierarchical_precision(
        y_query, y_database, distances, 10, hierarchy=hierarchy, tie_aware=True
    )
    assert chunked == pytest.approx(whole)


def test_coarse_granularity_in_scorers_and_score():
    X, y = load_digits(return_X_y=True, shuffle=True, random_state=0)
    hierarchy = {0: 0, 6: 0, 8: 0, 9: 0, 1: 1, 4: 1, 7: 1, 2: 2, 3: 2, 5: 2}
    hasher = skhash.ITQ(n_bits=8, random_state=0).fit(X[:500], y[:500])
    Xq, yq = X[500:650], y[500:650]
    distances = hasher.hamming_distances(Xq)
    expected = mean_average_precision(
        yq, y[:500], distances, tie_aware=True, hierarchy=hierarchy, granularity="coarse"
    )
    scorer = make_retrieval_scorer("map", hierarchy=hierarchy, granularity="coarse")
    assert scorer(hasher, Xq, yq) == pytest.approx(expected)
    assert hasher.score(Xq, yq, hierarchy=hierarchy, granularity="coarse") == pytest.approx(
        expected
    )
    assert expected > get_retrieval_scorer("map")(hasher, Xq, yq)  # coarse is easier
    with pytest.raises(ValueError, match="needs the hierarchy"):
        make_retrieval_scorer("map", granularity="coarse")


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 12),
    st.sampled_from(["single-label", "multi-label", "hierarchy"]),
    st.sampled_from(sorted(METRICS)),
)
def test_property_formula_and_bounds(seed, k, kind, metric):
    rng = np.random.default_rng(seed)
    y_query, y_database, distances, hierarchy = _problem(kind, rng, n_queries=3, n_database=12)
    got = METRICS[metric](y_query, y_database, distances, k, hierarchy=hierarchy)
    assert got == pytest.approx(_reference(metric, y_query, y_database, distances, k, hierarchy))
    if metric in ("ndcg", "mahp"):
        assert 0.0 <= got <= 1.0 + 1e-12
