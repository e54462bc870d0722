"""Scorers for model selection (``GridSearchCV(hasher, grid, scoring=...)``) and timing."""

import inspect
import re
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_is_fitted

from ..utils.timing import measure_time
from ..utils.validation import warn_if_nothing_relevant
from ._radius import precision_within_radius
from ._ranking import mean_average_precision, precision_at_k, recall_at_k

__all__ = ["get_retrieval_scorer", "make_retrieval_scorer", "query_time"]

_METRICS = {
    "map": mean_average_precision,
    "precision_at_k": precision_at_k,
    "recall_at_k": recall_at_k,
    "precision_within_radius": precision_within_radius,
}


class _RetrievalScorer:
    """Callable ``scorer(estimator, X, y)``: a retrieval metric of ``X`` as queries.

    Built by :func:`make_retrieval_scorer`; greater is better for every metric.
    """

    def __init__(self, metric, kwargs):
        self.metric = metric
        self.kwargs = kwargs
        self._score_func = _METRICS[metric]

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
        if not hasattr(estimator, "hamming_distances") and hasattr(estimator, "steps"):
            X = estimator[:-1].transform(X)
            estimator = estimator[-1]
        if not hasattr(estimator, "hamming_distances"):
            raise TypeError(
                f"{self!r} scores hashers: the estimator needs a hamming_distances method; "
                f"got {type(estimator).__name__}."
            )
        if not hasattr(estimator, "database_labels_"):
            check_is_fitted(estimator)  # raises NotFittedError for an unfitted hasher
        y_database = getattr(estimator, "database_labels_", None)
        if y_database is None:
            raise ValueError(
                f"{self!r} needs a labelled database, but {type(estimator).__name__}."
                "database_labels_ is None: fit (or add) the hasher with y."
            )
        warn_if_nothing_relevant(y, y_database)
        distances = estimator.hamming_distances(X)
        return float(self._score_func(y, y_database, distances, **self.kwargs))

    def __repr__(self):
        args = [repr(self.metric)] + [f"{key}={value!r}" for key, value in self.kwargs.items()]
        return f"make_retrieval_scorer({', '.join(args)})"


def make_retrieval_scorer(metric="map", **kwargs):
    """Make a scorer from a retrieval metric, for ``GridSearchCV`` and ``cross_validate``.

    The scorer is a callable ``scorer(estimator, X, y)``: it ranks the fitted hasher's
    database for each row of ``X`` with ``estimator.hamming_distances(X)`` and scores the
    ranking against the database labels ``estimator.database_labels_``. In cross-validation
    each split thus fits (and indexes) the training part and queries with the validation
    part. A :class:`~sklearn.pipeline.Pipeline` ending with a hasher is accepted too.

    Parameters
    ----------
    metric : {"map", "precision_at_k", "recall_at_k", "precision_within_radius"}, \
            default="map"
        The metric: :func:`mean_average_precision`, :func:`precision_at_k`,
        :func:`recall_at_k` or :func:`precision_within_radius`.
    **kwargs
        Keyword arguments of the metric, e.g. ``k=100`` (required for ``precision_at_k`` and
        ``recall_at_k``, where it must be a single integer), ``tie_aware=True`` or
        ``radius=2``.

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
    >>> make_retrieval_scorer("precision_within_radius", radius=2)
    make_retrieval_scorer('precision_within_radius', radius=2)
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
    return _RetrievalScorer(metric, dict(kwargs))


_NAME_FORMS = (
    (re.compile(r"map(?:@(\d+))?"), "map", "k"),
    (re.compile(r"precision@(\d+)"), "precision_at_k", "k"),
    (re.compile(r"recall@(\d+)"), "recall_at_k", "k"),
    (re.compile(r"precision_radius(\d+)"), "precision_within_radius", "radius"),
)


def get_retrieval_scorer(name):
    """Get a retrieval scorer by name.

    Names are ``"map"`` (whole database), ``"map@K"``, ``"precision@K"``, ``"recall@K"`` and
    ``"precision_radiusR"`` for integers ``K >= 1`` and ``R >= 0``; append ``"_tie_aware"``
    to a ranking metric (all but the radius one) to score the expectation over orderings of
    ties. A callable is returned unchanged.

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
    >>> get_retrieval_scorer("precision@10_tie_aware")
    make_retrieval_scorer('precision_at_k', k=10, tie_aware=True)
    >>> get_retrieval_scorer("precision_radius2")
    make_retrieval_scorer('precision_within_radius', radius=2)
    """
    if callable(name):
        return name
    if not isinstance(name, str):
        raise TypeError(f"name must be a string; got {name!r}.")
    base, tie_aware = name, False
    if base.endswith("_tie_aware"):
        base, tie_aware = base[: -len("_tie_aware")], True
    for pattern, metric, param in _NAME_FORMS:
        match = pattern.fullmatch(base)
        if match is None:
            continue
        kwargs = {} if match.group(1) is None else {param: int(match.group(1))}
        if tie_aware:
            if metric == "precision_within_radius":
                break
            kwargs["tie_aware"] = True
        if kwargs.get("k", 1) < 1:
            break
        return make_retrieval_scorer(metric, **kwargs)
    raise ValueError(
        f"Unknown retrieval scorer {name!r}. Valid names: 'map', 'map@K', 'precision@K', "
        "'recall@K' (K >= 1, optionally followed by '_tie_aware'), 'precision_radiusR'."
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
