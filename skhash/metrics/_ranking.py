"""Ranking metrics for Hamming retrieval: average precision, precision@k, recall@k.

The database is ranked for each query by Hamming distance. By default, items at equal distance
keep their database order (a stable sort), as a Hamming index returns them. With
``tie_aware=True`` the metrics are instead the expectation over every ordering of the tied
items, computed in closed form (He et al., "Hashing as Tie-Aware Learning to Rank", CVPR 2018),
which does not depend on the database order.
"""

from numbers import Integral, Real

import numpy as np
from scipy.special import gammaln
from sklearn.utils._param_validation import Interval, Options, validate_params

from ._validation import (
    check_k,
    check_retrieval_inputs,
    check_zero_division,
    distance_histograms,
    iter_query_chunks,
    safe_mean,
)

__all__ = ["average_precision", "mean_average_precision", "precision_at_k", "recall_at_k"]


# -- ranking in database order (stable sort) -------------------------------------------------
def _ranked_relevance(relevant, distances, n_top):
    """Relevance of the ``n_top`` first items of each query's ranking, ties by database order."""
    if distances.max() < 2**16:
        distances = distances.astype(np.uint16)  # numpy radix-sorts small integers
    order = np.argsort(distances, axis=1, kind="stable")[:, :n_top]
    return np.take_along_axis(relevant, order, axis=1)


def _average_precision_stable(relevant, distances, k):
    ranked = _ranked_relevance(relevant, distances, k)
    hits = np.cumsum(ranked, axis=1)
    precision = hits / np.arange(1, k + 1)
    n_hits = hits[:, -1]
    total = np.where(ranked, precision, 0.0).sum(axis=1)
    return np.divide(total, n_hits, out=np.zeros(len(total)), where=n_hits > 0)


# -- tie-aware closed forms -------------------------------------------------------------------
def _harmonic(n):
    """``H[i] = 1 + 1/2 + ... + 1/i`` for ``i = 0..n``."""
    return np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, n + 1))])


def _expected_precision_sum(n_before, hits_before, m, x, harmonic):
    """Expected ``sum_i rel_i * P@i`` over ``m`` tied positions holding ``x`` relevant items.

    The positions are ranks ``n_before + 1 .. n_before + m``, preceded by ``hits_before``
    relevant items, and the ``x`` relevant items are placed uniformly at random among them.
    Position ``j`` is relevant with probability ``x / m``; given that, the other ``x - 1``
    relevant items fill the other ``m - 1`` positions uniformly, so the expected number of
    relevant items up to rank ``n_before + j`` is ``hits_before + 1 + (j - 1)(x - 1)/(m - 1)``.
    Summing over ``j`` with ``s0 = sum_j 1/(n_before + j)`` and
    ``s1 = sum_j (j - 1)/(n_before + j) = m - (n_before + 1) s0`` gives the closed form.
    """
    m = np.asarray(m, dtype=np.int64)
    s0 = harmonic[n_before + m] - harmonic[n_before]
    s1 = m - (n_before + 1) * s0
    with np.errstate(divide="ignore", invalid="ignore"):
        p_rel = np.where(m > 0, x / np.maximum(m, 1), 0.0)
        spread = np.where(m > 1, (x - 1) / np.maximum(m - 1, 1), 0.0)
    return np.where(x > 0, p_rel * ((hits_before + 1) * s0 + spread * s1), 0.0)


def _log_binomial(n, k):
    return gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)


def _hypergeometric_pmf(x, population, successes, draws):
    """P(x relevant among ``draws`` items drawn from ``population`` holding ``successes``)."""
    support = (x <= successes) & (draws - x <= population - successes) & (x <= draws)
    x = np.where(support, x, 0)
    log_pmf = (
        _log_binomial(successes, x)
        + _log_binomial(np.maximum(population - successes, draws - x), draws - x)
        - _log_binomial(population, draws)
    )
    return np.where(support, np.exp(log_pmf), 0.0)


