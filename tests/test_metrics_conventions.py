"""The options reproducing published evaluation codes (the table of the "Evaluation" guide).

Each test implements one published evaluation from its formula, as a short loop written here
(not the published code), on fixed codes, and checks that the skhash options of its table row
give the same number. Codes with ties are used on purpose: where a published code sorts with
an unstable sort, its ranking is passed to skhash as ``tie_break`` (and a stable-sort variant
is checked against skhash's default order).
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skhash.metrics import (
    average_precision,
    mean_average_precision,
    precision_at_k,
    precision_recall_auc,
    precision_recall_curve,
    precision_within_radius,
    recall_at_k,
)

N_BITS = 6


def _codes(rng, n):
    return rng.choice([-1.0, 1.0], size=(n, N_BITS))


@pytest.fixture(scope="module", params=["single-label", "multi-label"])
def problem(request):
    """Fixed ±1 codes, one-hot or multi-hot labels (as these codes take them), distances."""
    rng = np.random.default_rng(2024)
    query_codes, database_codes = _codes(rng, 15), _codes(rng, 60)
    if request.param == "single-label":
        y_query, y_database = rng.integers(0, 4, 15), rng.integers(0, 4, 60)
        y_query[-1] = 9  # a query with nothing relevant in the database
        Y_query = (y_query[:, None] == np.arange(10)).astype(int)
        Y_database = (y_database[:, None] == np.arange(10)).astype(int)
    else:
        Y_query = (rng.random((15, 5)) < 0.25).astype(int)
        Y_database = (rng.random((60, 5)) < 0.2).astype(int)
        Y_query[-1] = 0  # a query with no label: nothing relevant
        y_query, y_database = Y_query, Y_database
    # The Hamming distance as these codes compute it from the inner product of ±1 codes.
    hamming = 0.5 * (N_BITS - query_codes @ database_codes.T)
    return {
        "qB": query_codes,
        "rB": database_codes,
        "qL": Y_query,
        "rL": Y_database,
        "y_query": y_query,
        "y_database": y_database,
        "hamming": hamming,
        "distances": hamming.astype(np.int64),
        "relevant": (Y_query @ Y_database.T) > 0,
    }


def _ap_of_ranking(relevant_ranked):
    """Mean over the relevant positions p_j (j = 1, 2, ...) of j / p_j; 0 without any."""
    positions = np.flatnonzero(relevant_ranked) + 1
    if len(positions) == 0:
        return 0.0
    return float(np.mean(np.arange(1, len(positions) + 1) / positions))


# -- DeepHash-pytorch (utils/tools.py): CalcTopMap, CalcTopMapWithPR ---------------------------
def _deephash_pytorch_top_map(p, topk, kind):
    """Per query: rank by Hamming distance, keep the top ``topk`` (``topk=-1`` slices off the
    last item), average j / p_j over the relevant ones; queries without any add 0 to a sum
    divided by the number of queries. Returns the mAP and each query's ranking."""
    total, rankings = 0.0, []
    for i in range(len(p["qL"])):
        relevant = p["relevant"][i]
        order = np.argsort(p["hamming"][i], kind=kind)
        rankings.append(order)
        total += _ap_of_ranking(relevant[order][0:topk])
    return total / len(p["qL"]), np.array(rankings)


@pytest.mark.parametrize("topk", [10, 30, -1])
def test_deephash_pytorch_calc_top_map(problem, topk):
    n_database = len(problem["rL"])
    k = n_database - 1 if topk == -1 else topk  # CalcTopMap slices gnd[0:topk]
    args = (problem["y_query"], problem["y_database"], problem["distances"])
    stable, _ = _deephash_pytorch_top_map(problem, topk, kind="stable")
    assert mean_average_precision(*args, k=k) == pytest.approx(stable, rel=0, abs=1e-15)
    # Its own np.argsort (quicksort: ties in an order numpy does not specify), reproduced.
    published, ranking = _deephash_pytorch_top_map(problem, topk, kind="quicksort")
    assert mean_average_precision(*args, k=k, tie_break=ranking) == pytest.approx(
        published, abs=1e-15
    )


