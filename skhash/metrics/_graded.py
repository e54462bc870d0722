"""Graded and hierarchical relevance: nDCG@k, ACG@k, weighted mAP and mAHP@k.

Binary relevance (shares a label or not) cannot tell a near miss from a far one. These
metrics take a *graded* relevance ``r`` of each database item to a query, an integer >= 0:

- single-label ``y``: 1 for the query's class, else 0 (the metrics then reduce to their
  binary versions);
- multi-label ``y`` (indicator matrices or label sets): the number of labels the item shares
  with the query, the convention of Deep Semantic Ranking Hashing (Zhao et al., CVPR 2015);
- single-label ``y`` with a ``hierarchy`` (a mapping from each fine label to its coarse
  label): 2 for the same fine label, 1 for another fine label of the same coarse label, else 0.

The ranking metrics of :mod:`skhash.metrics` take ``granularity="coarse"`` with the same
``hierarchy`` to count relevance on the coarse labels instead.

Ties in distance are broken in database order, or, with ``tie_aware=True``, every metric is
the exact expectation over the orders of the tied items (closed forms below), as for the
binary metrics (He et al., CVPR 2018).
"""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from ._hierarchy import coarse_labels
from ._ranking import _divide, _harmonic, _hypergeometric_pmf, _straddling_group
from ._validation import (
    _CHUNK_BYTES,
    _HISTOGRAM_SLACK,
    check_distances,
    check_k,
    check_label_pair,
    mean_over_queries,
    rank_values,
    warn_if_tie_order_matters,
)

__all__ = [
    "acg_at_k",
    "graded_relevance",
    "mean_average_hierarchical_precision",
    "ndcg_at_k",
    "weighted_map",
]


# -- graded relevance ---------------------------------------------------------------------------
def _grades(y_query, y_database, coarse=None):
    """Graded relevance of a chunk: ``coarse`` holds the (query, database) coarse labels."""
    if y_query.ndim == 2:
        return (y_query.astype(np.float32) @ y_database.astype(np.float32).T).astype(np.int64)
    grades = (y_query[:, None] == y_database[None, :]).astype(np.int64)
    if coarse is not None:
        grades += coarse[0][:, None] == coarse[1][None, :]
    return grades


def graded_relevance(y_query, y_database, *, hierarchy=None):
    """Graded relevance of each database item to each query.

    Parameters
    ----------
    y_query : array-like of shape (n_queries,) or (n_queries, n_classes)
        Query labels: class labels (1-D), a binary indicator matrix or label sets.
    y_database : array-like of shape (n_database,) or (n_database, n_classes)
        Database labels, in the same form.
    hierarchy : dict or array-like, default=None
        For 1-D (fine) labels: the coarse label of each fine label, as a dict
        ``{fine: coarse}`` or an array whose entry ``f`` is the coarse label of ``f``.

    Returns
    -------
    grades : ndarray of shape (n_queries, n_database), dtype int64
        Multi-label: the number of shared labels. 1-D labels: 1 for the same label, else 0;
        with a hierarchy, 2 for the same fine label, 1 for the same coarse label only, else 0.

    Examples
    --------
    >>> from skhash.metrics import graded_relevance
    >>> graded_relevance([0, 3], [0, 1, 2, 3], hierarchy={0: "a", 1: "a", 2: "b", 3: "b"})
    array([[2, 1, 0, 0],
           [0, 0, 1, 2]])
    >>> graded_relevance([(0, 1)], [(0,), (0, 1), (2,)])
    array([[1, 2, 0]])
    """
    y_query, y_database = check_label_pair(
        y_query, y_database, _n_samples(y_query), _n_samples(y_database)
    )
    coarse = _coarse_pair(y_query, y_database, hierarchy)
    return _grades(y_query, y_database, coarse)


def _n_samples(y):
    return len(y) if hasattr(y, "__len__") else 0


def _coarse_pair(y_query, y_database, hierarchy):
    if hierarchy is None:
        return None
    if y_query.ndim != 1:
        raise ValueError(
            "hierarchy gives graded relevance to single-label (1-D) fine labels; multi-label "
            "rows are already graded by the number of labels they share: drop hierarchy."
        )
    return (
        coarse_labels(y_query, hierarchy, name="y_query"),
        coarse_labels(y_database, hierarchy, name="y_database"),
    )


