"""Ranking metrics for Hamming retrieval: average precision, precision@k, recall@k.

The database is ranked for each query by Hamming distance. By default, items at equal distance
keep their database order (a stable sort), as a Hamming index returns them, or the order of an
explicit ``tie_break`` permutation. With ``tie_aware=True`` the metrics are instead the
expectation over every ordering of the tied items, computed in closed form (He et al.,
"Hashing as Tie-Aware Learning to Rank", CVPR 2018), which does not depend on the database
order.

Each metric is an *evaluation* object holding its validated options: ``query_values`` computes
per-query values on one chunk of queries, ``reduce`` turns the values of all queries into the
score. The public functions and the scorers share them.
"""

from numbers import Integral, Real

import numpy as np
from scipy.special import gammaln
from sklearn.utils._param_validation import Interval, Options, StrOptions, validate_params

from ._hierarchy import GRANULARITY_OPTIONS, labels_at_granularity
from ._validation import (
    check_k,
    check_option,
    check_retrieval_inputs,
    check_tie_break,
    check_zero_division,
    distance_histograms,
    iter_query_chunks,
    mean_over_queries,
    rank_values,
    warn_if_tie_order_matters,
)

__all__ = ["average_precision", "mean_average_precision", "precision_at_k", "recall_at_k"]

NORMALIZE_OPTIONS = ("retrieved", "relevant", "min_k_relevant")
EMPTY_QUERY_OPTIONS = ("zero", "skip", "skip_unretrieved")


# -- ranking in database order (stable sort) -------------------------------------------------
def _ranked_relevance(relevant, distances, n_top):
    """Relevance of the ``n_top`` first items of each query's ranking, ties by column order."""
    if distances.max() < 2**16:
        distances = distances.astype(np.uint16)  # numpy radix-sorts small integers
    order = np.argsort(distances, axis=1, kind="stable")[:, :n_top]
    return np.take_along_axis(relevant, order, axis=1)


def _precision_sum_stable(relevant, distances, k):
    """``sum_{i <= k} P@i * rel_i`` and the relevant items in the top ``k``, per query."""
    ranked = _ranked_relevance(relevant, distances, k)
    hits = np.cumsum(ranked, axis=1)
    precision = hits / np.arange(1, k + 1)
    return np.where(ranked, precision, 0.0).sum(axis=1), hits[:, -1]


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


def _divide(numerator, denominator):
    return np.divide(
        numerator, denominator, out=np.zeros(np.shape(numerator)), where=denominator > 0
    )


def _average_precision_tie_aware(relevant, distances, k, n_values, harmonic, denominator):
    """Expected AP@k over the orderings of ties.

    ``denominator`` is the per-query normaliser when it does not depend on the order
    (all relevant items, or ``min(k, R)``); None divides by the relevant items retrieved in
    the top ``k``, a random number over which the expectation is taken exactly.
    """
    counts, hits, n_before, hits_before, n_upto = _tie_groups(relevant, distances, n_values)
    group_terms = _expected_precision_sum(n_before, hits_before, counts, hits, harmonic)
    n_database = distances.shape[1]
    if k >= n_database:
        n_relevant = hits.sum(axis=1)
        return _divide(group_terms.sum(axis=1), n_relevant if denominator is None else denominator)
    # Groups ranked entirely before the group holding rank k contribute deterministically in
    # expectation; in that group only m = k - n_before items are kept, of which a
    # hypergeometric number x is relevant.
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
    if denominator is not None:
        return _divide(earlier + (pmf * partial).sum(axis=1), denominator)
    # The AP@k denominator is hits_before + x: the expectation is taken over x exactly.
    return (pmf * _divide(earlier[col] + partial, hb_t[col] + xs)).sum(axis=1)


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


# -- evaluations: validated options, per-query values, reduction ------------------------------
class _RankingEvaluation:
    """Options shared by the ranking metrics; ``tie_break`` is checked per call."""

    def __init__(self, n_database, tie_aware):
        if not isinstance(tie_aware, bool | np.bool_):
            raise TypeError(f"tie_aware must be a bool; got {tie_aware!r}.")
        self.n_database = n_database
        self.tie_aware = bool(tie_aware)

    def check_tie_break(self, tie_break, n_queries):
        return check_tie_break(tie_break, n_queries, self.n_database, tie_aware=self.tie_aware)