def test_deephash_pytorch_calc_top_map_with_pr(problem):
    # The precision and recall curves at every rank, averaged over the queries with a
    # relevant item in the top topk only (the mAP still counts the others as 0).
    topk = 20
    n_database = len(problem["rL"])
    rankings, precision_rows, recall_rows = [], [], []
    for i in range(len(problem["qL"])):
        relevant = problem["relevant"][i]
        order = np.argsort(problem["hamming"][i], kind="stable")
        rankings.append(order)
        ranked = relevant[order]
        if ranked[:topk].sum() == 0:
            continue
        found = np.cumsum(ranked)
        precision_rows.append(found / np.arange(1, n_database + 1))
        recall_rows.append(found / ranked.sum())
    expected_precision = np.mean(precision_rows, axis=0)
    expected_recall = np.mean(recall_rows, axis=0)

    args = (problem["y_query"], problem["y_database"], problem["distances"])
    ap = average_precision(*args, k=topk, empty_queries="skip_unretrieved")
    kept = ~np.isnan(ap)
    ks = np.arange(1, n_database + 1)
    kept_args = (problem["y_query"][kept], problem["y_database"], problem["distances"][kept])
    assert_allclose(precision_at_k(*kept_args, ks), expected_precision, rtol=0, atol=1e-15)
    assert_allclose(recall_at_k(*kept_args, ks), expected_recall, rtol=0, atol=1e-15)
    assert kept.sum() < len(kept)  # the fixture has queries that this convention leaves out


# -- HashNet: pytorch/src/test.py and the caffe predict_parallel.py ---------------------------
def _hashnet(p, R, *, skip):
    """Rank by the inner product of the codes, descending (argsort of -sim over axis 0);
    average j / p_j over the relevant items of the top R. ``skip="unretrieved"`` (pytorch
    test.py): queries with none there are left out. ``skip="empty"`` (caffe): queries with
    no relevant item in the database are left out, the others score 0 when none is in the
    top R."""
    similarity = p["rB"] @ p["qB"].T
    ids = np.argsort(-similarity, axis=0)
    values = []
    for i in range(len(p["qL"])):
        relevant = p["relevant"][i]
        if skip == "empty" and not relevant.any():
            continue
        ranked = relevant[ids[:, i]][:R]
        if skip == "unretrieved" and not ranked.any():
            continue
        values.append(_ap_of_ranking(ranked))
    return float(np.mean(values)), ids.T


@pytest.mark.parametrize("R", [5, 25, 60])
@pytest.mark.parametrize(
    "code, skip, empty_queries",
    [("pytorch test.py", "unretrieved", "skip_unretrieved"), ("caffe", "empty", "skip")],
)
def test_hashnet(problem, R, code, skip, empty_queries):
    expected, ranking = _hashnet(problem, R, skip=skip)
    args = (problem["y_query"], problem["y_database"], problem["distances"])
    value = mean_average_precision(*args, k=R, empty_queries=empty_queries, tie_break=ranking)
    assert value == pytest.approx(expected, rel=0, abs=1e-15)


# -- thulab/DeepHash (DeepHash/evaluation/__init__.py) ----------------------------------------
def test_thulab_deephash_get_maps(problem):
    # The R nearest (argpartition: which of the items tied at the boundary is unspecified),
    # sorted by distance; queries without a relevant item among them are left out.
    R = 12
    dist = -(problem["qB"] @ problem["rB"].T)  # dist_type="inner_product"
    values, rankings = [], []
    for i in range(len(problem["qL"])):
        nearest = np.argpartition(dist[i], R - 1)[:R]
        nearest = nearest[np.argsort(dist[i][nearest])]
        rest = np.setdiff1d(np.arange(dist.shape[1]), nearest)
        rankings.append(np.concatenate([nearest, rest[np.argsort(dist[i][rest])]]))
        ranked = problem["relevant"][i][nearest]
        if ranked.any():
            values.append(_ap_of_ranking(ranked))
    args = (problem["y_query"], problem["y_database"], problem["distances"])
    value = mean_average_precision(
        *args, k=R, empty_queries="skip_unretrieved", tie_break=np.array(rankings)
    )
    assert value == pytest.approx(np.mean(values), rel=0, abs=1e-15)