# -- per-chunk computations ---------------------------------------------------------------------
def _ranked(distances, values, n_top):
    """``values`` of the ``n_top`` first items of each query's ranking, ties in column order."""
    if distances.max() < 2**16:
        distances = distances.astype(np.uint16)  # numpy radix-sorts small integers
    order = np.argsort(distances, axis=1, kind="stable")[:, :n_top]
    return np.take_along_axis(values, order, axis=1)


def _group_sums(distances, n_values, weights):
    """Per query and distance value, the sum of each of ``weights`` (and the item counts)."""
    n_rows = len(distances)
    offsets = (np.arange(n_rows, dtype=np.int64) * n_values)[:, None]
    flat = (np.minimum(distances, n_values - 1) + offsets).ravel()
    size = n_rows * n_values
    counts = np.bincount(flat, minlength=size).reshape(n_rows, n_values)
    sums = [
        np.bincount(flat, weights=w.ravel().astype(float), minlength=size).reshape(
            n_rows, n_values
        )
        for w in weights
    ]
    return counts, sums


def _expected_ranked(distances, n_values, gains, n_top):
    """Expected gain at each of the ``n_top`` first ranks over the orders of ties.

    Every item of a tie group is equally likely at each of the group's ranks, so the
    expected gain at a rank is the mean gain of the group holding that rank.
    """
    counts, (sums,) = _group_sums(distances, n_values, [gains])
    mean_gain = _divide(sums, counts)
    if distances.max() < 2**16:
        distances = distances.astype(np.uint16)
    ranked_values = np.sort(distances, axis=1)[:, :n_top].astype(np.int64)
    return np.take_along_axis(mean_gain, ranked_values, axis=1)


def _gains_at_ranks(grades, distances, n_top, tie_aware, transform=None):
    """The (expected, if tie-aware) gain ``transform(grade)`` at ranks ``1 .. n_top``."""
    gains = grades if transform is None else transform(grades)
    if not tie_aware:
        return _ranked(distances, gains, n_top).astype(float)
    distances, n_values = rank_values(distances)
    return _expected_ranked(distances, n_values, gains, n_top)


def _ideal(gains, n_top):
    """The ``n_top`` largest gains of each row, in decreasing order (the ideal ranking)."""
    return -np.sort(-gains, axis=1)[:, :n_top].astype(float)


def _dcg_discount(n_top):
    return 1.0 / np.log2(np.arange(2, n_top + 2))


def _weighted_ap_stable(grades, distances, k):
    """``sum_{i <= k} [r_i > 0] ACG@i`` and the relevant items in the top ``k``."""
    ranked = _ranked(distances, grades, k).astype(float)
    acg = np.cumsum(ranked, axis=1) / np.arange(1, k + 1)
    positive = ranked > 0
    return np.where(positive, acg, 0.0).sum(axis=1), positive.sum(axis=1)


def _expected_weighted_sum(n_before, grade_before, m, x, mean_grade, harmonic):
    """Expected ``sum_i [r_i > 0] ACG@i`` over ``m`` tied ranks holding ``x`` relevant items.

    The ranks are ``n_before + 1 .. n_before + m``, preceded by items of total grade
    ``grade_before``; the ``x`` relevant items, of mean grade ``g``, are placed uniformly at
    random. Rank ``j`` of the group is relevant with probability ``x / m``, its own grade
    then ``g`` on average, and each of the ``j - 1`` earlier ranks of the group holds a
    relevant item with probability ``(x - 1)/(m - 1)``, again of mean grade ``g``. So

    ``E = x/m * sum_j [(grade_before + g) + (j - 1)(x - 1)/(m - 1) * g] / (n_before + j)``,

    which with ``s0 = sum_j 1/(n_before + j)`` and ``s1 = sum_j (j - 1)/(n_before + j)`` is
    the closed form below (binary grades, ``g = 1``, give the average precision's).
    """
    m = np.asarray(m, dtype=np.int64)
    s0 = harmonic[n_before + m] - harmonic[n_before]
    s1 = m - (n_before + 1) * s0
    with np.errstate(divide="ignore", invalid="ignore"):
        p_rel = np.where(m > 0, x / np.maximum(m, 1), 0.0)
        spread = np.where(m > 1, (x - 1) / np.maximum(m - 1, 1), 0.0)
    terms = p_rel * ((grade_before + mean_grade) * s0 + spread * mean_grade * s1)
    return np.where(x > 0, terms, 0.0)