def _tie_groups(relevant, distances, n_values):
    """Per query and distance value: group sizes, hits, and counts strictly before."""
    counts, hits = distance_histograms(relevant, distances, n_values)
    n_upto = np.cumsum(counts, axis=1)
    hits_upto = np.cumsum(hits, axis=1)
    return counts, hits, n_upto - counts, hits_upto - hits, n_upto


def _straddling_group(n_upto, k):
    """Index of the tie group holding rank ``k`` (the first whose cumulative size >= k)."""
    return (n_upto < k).sum(axis=1)


def _average_precision_tie_aware(relevant, distances, k, n_values, harmonic):
    counts, hits, n_before, hits_before, n_upto = _tie_groups(relevant, distances, n_values)
    group_terms = _expected_precision_sum(n_before, hits_before, counts, hits, harmonic)
    n_database = distances.shape[1]
    if k >= n_database:
        n_relevant = hits.sum(axis=1)
        total = group_terms.sum(axis=1)
        return np.divide(total, n_relevant, out=np.zeros(len(total)), where=n_relevant > 0)
    # Groups ranked entirely before the group holding rank k contribute deterministically in
    # expectation; in that group only m = k - n_before items are kept, of which a
    # hypergeometric number x is relevant. The AP@k denominator is hits_before + x, so the
    # expectation is taken over x exactly.
    rows = np.arange(len(distances))
    t = _straddling_group(n_upto, k)
    earlier = (np.cumsum(group_terms, axis=1) - group_terms)[rows, t]
    n_t, r_t = counts[rows, t], hits[rows, t]
    nb_t, hb_t = n_before[rows, t], hits_before[rows, t]
    m = k - nb_t
    xs = np.arange(int(np.minimum(m, r_t).max()) + 1)[None, :]
    col = (slice(None), None)
    pmf = _hypergeometric_pmf(xs, n_t[col], r_t[col], m[col])
    partial = _expected_precision_sum(nb_t[col], hb_t[col], m[col], xs, harmonic)
    denominator = hb_t[col] + xs
    value = np.divide(
        earlier[col] + partial,
        denominator,
        out=np.zeros(pmf.shape),
        where=denominator > 0,
    )
    return (pmf * value).sum(axis=1)


def _hits_at_k(relevant, distances, ks, tie_aware, n_values):
    """Number of relevant items in the top ``k`` (expected, when tie-aware), per query and k."""
    if not tie_aware:
        hits = np.cumsum(_ranked_relevance(relevant, distances, ks.max()), axis=1)
        return hits[:, ks - 1].astype(float)
    counts, hits, n_before, hits_before, n_upto = _tie_groups(relevant, distances, n_values)
    rows = np.arange(len(distances))[:, None]
    t = np.stack([_straddling_group(n_upto, k) for k in ks], axis=1)
    m = ks[None, :] - n_before[rows, t]
    return hits_before[rows, t] + m * hits[rows, t] / counts[rows, t]


# -- public functions -------------------------------------------------------------------------
_COMMON = {
    "y_query": ["array-like"],
    "y_database": ["array-like"],
    "distances": ["array-like"],
    "tie_aware": ["boolean"],
}