class AveragePrecisionEvaluation(_RankingEvaluation):
    """AP@k of each query; NaN for the queries ``empty_queries`` leaves out."""

    def __init__(
        self, n_database, *, k=None, tie_aware=False, normalize="retrieved", empty_queries="zero"
    ):
        super().__init__(n_database, tie_aware)
        self.k = n_database if k is None else int(check_k(k, n_database, clip=True)[0][0])
        self.normalize = check_option(normalize, "normalize", NORMALIZE_OPTIONS)
        self.empty_queries = check_option(empty_queries, "empty_queries", EMPTY_QUERY_OPTIONS)
        if self.tie_aware and self.empty_queries == "skip_unretrieved":
            raise ValueError(
                "empty_queries='skip_unretrieved' leaves out the queries with no relevant item "
                "in their top k, a set that depends on the order of ties: it is not defined "
                "with tie_aware=True. Use empty_queries='skip' (no relevant item in the "
                "database) or tie_aware=False."
            )
        self._harmonic = _harmonic(n_database) if self.tie_aware else None

    def query_values(self, relevant, distances):
        distances, n_values = rank_values(distances)
        n_relevant = relevant.sum(axis=1)
        denominator = {
            "retrieved": None,
            "relevant": n_relevant,
            "min_k_relevant": np.minimum(n_relevant, self.k),
        }[self.normalize]
        if self.tie_aware:
            ap = _average_precision_tie_aware(
                relevant, distances, self.k, n_values, self._harmonic, denominator
            )
            n_retrieved = None
        else:
            precision_sum, n_retrieved = _precision_sum_stable(relevant, distances, self.k)
            ap = _divide(precision_sum, n_retrieved if denominator is None else denominator)
        if self.empty_queries == "skip":
            ap[n_relevant == 0] = np.nan
        elif self.empty_queries == "skip_unretrieved":
            ap[n_retrieved == 0] = np.nan
        return ap

    def reduce(self, values):
        return float(mean_over_queries(values, "the mean average precision"))


class HitsEvaluation(_RankingEvaluation):
    """Precision or recall in the top ``k`` of each query, for one or several ``k``."""

    def __init__(self, n_database, *, kind, k, tie_aware=False, zero_division=0.0):
        super().__init__(n_database, tie_aware)
        self.kind = kind
        self.ks, self.scalar = check_k(k, n_database, allow_array=True)
        self.zero_division = check_zero_division(zero_division)

    def query_values(self, relevant, distances):
        distances, n_values = rank_values(distances)
        hits = _hits_at_k(relevant, distances, self.ks, self.tie_aware, n_values)
        n_relevant = relevant.sum(axis=1)[:, None]
        divisor = self.ks[None, :] if self.kind == "precision" else np.maximum(n_relevant, 1)
        return np.where(n_relevant > 0, hits / divisor, self.zero_division)

    def reduce(self, values):
        means = mean_over_queries(values, f"the {self.kind}")
        return float(means[0]) if self.scalar else means


def evaluate(evaluation, y_query, y_database, distances, tie_break=None):
    """Per-query values of ``evaluation`` over validated inputs, chunk by chunk."""
    values = None
    for rows, relevant, dist in iter_query_chunks(
        y_query, y_database, distances, tie_break=tie_break
    ):
        chunk = evaluation.query_values(relevant, dist)
        if values is None:
            values = np.empty((len(distances), *chunk.shape[1:]))
        values[rows] = chunk
    return values


def _ranking_values(evaluation_type, y_query, y_database, distances, tie_break, options):
    """Validate, warn about tie order when it matters, and compute the per-query values."""
    hierarchy, granularity = options.pop("hierarchy"), options.pop("granularity")
    y_query, y_database = labels_at_granularity(y_query, y_database, hierarchy, granularity)
    y_query, y_database, distances = check_retrieval_inputs(y_query, y_database, distances)
    evaluation = evaluation_type(distances.shape[1], **options)
    tie_break = evaluation.check_tie_break(tie_break, len(distances))
    if not evaluation.tie_aware and tie_break is None:
        warn_if_tie_order_matters(y_database, distances.max(), stacklevel=4)
    return evaluation, evaluate(evaluation, y_query, y_database, distances, tie_break)