def _weighted_ap_tie_aware(grades, distances, k, harmonic):
    """Expected weighted AP@k over the orders of ties (normaliser: relevant items in top k)."""
    distances, n_values = rank_values(distances)
    counts, (hits, grade_sums) = _group_sums(distances, n_values, [grades > 0, grades])
    hits = hits.astype(np.int64)
    mean_grade = _divide(grade_sums, hits)
    n_upto = np.cumsum(counts, axis=1)
    n_before = n_upto - counts
    hits_before = np.cumsum(hits, axis=1) - hits
    grade_before = np.cumsum(grade_sums, axis=1) - grade_sums
    terms = _expected_weighted_sum(n_before, grade_before, counts, hits, mean_grade, harmonic)
    if k >= distances.shape[1]:
        return _divide(terms.sum(axis=1), hits.sum(axis=1))
    # The groups before the one holding rank k count whole; of that group only the first
    # m = k - n_before ranks are kept, holding a hypergeometric number x of relevant items,
    # and the normaliser hits_before + x depends on x: the expectation is taken over x.
    rows = np.arange(len(distances))
    t = _straddling_group(n_upto, k)
    earlier = (np.cumsum(terms, axis=1) - terms)[rows, t]
    n_t, r_t, g_t = counts[rows, t], hits[rows, t], mean_grade[rows, t]
    nb_t, hb_t, gb_t = n_before[rows, t], hits_before[rows, t], grade_before[rows, t]
    m = k - nb_t
    xs = np.arange(int(np.minimum(m, r_t).max()) + 1)[None, :]
    col = (slice(None), None)
    pmf = _hypergeometric_pmf(xs, n_t[col], r_t[col], m[col])
    partial = _expected_weighted_sum(nb_t[col], gb_t[col], m[col], xs, g_t[col], harmonic)
    return (pmf * _divide(earlier[col] + partial, hb_t[col] + xs)).sum(axis=1)


# -- evaluations --------------------------------------------------------------------------------
class _GradedEvaluation:
    """Validated options of one graded metric; ``query_values`` takes a chunk's grades."""

    def __init__(self, metric, n_database, k, tie_aware):
        if not isinstance(tie_aware, bool | np.bool_):
            raise TypeError(f"tie_aware must be a bool; got {tie_aware!r}.")
        self.metric = metric
        self.k = int(check_k(k, n_database, clip=True)[0][0])
        self.tie_aware = bool(tie_aware)
        self._harmonic = _harmonic(n_database) if tie_aware and metric == "wmap" else None

    def query_values(self, grades, distances):
        k = self.k
        if self.metric == "wmap":
            if self.tie_aware:
                return _weighted_ap_tie_aware(grades, distances, k, self._harmonic)
            numerator, n_retrieved = _weighted_ap_stable(grades, distances, k)
            return _divide(numerator, n_retrieved)
        if self.metric == "acg":
            return _gains_at_ranks(grades, distances, k, self.tie_aware).mean(axis=1)
        if self.metric == "ndcg":
            gains = _gains_at_ranks(grades, distances, k, self.tie_aware, _exponential_gain)
            ideal = _ideal(_exponential_gain(grades), k)
            discount = _dcg_discount(k)
            return _divide(gains @ discount, ideal @ discount)
        # mAHP: hP@j = (sum of the top j grades) / (the same for the ideal ranking), j <= k.
        found = np.cumsum(_gains_at_ranks(grades, distances, k, self.tie_aware), axis=1)
        best = np.cumsum(_ideal(grades, k), axis=1)
        return _divide(found, best).mean(axis=1)

    def reduce(self, values):
        return float(mean_over_queries(values, f"the {self.metric}"))


