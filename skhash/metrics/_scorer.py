"""Scorers for model selection (``GridSearchCV(hasher, grid, scoring=...)``) and timing."""

import inspect
import re
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_is_fitted

from ..index import DEFAULT_MEMORY_BUDGET
from ..utils.timing import measure_time
from ..utils.validation import check_labels, check_same_label_kind, warn_if_nothing_relevant
from ._hierarchy import labels_at_granularity
from ._radius import BallEvaluation, _check_radii, precision_within_radius
from ._ranking import (
    AveragePrecisionEvaluation,
    HitsEvaluation,
    evaluate,
    mean_average_precision,
    precision_at_k,
    recall_at_k,
)
from ._validation import warn_if_tie_order_matters

__all__ = ["get_retrieval_scorer", "make_retrieval_scorer", "query_time"]

_METRICS = {
    "map": mean_average_precision,
    "precision_at_k": precision_at_k,
    "recall_at_k": recall_at_k,
    "precision_within_radius": precision_within_radius,
}
# Metrics of a ranking, where scorers break ties in expectation unless told otherwise.
_RANKING_METRICS = ("map", "precision_at_k", "recall_at_k")

# Queries are scored in chunks so that the distances held at once stay near the budget of
# every search's temporary memory.
_DISTANCE_CHUNK_BYTES = DEFAULT_MEMORY_BUDGET