# -- public functions -------------------------------------------------------------------------
_COMMON = {
    "y_query": ["array-like"],
    "y_database": ["array-like"],
    "distances": ["array-like"],
    "tie_aware": ["boolean"],
    "tie_break": ["array-like", None],
    "hierarchy": [dict, "array-like", None],
    "granularity": [StrOptions(set(GRANULARITY_OPTIONS))],
}
_AP_PARAMS = {
    **_COMMON,
    "k": [Interval(Integral, 1, None, closed="left"), None],
    "normalize": [StrOptions(set(NORMALIZE_OPTIONS))],
    "empty_queries": [StrOptions(set(EMPTY_QUERY_OPTIONS))],
}
_HITS_PARAMS = {
    **_COMMON,
    "k": [Interval(Integral, 1, None, closed="left"), "array-like"],
    "zero_division": [Options(Real, {0.0, 1.0}), "nan"],
}

_AP_DOC = """
    The database is ranked by increasing distance to the query, equal distances in database
    order (or in the order of ``tie_break``), unless ``tie_aware``. With ``rel_i`` the
    relevance of the item at rank ``i`` (relevant = shares a label with the query), ``P@i``
    the precision of the top ``i`` and ``R`` the number of relevant items in the database,

    ``AP@k = sum_{i <= k} P@i * rel_i / N``,

    where the normaliser ``N`` is chosen by ``normalize``: the relevant items retrieved in the
    top ``k`` (``"retrieved"``, the convention of HashNet, DeepHash-pytorch and most deep
    hashing papers), ``R`` (``"relevant"``, trec_eval's ``map_cut``) or ``min(k, R)``
    (``"min_k_relevant"``, the Kaggle ``apk``). With ``k=None`` the whole database is ranked
    and all three are ``R``. A query with ``N = 0`` scores 0.
"""


@validate_params(_AP_PARAMS, prefer_skip_nested_validation=True)
def average_precision(
    y_query,
    y_database,
    distances,
    *,
    k=None,
    tie_aware=False,
    normalize="retrieved",
    empty_queries="zero",
    tie_break=None,
    hierarchy=None,
    granularity="fine",
):
    """Average precision of each query's Hamming ranking of the database.
    {ap_doc}
    See the user guide's "Evaluation" page for the options reproducing published evaluation
    codes.

    Parameters
    ----------
    y_query : array-like of shape (n_queries,) or (n_queries, n_classes)
        Query labels: class labels (1-D), a binary label-indicator matrix, or a sequence of
        label sets (multi-label; see :func:`~skhash.utils.validation.check_labels`).
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
        Recommended for reports and model selection: it does not depend on the database order.
    normalize : {{"retrieved", "relevant", "min_k_relevant"}}, default="retrieved"
        The normaliser ``N`` of AP@k (see above).
    empty_queries : {{"zero", "skip", "skip_unretrieved"}}, default="zero"
        Which queries count. ``"zero"``: every query; one with no relevant item scores 0.
        ``"skip"``: queries with no relevant item in the database are left out (NaN here).
        ``"skip_unretrieved"``: queries with no relevant item in their top ``k`` are left out
        (NaN); not defined with ``tie_aware=True``, where that set depends on the tie order.
    tie_break : array-like of int, default=None
        Explicit order of tied items instead of the database order: a permutation of
        ``range(n_database)`` (items listed first rank first among equal distances), or one
        permutation per query, shape ``(n_queries, n_database)``, e.g. the ranking another
        evaluation code produced. Not with ``tie_aware``.

    hierarchy : dict or array-like, default=None
        The coarse label of each fine (1-D) label: ``{{fine: coarse}}``, or an array whose
        entry ``f`` is the coarse label of ``f``. Needed by ``granularity="coarse"``.
    granularity : {{"fine", "coarse"}}, default="fine"
        ``"coarse"`` counts an item relevant when it shares the query's coarse label.
    Returns
    -------
    ap : ndarray of shape (n_queries,)
        Average precision of each query, in [0, 1]; NaN for the queries left out by
        ``empty_queries``.

    Warns
    -----
    TieOrderWarning
        When ties are broken by database order (``tie_aware=False``, no ``tie_break``) and
        the database labels look sorted by class, which inflates the score.

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
    >>> average_precision([0, 1], y_database, distances, k=2, normalize="relevant")
    array([1. , 0.5])
    >>> average_precision([0, 1], y_database, distances, tie_aware=True)
    array([1.        , 0.91666667])
    >>> average_precision([0, 1], y_database, distances, tie_break=[3, 2, 1, 0])
    array([1., 1.])
    """
    options = dict(k=k, tie_aware=tie_aware, normalize=normalize, empty_queries=empty_queries)
    options.update(hierarchy=hierarchy, granularity=granularity)
    _, values = _ranking_values(
        AveragePrecisionEvaluation, y_query, y_database, distances, tie_break, options
    )
    return values