@validate_params(
    {**_COMMON, "k": [Interval(Integral, 1, None, closed="left"), None]},
    prefer_skip_nested_validation=True,
)
def average_precision(y_query, y_database, distances, *, k=None, tie_aware=False):
    """Average precision of each query's Hamming ranking of the database.

    The database is ranked by increasing distance to the query, equal distances in database
    order (unless ``tie_aware``). With ``rel_i`` the relevance of the item at rank ``i``
    (relevant = shares a label with the query) and ``P@i`` the precision of the top ``i``,

    ``AP@k = sum_{i <= k} P@i * rel_i / sum_{i <= k} rel_i``,

    i.e. the precision is averaged over the relevant items *retrieved in the top k* (the
    convention of HashNet and DeepHash-pytorch, used by most deep hashing papers). With
    ``k=None`` the whole database is ranked and the denominator is the number of relevant
    items. A query with no relevant item in its top ``k`` scores 0.

    Parameters
    ----------
    y_query : array-like of shape (n_queries,) or (n_queries, n_classes)
        Query labels: class labels (1-D) or a binary label-indicator matrix (multi-label).
    y_database : array-like of shape (n_database,) or (n_database, n_classes)
        Database labels, in the same form as ``y_query``.
    distances : array-like of shape (n_queries, n_database)
        Integer Hamming distances, e.g. from ``hasher.hamming_distances(X)`` or
        :func:`skhash.index.hamming_distances`.
    k : int, default=None
        Cut-off rank; None (or a value above ``n_database``) ranks the whole database.
    tie_aware : bool, default=False
        If True, return the expected AP over all orderings of items at equal distance
        (He et al., CVPR 2018), in closed form, instead of breaking ties by database order.

    Returns
    -------
    ap : ndarray of shape (n_queries,)
        Average precision of each query, in [0, 1].

    See Also
    --------
    mean_average_precision : The mean of these values.

    Examples
    --------
    >>> from skhash.metrics import average_precision
    >>> y_database = [0, 1, 0, 1]
    >>> distances = [[0, 2, 1, 3], [1, 0, 2, 1]]
    >>> average_precision([0, 1], y_database, distances)
    array([1.        , 0.83333333])
    >>> average_precision([0, 1], y_database, distances, k=2)
    array([1., 1.])
    >>> average_precision([0, 1], y_database, distances, tie_aware=True)
    array([1.        , 0.91666667])
    """
    y_query, y_database, distances = check_retrieval_inputs(y_query, y_database, distances)
    n_database = distances.shape[1]
    k = n_database if k is None else int(check_k(k, n_database, clip=True)[0][0])
    n_values = int(distances.max()) + 1
    harmonic = _harmonic(n_database) if tie_aware else None
    ap = np.empty(len(distances))
    for rows, relevant, dist in iter_query_chunks(y_query, y_database, distances):
        if tie_aware:
            ap[rows] = _average_precision_tie_aware(relevant, dist, k, n_values, harmonic)
        else:
            ap[rows] = _average_precision_stable(relevant, dist, k)
    return np.clip(ap, 0.0, 1.0)


@validate_params(
    {**_COMMON, "k": [Interval(Integral, 1, None, closed="left"), None]},
    prefer_skip_nested_validation=True,
)
def mean_average_precision(y_query, y_database, distances, *, k=None, tie_aware=False):
    """Mean average precision (mAP or mAP@k) of Hamming retrieval.

    The mean over queries of :func:`average_precision`: per query,
    ``AP@k = sum_{i <= k} P@i * rel_i / sum_{i <= k} rel_i`` (HashNet / DeepHash-pytorch
    convention), 0 for a query with no relevant item in its top ``k``.

    Parameters
    ----------
    y_query : array-like of shape (n_queries,) or (n_queries, n_classes)
        Query labels: class labels (1-D) or a binary label-indicator matrix (multi-label).
    y_database : array-like of shape (n_database,) or (n_database, n_classes)
        Database labels, in the same form as ``y_query``.
    distances : array-like of shape (n_queries, n_database)
        Integer Hamming distances.
    k : int, default=None
        Cut-off rank; None (or a value above ``n_database``) ranks the whole database.
    tie_aware : bool, default=False
        If True, average over all orderings of items at equal distance instead of breaking
        ties by database order.

    Returns
    -------
    score : float
        Mean average precision in [0, 1].

    Examples
    --------
    >>> from skhash.metrics import mean_average_precision
    >>> y_database = [0, 1, 0, 1]
    >>> distances = [[0, 2, 1, 3], [1, 0, 2, 1]]
    >>> round(mean_average_precision([0, 1], y_database, distances), 4)
    0.9167
    """
    ap = average_precision(y_query, y_database, distances, k=k, tie_aware=tie_aware)
    return float(ap.mean())