def test_thulab_deephash_precision_within_radius(problem):
    # Per query, the fraction of relevant items within the radius; 0 for an empty ball.
    radius = 2
    values = []
    for i in range(len(problem["qL"])):
        inside = problem["hamming"][i] <= radius
        values.append(problem["relevant"][i][inside].mean() if inside.any() else 0.0)
    args = (problem["y_query"], problem["y_database"], problem["distances"])
    assert precision_within_radius(*args, radius=radius) == pytest.approx(
        np.mean(values), rel=0, abs=1e-15
    )


# -- DPSH (jiangqy/DPSH-pytorch, utils/CalcHammingRanking.py) ---------------------------------
def test_dpsh_calc_map(problem):
    # The whole database ranked; queries without a relevant item add 0 (divided by all).
    # (DPSH's CalcTopMap is DeepHash-pytorch's CalcTopMap, tested above.)
    total = 0.0
    for i in range(len(problem["qL"])):
        relevant = problem["relevant"][i]
        if relevant.any():
            total += _ap_of_ranking(relevant[np.argsort(problem["hamming"][i], kind="stable")])
    args = (problem["y_query"], problem["y_database"], problem["distances"])
    assert mean_average_precision(*args) == pytest.approx(
        total / len(problem["qL"]), rel=0, abs=1e-15
    )


# -- ITQ/SH/SDH-era MATLAB: recall_precision.m and area_RP.m ----------------------------------
def _matlab_recall_precision(relevant, hamming, *, eps):
    """Pooled pairs within radius n - 1 for n = 1 .. max distance: good / retrieved pairs,
    good / all good pairs. Without ``eps`` an empty set gives 0/0 = NaN; with it, 0."""
    max_hamm = int(hamming.max())
    precision, recall = np.empty(max_hamm), np.empty(max_hamm)
    for n in range(1, max_hamm + 1):
        inside = hamming <= (n - 1) + 0.00001
        good, retrieved = relevant[inside].sum(), inside.sum()
        with np.errstate(invalid="ignore"):
            precision[n - 1] = good / (retrieved + (2.2e-16 if eps else 0))
        recall[n - 1] = good / relevant.sum()
    return recall, precision


def _matlab_area_rp(recall, precision):
    """Start at (0, first precision) unless recall starts at 0; keep one point per recall
    value (MATLAB's unique: sorted, first occurrence); a NaN precision takes the next
    value; trapezoids."""
    if recall[0] != 0:
        xx, yy = np.concatenate([[0], recall]), np.concatenate([precision[:1], precision])
    else:
        xx, yy = recall.copy(), precision.copy()
    xx, first = np.unique(xx, return_index=True)
    yy = yy[first]
    for ic in range(len(xx) - 1, -1, -1):
        if not yy[ic] >= 0:
            yy[ic] = yy[ic + 1]
    return sum(0.5 * (xx[i + 1] - xx[i]) * (yy[i + 1] + yy[i]) for i in range(len(xx) - 1))


@pytest.mark.parametrize("shift", [0, 2])  # 2: nothing within radius 0 or 1 (0/0 precision)
@pytest.mark.parametrize("eps", [False, True])
def test_matlab_recall_precision_and_area(problem, shift, eps):
    hamming = problem["hamming"] + shift
    recall, precision = _matlab_recall_precision(problem["relevant"], hamming, eps=eps)
    args = (problem["y_query"], problem["y_database"], hamming.astype(int))
    options = dict(
        radii=np.arange(hamming.max()), average="micro", zero_division=0.0 if eps else np.nan
    )
    got_precision, got_recall, _ = precision_recall_curve(*args, **options)
    assert_allclose(got_precision, precision, rtol=0, atol=1e-15)
    assert_allclose(got_recall, recall, rtol=0, atol=1e-15)
    area = precision_recall_auc(*args, **options)
    assert area == pytest.approx(_matlab_area_rp(recall, precision), rel=0, abs=1e-15)