def _query_distances(hasher, X, k=None, *, ranking=True):
    """Distances from the queries ``X`` to the hasher's database, in chunks of queries.

    The one place where the scorers, and so ``BaseHasher.score``, get their distances. A
    ranking metric (cut at ``k``, or over the whole database) reads the hasher's own ranking
    (re-ranked when it re-ranks: ``_ranking_distances``); radius metrics read Hamming
    distances, as their radius is one.

    Returns
    -------
    n_queries : int
    chunks : iterator of (slice, ndarray of shape (n_rows, n_database))
        Consecutive query rows and their distances, about ``_DISTANCE_CHUNK_BYTES`` each.
    """
    search_mode = getattr(hasher, "_search_mode", None)
    rerank = search_mode()[0] if search_mode is not None else getattr(hasher, "rerank", None)
    if ranking and rerank is not None:
        return hasher._ranking_distances(X, k, chunk_bytes=_DISTANCE_CHUNK_BYTES)
    codes = hasher.transform(X)
    index = hasher.index_
    step = max(1, _DISTANCE_CHUNK_BYTES // (4 * max(index.n_indexed_, 1)))

    def chunks():
        for start in range(0, len(codes), step):
            rows = slice(start, min(start + step, len(codes)))
            yield rows, index.distances(codes[rows])

    return len(codes), chunks()


def _evaluation(metric, options, n_database):
    """The evaluation object computing ``metric`` with ``options`` (tie_break excluded)."""
    ignored = ("tie_break", "hierarchy", "granularity")
    options = {key: value for key, value in options.items() if key not in ignored}
    if metric == "map":
        return AveragePrecisionEvaluation(n_database, **options)
    if metric in ("precision_at_k", "recall_at_k"):
        return HitsEvaluation(n_database, kind=metric.split("_")[0], **options)
    radius = options.pop("radius", 2)
    return BallEvaluation(_check_radii([radius], 0), **options)


def _fitted_hasher(estimator, X, caller):
    """The hasher ending ``estimator`` (a hasher or a Pipeline) and ``X`` as it receives it."""
    if not hasattr(estimator, "index_") and hasattr(estimator, "steps"):
        check_is_fitted(estimator)
        X = estimator[:-1].transform(X)
        estimator = estimator[-1]
    if not (hasattr(estimator, "transform") and hasattr(estimator, "database_labels_")):
        if hasattr(estimator, "_fit") or hasattr(estimator, "index_"):
            check_is_fitted(estimator)  # raises NotFittedError for an unfitted hasher
        raise TypeError(
            f"{caller} scores hashers: the estimator needs a database of codes (index_) and "
            f"database_labels_; got {type(estimator).__name__}."
        )
    return estimator, X


def score_queries(estimator, X, y, metric, options, *, caller):
    """Score ``X`` (labels ``y``) as queries of the fitted hasher's labelled database.

    The logic shared by the scorers and ``BaseHasher.score``: distances come chunk by chunk
    from :func:`_query_distances`, per-query values are computed on each chunk and reduced
    at the end, so memory stays bounded whatever the number of queries.
    """
    hasher, X = _fitted_hasher(estimator, X, caller)
    y_database = hasher.database_labels_
    if y_database is None:
        raise ValueError(
            f"{caller} needs a labelled database, but {type(hasher).__name__}."
            "database_labels_ is None: fit (or add) the hasher with y."
        )
    if y is None:
        raise ValueError(
            f"{caller} needs the labels y of the queries, to rank the database by relevance; "
            "got None."
        )
    evaluation = _evaluation(metric, options, len(y_database))
    hierarchy, granularity = options.get("hierarchy"), options.get("granularity", "fine")
    y_database = labels_at_granularity(y_database, y_database, hierarchy, granularity)[1]
    ranking = metric in _RANKING_METRICS
    n_queries, chunks = _query_distances(hasher, X, options.get("k"), ranking=ranking)
    y = labels_at_granularity(y, y, hierarchy, granularity)[0]
    y = check_labels(y, n_samples=n_queries, like=y_database, name="y")
    check_same_label_kind(y, y_database)
    warn_if_nothing_relevant(y, y_database)
    tie_break = None
    if ranking:
        tie_break = evaluation.check_tie_break(options.get("tie_break"), n_queries)
    values = []
    for rows, distances in chunks:
        if ranking and not values and not evaluation.tie_aware and tie_break is None:
            warn_if_tie_order_matters(y_database, distances.max(), stacklevel=4)
        rows_tie_break = tie_break if tie_break is None or tie_break.ndim == 1 else tie_break[rows]
        values.append(evaluate(evaluation, y[rows], y_database, distances, rows_tie_break))
    return float(evaluation.reduce(np.concatenate(values)))


class _RetrievalScorer:
    """Callable ``scorer(estimator, X, y)``: a retrieval metric of ``X`` as queries.

    Built by :func:`make_retrieval_scorer`; greater is better for every metric.
    """

    def __init__(self, metric, kwargs):
        self.metric = metric
        self.kwargs = kwargs
        self._options = dict(kwargs)
        if metric in _RANKING_METRICS:
            self._options.setdefault("tie_aware", True)

    def __call__(self, estimator, X, y):
        """Score ``estimator`` with ``X`` as queries of labels ``y`` against its database.

        Parameters
        ----------
        estimator : hasher or Pipeline ending with a hasher
            Fitted, with a labelled database (``database_labels_`` not None).
        X : array-like
            Queries.
        y : array-like of shape (n_queries,) or (n_queries, n_classes)
            Query labels, in the form of the database labels.

        Returns
        -------
        score : float
        """
        return score_queries(estimator, X, y, self.metric, self._options, caller=repr(self))

    def __repr__(self):
        args = [repr(self.metric)] + [f"{key}={value!r}" for key, value in self.kwargs.items()]
        return f"make_retrieval_scorer({', '.join(args)})"


def make_retrieval_scorer(metric="map", **kwargs):
    """Make a scorer from a retrieval metric, for ``GridSearchCV`` and ``cross_validate``.

    The scorer is a callable ``scorer(estimator, X, y)``: it ranks the fitted hasher's
    database for each row of ``X`` and scores the ranking against the database labels
    ``estimator.database_labels_``. In cross-validation each split thus fits (and indexes)
    the training part and queries with the validation part. A
    :class:`~sklearn.pipeline.Pipeline` ending with a hasher is accepted too. Queries are
    scored in chunks, so memory stays bounded whatever their number.

    Ranking metrics (``"map"``, ``"precision_at_k"``, ``"recall_at_k"``) are **tie-aware by
    default** here: the expectation over every order of the items at equal Hamming distance.
    Breaking ties in database order instead (``tie_aware=False``) biases model selection
    towards short codes, which have the most ties, whenever the database is stored sorted by
    class (as unshuffled cross-validation folds of sorted data are).

    Parameters
    ----------
    metric : {"map", "precision_at_k", "recall_at_k", "precision_within_radius"}, \
            default="map"
        The metric: :func:`mean_average_precision`, :func:`precision_at_k`,
        :func:`recall_at_k` or :func:`precision_within_radius`.
    **kwargs
        Keyword arguments of the metric, e.g. ``k=100`` (required for ``precision_at_k`` and
        ``recall_at_k``, where it must be a single integer), ``tie_aware=False``,
        ``empty_queries="skip"``, ``normalize="relevant"``, ``radius=2``,
        ``average="micro"``, or ``granularity="coarse"`` with ``hierarchy={fine: coarse}``
        (relevance counted on the coarse labels).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``; greater is better.

    See Also
    --------
    get_retrieval_scorer : The same scorers by name, e.g. ``"map@100"``.

    Examples
    --------
    >>> from skhash.metrics import make_retrieval_scorer
    >>> make_retrieval_scorer("map", k=100)
    make_retrieval_scorer('map', k=100)
    >>> make_retrieval_scorer("map", k=5000, empty_queries="skip")
    make_retrieval_scorer('map', k=5000, empty_queries='skip')
    >>> make_retrieval_scorer("precision_within_radius", radius=2)
    make_retrieval_scorer('precision_within_radius', radius=2)
    >>> make_retrieval_scorer("map", granularity="coarse", hierarchy={0: 0, 1: 0, 2: 1})
    make_retrieval_scorer('map', granularity='coarse', hierarchy={0: 0, 1: 0, 2: 1})
    """
    if not isinstance(metric, str) or metric not in _METRICS:
        raise ValueError(f"metric must be one of {sorted(_METRICS)}; got {metric!r}.")
    try:
        inspect.signature(_METRICS[metric]).bind(None, None, None, **kwargs)
    except TypeError as exc:
        raise TypeError(f"Invalid arguments for the {metric!r} scorer: {exc}.") from None
    if np.ndim(kwargs.get("k")) != 0:
        raise ValueError(
            f"A scorer returns one number: k must be a single integer; got {kwargs['k']!r}."
        )
    scorer = _RetrievalScorer(metric, dict(kwargs))
    # Check the option values now rather than at the first split of a search.
    if kwargs.get("granularity", "fine") == "coarse" and kwargs.get("hierarchy") is None:
        raise ValueError("granularity='coarse' needs the hierarchy (hierarchy={fine: coarse}).")
    k = scorer._options.get("k")
    _evaluation(metric, scorer._options, 1 if k is None or metric == "map" else k)
    return scorer


_NAME_FORMS = (
    (re.compile(r"map(?:@(\d+))?"), "map", "k"),
    (re.compile(r"precision@(\d+)"), "precision_at_k", "k"),
    (re.compile(r"recall@(\d+)"), "recall_at_k", "k"),
    (re.compile(r"precision_radius(\d+)"), "precision_within_radius", "radius"),
)
_TIE_SUFFIXES = {"_tie_aware": True, "_database_order": False}


def get_retrieval_scorer(name):
    """Get a retrieval scorer by name.

    Names are ``"map"`` (whole database), ``"map@K"``, ``"precision@K"``, ``"recall@K"`` and
    ``"precision_radiusR"`` for integers ``K >= 1`` and ``R >= 0``. The ranking scorers (all
    but the radius one) are tie-aware; append ``"_database_order"`` to break ties in
    database order instead (``"_tie_aware"`` is accepted and changes nothing). A callable is
    returned unchanged.

    Parameters
    ----------
    name : str or callable
        The scorer's name.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``, as from :func:`make_retrieval_scorer`.

    Examples
    --------
    >>> from skhash.metrics import get_retrieval_scorer
    >>> get_retrieval_scorer("map@100")
    make_retrieval_scorer('map', k=100)
    >>> get_retrieval_scorer("map_database_order")
    make_retrieval_scorer('map', tie_aware=False)
    >>> get_retrieval_scorer("precision@10_tie_aware")
    make_retrieval_scorer('precision_at_k', k=10, tie_aware=True)
    >>> get_retrieval_scorer("precision_radius2")
    make_retrieval_scorer('precision_within_radius', radius=2)
    """
    if callable(name):
        return name
    if not isinstance(name, str):
        raise TypeError(f"name must be a string; got {name!r}.")
    base, tie_aware = name, None
    for suffix, value in _TIE_SUFFIXES.items():
        if base.endswith(suffix):
            base, tie_aware = base[: -len(suffix)], value
    for pattern, metric, param in _NAME_FORMS:
        match = pattern.fullmatch(base)
        if match is None:
            continue
        kwargs = {} if match.group(1) is None else {param: int(match.group(1))}
        if tie_aware is not None:
            if metric == "precision_within_radius":
                break
            kwargs["tie_aware"] = tie_aware
        if kwargs.get("k", 1) < 1:
            break
        return make_retrieval_scorer(metric, **kwargs)
    raise ValueError(
        f"Unknown retrieval scorer {name!r}. Valid names: 'map', 'map@K', 'precision@K', "
        "'recall@K' (K >= 1, optionally followed by '_database_order' or '_tie_aware'), "
        "'precision_radiusR'."
    )


@validate_params(
    {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def query_time(estimator, X, *, n_neighbors=100, n_repeats=3):
    """Median time per query of ``estimator.kneighbors(X, n_neighbors)``, in seconds.

    One untimed call comes first (to load caches and compile what is compiled on first use),
    then ``n_repeats`` timed calls (:func:`skhash.utils.timing.measure_time`, the timing
    :func:`skhash.compare.compare` uses too); the median duration is divided by the number
    of queries. This is a quick indication for reports; claims about
    speed belong in the benchmarks, run on a quiet machine with realistic sizes.

    Parameters
    ----------
    estimator : fitted hasher
        Anything with ``kneighbors(X, n_neighbors)``.
    X : array-like of shape (n_queries, ...)
        Queries, at least one.
    n_neighbors : int, default=100
        Neighbours per query; capped at the database size when the estimator has an
        ``index_`` with ``n_indexed_``.
    n_repeats : int, default=3
        Number of timed calls.

    Returns
    -------
    seconds : float
        Median seconds per query.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.index import HammingIndex
    >>> from skhash.metrics import query_time
    >>> codes = np.random.default_rng(0).integers(0, 2, size=(50, 16))
    >>> query_time(HammingIndex().fit(codes), codes[:5], n_neighbors=10) > 0
    True
    """
    n_queries = len(X)
    if n_queries == 0:
        raise ValueError("query_time needs at least one query; X is empty.")
    n_indexed = getattr(getattr(estimator, "index_", estimator), "n_indexed_", None)
    if n_indexed is not None:
        n_neighbors = max(1, min(n_neighbors, n_indexed))
    timing = measure_time(lambda: estimator.kneighbors(X, n_neighbors), n_repeats=n_repeats)
    return timing.median / n_queries