@validate_params(_AP_PARAMS, prefer_skip_nested_validation=True)
def mean_average_precision(
    y_query,
    y_database,
    distances,
    *,
    k=None,
    tie_aware=False,
    normalize="retrieved",
    empty_queries="zero",
    tie_break=None,
    hierarchy=None,
    granularity="fine",
):
    """Mean average precision (mAP or mAP@k) of Hamming retrieval.

    The mean over queries of :func:`average_precision`.
    {ap_doc}
    Parameters
    ----------
    y_query : array-like of shape (n_queries,) or (n_queries, n_classes)
        Query labels: class labels (1-D), a binary label-indicator matrix, or a sequence of
        label sets (multi-label).
    y_database : array-like of shape (n_database,) or (n_database, n_classes)
        Database labels, in the same form as ``y_query``.
    distances : array-like of shape (n_queries, n_database)
        Integer Hamming distances.
    k : int, default=None
        Cut-off rank; None (or a value above ``n_database``) ranks the whole database.
    tie_aware : bool, default=False
        If True, average over all orderings of items at equal distance instead of breaking
        ties by database order. Recommended for reports: it does not depend on the database
        order.
    normalize : {{"retrieved", "relevant", "min_k_relevant"}}, default="retrieved"
        The normaliser of AP@k (see above).
    empty_queries : {{"zero", "skip", "skip_unretrieved"}}, default="zero"
        Which queries count in the mean: all (``"zero"``: a query with no relevant item
        scores 0), those with a relevant item in the database (``"skip"``), or those with a
        relevant item in their top ``k`` (``"skip_unretrieved"``; not with ``tie_aware``).
    tie_break : array-like of int, default=None
        Explicit order of tied items (see :func:`average_precision`).

    hierarchy : dict or array-like, default=None
        The coarse label of each fine (1-D) label: ``{{fine: coarse}}``, or an array whose
        entry ``f`` is the coarse label of ``f``. Needed by ``granularity="coarse"``.
    granularity : {{"fine", "coarse"}}, default="fine"
        ``"coarse"`` counts an item relevant when it shares the query's coarse label.
    Returns
    -------
    score : float
        Mean average precision in [0, 1]; NaN, with a warning, when every query is left out.

    Warns
    -----
    TieOrderWarning
        When ties are broken by database order and the database labels look sorted by class.

    Examples
    --------
    >>> from skhash.metrics import mean_average_precision
    >>> y_database = [0, 1, 0, 1]
    >>> distances = [[0, 2, 1, 3], [1, 0, 2, 1]]
    >>> round(mean_average_precision([0, 1], y_database, distances), 4)
    0.9167
    >>> round(mean_average_precision([0, 1], y_database, distances, tie_aware=True), 4)
    0.9583
    >>> mean_average_precision([0, 7], y_database, distances, empty_queries="skip")
    1.0
    """
    options = dict(k=k, tie_aware=tie_aware, normalize=normalize, empty_queries=empty_queries)
    options.update(hierarchy=hierarchy, granularity=granularity)
    evaluation, values = _ranking_values(
        AveragePrecisionEvaluation, y_query, y_database, distances, tie_break, options
    )
    return evaluation.reduce(values)