# -- trec_eval: map and map_cut ---------------------------------------------------------------
@pytest.mark.parametrize("cutoff", [5, 20, None])
def test_trec_eval_map_cut(problem, cutoff):
    # Documents sorted by score descending, ties by docno descending (strcmp); per query,
    # the precisions at the relevant documents up to the cutoff, divided by all relevant
    # documents; 0 for a query without any (it still counts).
    docnos = [f"doc{j:03d}" for j in range(len(problem["rL"]))]
    score = -problem["hamming"]
    values = []
    for i in range(len(problem["qL"])):
        order = _trec_order(score[i], docnos)
        relevant = problem["relevant"][i]
        ranked = relevant[order][: cutoff or len(order)]
        hits = np.cumsum(ranked)
        total = np.sum(hits[ranked] / (np.flatnonzero(ranked) + 1))
        values.append(total / relevant.sum() if relevant.any() else 0.0)
    args = (problem["y_query"], problem["y_database"], problem["distances"])
    n_database = len(docnos)
    value = mean_average_precision(
        *args, k=cutoff, normalize="relevant", tie_break=np.arange(n_database)[::-1]
    )
    assert value == pytest.approx(np.mean(values), rel=0, abs=1e-15)


def _trec_order(score, docnos):
    """trec_eval's order: score descending, equal scores by docno descending."""
    by_docno = sorted(range(len(docnos)), key=lambda j: docnos[j], reverse=True)
    return sorted(by_docno, key=lambda j: -score[j])  # a stable sort keeps the docno order


# -- torchmetrics: RetrievalMAP(top_k, empty_target_action) -----------------------------------
@pytest.mark.parametrize("top_k", [5, 60])
@pytest.mark.parametrize("empty_target_action", ["neg", "skip"])
def test_torchmetrics_retrieval_map(problem, top_k, empty_target_action):
    # Scores must be positive (non-positive ones count as not relevant): n_bits + 1 - d.
    # Per query: the top_k by score, j / p_j averaged over the relevant ones, 0 without any;
    # a query with no relevant document at all scores 0 ("neg") or is left out ("skip").
    scores = N_BITS + 1 - problem["hamming"]
    values = []
    for i in range(len(problem["qL"])):
        relevant = problem["relevant"][i] & (scores[i] > 0)
        if not relevant.any() and empty_target_action == "skip":
            continue
        order = np.argsort(-scores[i], kind="stable")[:top_k]
        values.append(_ap_of_ranking(relevant[order]))
    args = (problem["y_query"], problem["y_database"], problem["distances"])
    empty = {"neg": "zero", "skip": "skip"}[empty_target_action]
    value = mean_average_precision(*args, k=top_k, empty_queries=empty)
    assert value == pytest.approx(np.mean(values), rel=0, abs=1e-15)


# -- Kaggle apk / mapk (benhamner/Metrics) ----------------------------------------------------
@pytest.mark.parametrize("k", [1, 10, 60])
def test_kaggle_mapk(problem, k):
    # apk: over the first k predicted ids, hits / rank summed at each new hit, divided by
    # min(len(actual), k); 0 when actual is empty. mapk: the mean over queries.
    values = []
    for i in range(len(problem["qL"])):
        actual = set(np.flatnonzero(problem["relevant"][i]).tolist())
        predicted = np.argsort(problem["hamming"][i], kind="stable")[:k].tolist()
        score, hits = 0.0, 0
        for rank, item in enumerate(predicted, start=1):
            if item in actual and item not in predicted[: rank - 1]:
                hits += 1
                score += hits / rank
        values.append(score / min(len(actual), k) if actual else 0.0)
    args = (problem["y_query"], problem["y_database"], problem["distances"])
    value = mean_average_precision(*args, k=k, normalize="min_k_relevant")
    assert value == pytest.approx(np.mean(values), rel=0, abs=1e-15)


def test_the_conventions_differ_on_these_codes(problem):
    # The rows above could only pass together if their options mattered: on these codes,
    # each convention gives its own number, and the unstable sorts their own tie order.
    args = (problem["y_query"], problem["y_database"], problem["distances"])
    k = 3
    values = [
        mean_average_precision(*args, k=k),
        mean_average_precision(*args, k=k, empty_queries="skip"),
        mean_average_precision(*args, k=k, empty_queries="skip_unretrieved"),
        mean_average_precision(*args, k=k, normalize="relevant"),
        mean_average_precision(*args, k=k, normalize="min_k_relevant"),
        mean_average_precision(*args, k=k, tie_aware=True),
    ]
    assert len(np.unique(np.round(values, 12))) == len(values)
    _, ranking = _deephash_pytorch_top_map(problem, k, kind="quicksort")
    assert mean_average_precision(*args, k=k, tie_break=ranking) != pytest.approx(values[0])