def _exponential_gain(grades):
    return np.exp2(grades.astype(float)) - 1.0


def _graded_values(metric, y_query, y_database, distances, k, tie_aware, hierarchy):
    """Validate, then the per-query values of ``metric``, chunk by chunk of queries."""
    distances = check_distances(distances)
    n_queries, n_database = distances.shape
    y_query, y_database = check_label_pair(y_query, y_database, n_queries, n_database)
    coarse = _coarse_pair(y_query, y_database, hierarchy)
    evaluation = _GradedEvaluation(metric, n_database, k, tie_aware)
    if not evaluation.tie_aware:
        warn_if_tie_order_matters(y_database, distances.max(), stacklevel=4)
    row_bytes = 8 * 4 * (n_database + _HISTOGRAM_SLACK)  # grades, gains, sort, histograms
    chunk = max(1, min(n_queries, _CHUNK_BYTES // row_bytes))
    values = np.empty(n_queries)
    for start in range(0, n_queries, chunk):
        rows = slice(start, min(start + chunk, n_queries))
        chunk_coarse = None if coarse is None else (coarse[0][rows], coarse[1])
        grades = _grades(y_query[rows], y_database, chunk_coarse)
        values[rows] = evaluation.query_values(grades, distances[rows])
    return evaluation.reduce(values)


_PARAMS = {
    "y_query": ["array-like"],
    "y_database": ["array-like"],
    "distances": ["array-like"],
    "k": [Interval(Integral, 1, None, closed="left")],
    "tie_aware": ["boolean"],
    "hierarchy": [dict, "array-like", None],
}

_PARAMETERS_DOC = """y_query : array-like of shape (n_queries,) or (n_queries, n_classes)
        Query labels: class labels (1-D), a binary indicator matrix, or label sets
        (multi-label: the grade is the number of shared labels).
    y_database : array-like of shape (n_database,) or (n_database, n_classes)
        Database labels, in the same form as ``y_query``.
    distances : array-like of shape (n_queries, n_database)
        Integer Hamming distances, e.g. from ``hasher.hamming_distances(X)``.
    k : int
        Cut-off rank (values above ``n_database`` are clipped).
    tie_aware : bool, default=False
        If True, the exact expectation over every order of the items at equal distance
        instead of breaking ties by database order.
    hierarchy : dict or array-like, default=None
        For 1-D (fine) labels, the coarse label of each fine label (``{fine: coarse}``, or an
        array whose entry ``f`` is the coarse label of ``f``): the grade is then 2 for the
        same fine label, 1 for the same coarse label only, else 0."""


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
def ndcg_at_k(y_query, y_database, distances, k, *, tie_aware=False, hierarchy=None):
    """Mean normalised discounted cumulative gain of the top ``k`` of each Hamming ranking.

    With ``r_i`` the graded relevance of the item at rank ``i`` (see
    :func:`graded_relevance`),

    ``DCG@k = sum_{i <= k} (2^{r_i} - 1) / log2(i + 1)`` and ``nDCG@k = DCG@k / IDCG@k``,

    where ``IDCG@k`` is the DCG@k of the ideal ranking (the database sorted by decreasing
    grade); a query with nothing relevant scores 0. The gain ``2^r - 1`` and the
    logarithmic discount are those of Järvelin and Kekäläinen (2002) as used by Deep
    Semantic Ranking Hashing (Zhao et al., CVPR 2015) for multi-label retrieval.

    Parameters
    ----------
    {params}

    Returns
    -------
    score : float
        Mean over queries of nDCG@k, in [0, 1].

    Examples
    --------
    >>> from skhash.metrics import ndcg_at_k
    >>> y_database = [(0, 1), (0,), (2,)]
    >>> round(ndcg_at_k([(0, 1)], y_database, [[2, 1, 0]], k=2), 4)
    0.1738
    >>> ndcg_at_k([(0, 1)], y_database, [[0, 1, 2]], k=2)
    1.0
    """
    return _graded_values("ndcg", y_query, y_database, distances, k, tie_aware, hierarchy)


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
def acg_at_k(y_query, y_database, distances, k, *, tie_aware=False, hierarchy=None):
    """Mean average cumulative gain of the top ``k`` of each Hamming ranking.

    ``ACG@k = (1/k) sum_{i <= k} r_i``, the mean graded relevance (see
    :func:`graded_relevance`) of the top ``k`` items (Zhao et al., CVPR 2015). With binary
    relevance it is the precision at ``k``.

    Parameters
    ----------
    {params}

    Returns
    -------
    score : float
        Mean over queries of ACG@k (at most the largest grade).

    Examples
    --------
    >>> from skhash.metrics import acg_at_k
    >>> acg_at_k([(0, 1)], [(0, 1), (0,), (2,)], [[0, 1, 2]], k=2)
    1.5
    """
    return _graded_values("acg", y_query, y_database, distances, k, tie_aware, hierarchy)


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
def weighted_map(y_query, y_database, distances, k, *, tie_aware=False, hierarchy=None):
    """Weighted mean average precision of the top ``k`` of each Hamming ranking.

    Average precision with the precision at each relevant rank replaced by the average
    cumulative gain there (Zhao et al., CVPR 2015):

    ``wAP@k = sum_{i <= k} [r_i > 0] ACG@i / N_k``,

    where ``ACG@i = (1/i) sum_{j <= i} r_j`` and ``N_k`` is the number of relevant items
    (``r > 0``) in the top ``k``; a query with none scores 0. With binary relevance it is
    the mAP@k of :func:`mean_average_precision` (``normalize="retrieved"``).

    Parameters
    ----------
    {params}

    Returns
    -------
    score : float
        Mean over queries of wAP@k.

    Examples
    --------
    >>> from skhash.metrics import weighted_map
    >>> weighted_map([(0, 1)], [(0, 1), (0,), (2,)], [[0, 1, 2]], k=3)
    1.75
    """
    return _graded_values("wmap", y_query, y_database, distances, k, tie_aware, hierarchy)


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
def mean_average_hierarchical_precision(
    y_query, y_database, distances, k, *, tie_aware=False, hierarchy=None
):
    """Mean average hierarchical precision (mAHP@k) of each Hamming ranking.

    Deng, Berg and Fei-Fei ("Hierarchical semantic indexing for large scale image
    retrieval", CVPR 2011) score a ranking by the similarity ``S`` of each retrieved item
    to the query in a label hierarchy. The hierarchical precision at ``j`` is the
    similarity retrieved in the top ``j`` over the most any ranking could retrieve there,

    ``hP@j = sum_{i <= j} S_i / max_pi sum_{i <= j} S_pi(i)``,

    and ``AHP@k = (1/k) sum_{j <= k} hP@j`` is the area under the ``hP`` curve; mAHP@k is
    its mean over queries, as reported by hierarchy-based retrieval work (e.g. Barz and
    Denzler, "Hierarchy-based image embeddings for semantic image retrieval", WACV 2019,
    at k = 250). Here ``S`` is the graded relevance of :func:`graded_relevance`: for a
    two-level hierarchy 2 / 1 / 0 for a fine / coarse-only / no match, proportional to the
    ``1 - height(lca) / height(tree)`` similarity of those papers (1, 1/2, 0), and ``hP``
    does not change when ``S`` is scaled. A query with nothing similar scores 0.

    Parameters
    ----------
    {params}

    Returns
    -------
    score : float
        Mean over queries of AHP@k, in [0, 1].

    Examples
    --------
    >>> from skhash.metrics import mean_average_hierarchical_precision
    >>> hierarchy = {0: 0, 1: 0, 2: 1}  # fine label -> coarse label
    >>> # Ranked: a coarse match (1 of the best 2), a miss (1 of the best 2 + 1).
    >>> d = [[0, 1, 2]]
    >>> mahp = mean_average_hierarchical_precision([0], [1, 2, 0], d, k=2, hierarchy=hierarchy)
    >>> round(mahp, 4)
    0.4167
    """
    return _graded_values("mahp", y_query, y_database, distances, k, tie_aware, hierarchy)


for _function in (ndcg_at_k, acg_at_k, weighted_map, mean_average_hierarchical_precision):
    _function.__doc__ = _function.__doc__.replace("{params}", _PARAMETERS_DOC)
del _function