average_precision.__doc__ = average_precision.__doc__.format(ap_doc=_AP_DOC)
mean_average_precision.__doc__ = mean_average_precision.__doc__.format(ap_doc=_AP_DOC)


@validate_params(_HITS_PARAMS, prefer_skip_nested_validation=True)
def precision_at_k(
    y_query,
    y_database,
    distances,
    k,
    *,
    tie_aware=False,
    zero_division=0.0,
    tie_break=None,
    hierarchy=None,
    granularity="fine",
):
    """Mean precision of the top ``k`` items of each query's Hamming ranking.

    Parameters
    ----------
    y_query : array-like of shape (n_queries,) or (n_queries, n_classes)
        Query labels: class labels (1-D), a binary label-indicator matrix, or a sequence of
        label sets (multi-label).
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
    zero_division : {0.0, 1.0, np.nan}, default=0.0
        Precision of a query with no relevant item in the database (nothing it could find);
        ``np.nan`` leaves such queries out of the mean, as ``empty_queries="skip"`` does for
        the average precision.
    tie_break : array-like of int, default=None
        Explicit order of tied items (see :func:`average_precision`).

    hierarchy : dict or array-like, default=None
        The coarse label of each fine (1-D) label: ``{fine: coarse}``, or an array whose
        entry ``f`` is the coarse label of ``f``. Needed by ``granularity="coarse"``.
    granularity : {"fine", "coarse"}, default="fine"
        ``"coarse"`` counts an item relevant when it shares the query's coarse label.
    Returns
    -------
    precision : float or ndarray of shape (n_k,)
        Mean over queries of (relevant items in the top ``k``) / ``k``; an array when ``k``
        is an array.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.metrics import precision_at_k
    >>> y_database = [0, 1, 0, 1]
    >>> distances = [[0, 2, 1, 3], [1, 0, 2, 1]]
    >>> precision_at_k([0, 1], y_database, distances, k=2)
    0.75
    >>> precision_at_k([0, 1], y_database, distances, k=[1, 2, 4])
    array([1.  , 0.75, 0.5 ])
    >>> precision_at_k([0, 1], y_database, distances, k=2, tie_aware=True)
    0.875
    >>> precision_at_k([0, 7], y_database, distances, k=2, zero_division=np.nan)
    1.0
    """
    options = dict(kind="precision", k=k, tie_aware=tie_aware, zero_division=zero_division)
    options.update(hierarchy=hierarchy, granularity=granularity)
    evaluation, values = _ranking_values(
        HitsEvaluation, y_query, y_database, distances, tie_break, options
    )
    return evaluation.reduce(values)


@validate_params(_HITS_PARAMS, prefer_skip_nested_validation=True)
def recall_at_k(
    y_query,
    y_database,
    distances,
    k,
    *,
    tie_aware=False,
    zero_division=0.0,
    tie_break=None,
    hierarchy=None,
    granularity="fine",
):
    """Mean recall of the top ``k`` items of each query's Hamming ranking.

    Parameters
    ----------
    y_query : array-like of shape (n_queries,) or (n_queries, n_classes)
        Query labels: class labels (1-D), a binary label-indicator matrix, or a sequence of
        label sets (multi-label).
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
    tie_break : array-like of int, default=None
        Explicit order of tied items (see :func:`average_precision`).

    hierarchy : dict or array-like, default=None
        The coarse label of each fine (1-D) label: ``{fine: coarse}``, or an array whose
        entry ``f`` is the coarse label of ``f``. Needed by ``granularity="coarse"``.
    granularity : {"fine", "coarse"}, default="fine"
        ``"coarse"`` counts an item relevant when it shares the query's coarse label.
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
    options = dict(kind="recall", k=k, tie_aware=tie_aware, zero_division=zero_division)
    options.update(hierarchy=hierarchy, granularity=granularity)
    evaluation, values = _ranking_values(
        HitsEvaluation, y_query, y_database, distances, tie_break, options
    )
    return evaluation.reduce(values)