def _mean_hits_ratio(y_query, y_database, distances, k, tie_aware, kind, zero_division):
    y_query, y_database, distances = check_retrieval_inputs(y_query, y_database, distances)
    ks, scalar = check_k(k, distances.shape[1], allow_array=True)
    n_values = int(distances.max()) + 1
    values = np.empty((len(distances), len(ks)))
    for rows, relevant, dist in iter_query_chunks(y_query, y_database, distances):
        hits = _hits_at_k(relevant, dist, ks, tie_aware, n_values)
        if kind == "precision":
            values[rows] = hits / ks
        else:
            n_relevant = relevant.sum(axis=1)[:, None]
            values[rows] = np.where(
                n_relevant > 0, hits / np.maximum(n_relevant, 1), zero_division
            )
    means = np.array([safe_mean(column) for column in values.T])
    means = np.clip(means, 0.0, 1.0)
    return float(means[0]) if scalar else means


@validate_params(
    {**_COMMON, "k": [Interval(Integral, 1, None, closed="left"), "array-like"]},
    prefer_skip_nested_validation=True,
)
def precision_at_k(y_query, y_database, distances, k, *, tie_aware=False):
    """Mean precision of the top ``k`` items of each query's Hamming ranking.

    Parameters
    ----------
    y_query : array-like of shape (n_queries,) or (n_queries, n_classes)
        Query labels: class labels (1-D) or a binary label-indicator matrix (multi-label).
    y_database : array-like of shape (n_database,) or (n_database, n_classes)
        Database labels, in the same form as ``y_query``.
    distances : array-like of shape (n_queries, n_database)
        Integer Hamming distances.
    k : int or array-like of int
        Number of top-ranked items, from 1 to ``n_database``; an array of values gives a
        precision curve.
    tie_aware : bool, default=False
        If True, return the expected precision over all orderings of items at equal distance
        instead of breaking ties by database order.

    Returns
    -------
    precision : float or ndarray of shape (n_k,)
        Mean over queries of (relevant items in the top ``k``) / ``k``; an array when ``k``
        is an array.

    Examples
    --------
    >>> from skhash.metrics import precision_at_k
    >>> y_database = [0, 1, 0, 1]
    >>> distances = [[0, 2, 1, 3], [1, 0, 2, 1]]
    >>> precision_at_k([0, 1], y_database, distances, k=2)
    0.75
    >>> precision_at_k([0, 1], y_database, distances, k=[1, 2, 4])
    array([1.  , 0.75, 0.5 ])
    >>> precision_at_k([0, 1], y_database, distances, k=2, tie_aware=True)
    0.875
    """
    return _mean_hits_ratio(y_query, y_database, distances, k, tie_aware, "precision", 0.0)


@validate_params(
    {
        **_COMMON,
        "k": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "zero_division": [Options(Real, {0.0, 1.0}), "nan"],
    },
    prefer_skip_nested_validation=True,
)
def recall_at_k(y_query, y_database, distances, k, *, tie_aware=False, zero_division=0.0):
    """Mean recall of the top ``k`` items of each query's Hamming ranking.

    Parameters
    ----------
    y_query : array-like of shape (n_queries,) or (n_queries, n_classes)
        Query labels: class labels (1-D) or a binary label-indicator matrix (multi-label).
    y_database : array-like of shape (n_database,) or (n_database, n_classes)
        Database labels, in the same form as ``y_query``.
    distances : array-like of shape (n_queries, n_database)
        Integer Hamming distances.
    k : int or array-like of int
        Number of top-ranked items, from 1 to ``n_database``; an array of values gives a
        recall curve.
    tie_aware : bool, default=False
        If True, return the expected recall over all orderings of items at equal distance
        instead of breaking ties by database order.
    zero_division : {0.0, 1.0, np.nan}, default=0.0
        Recall of a query with no relevant item in the database; ``np.nan`` leaves such
        queries out of the mean.

    Returns
    -------
    recall : float or ndarray of shape (n_k,)
        Mean over queries of (relevant items in the top ``k``) / (relevant items in the
        database); an array when ``k`` is an array.

    Examples
    --------
    >>> from skhash.metrics import recall_at_k
    >>> y_database = [0, 1, 0, 1]
    >>> distances = [[0, 2, 1, 3], [1, 0, 2, 1]]
    >>> recall_at_k([0, 1], y_database, distances, k=2)
    0.75
    """
    zero_division = check_zero_division(zero_division)
    return _mean_hits_ratio(y_query, y_database, distances, k, tie_aware, "recall", zero_division)
