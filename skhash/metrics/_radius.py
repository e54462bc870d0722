"""Hamming-ball metrics: precision within a radius, the precision-recall curve over radii,
and the area under that curve."""

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, Options, StrOptions, validate_params

from ._hierarchy import GRANULARITY_OPTIONS, labels_at_granularity
from ._validation import (
    _HISTOGRAM_SLACK,
    check_option,
    check_retrieval_inputs,
    check_zero_division,
    distance_histograms,
    iter_query_chunks,
    mean_over_queries,
)

__all__ = ["precision_recall_auc", "precision_recall_curve", "precision_within_radius"]

AVERAGE_OPTIONS = ("macro", "micro")
# Default radii 0, 1, ..., max distance are used up to this distance; beyond, pass radii.
_MAX_DEFAULT_RADII = 2**16


def _check_radii(radii, max_distance):
    if radii is None:
        if max_distance > _MAX_DEFAULT_RADII:
            raise ValueError(
                f"The distances go up to {max_distance}, too far to evaluate every radius "
                "from 0: pass the radii to evaluate."
            )
        return np.arange(max_distance + 1)
    radii = np.atleast_1d(np.asarray(radii))
    if radii.ndim != 1 or radii.size == 0:
        raise ValueError("radii must be a number or a non-empty 1-D array of numbers.")
    if radii.dtype.kind not in "iuf":
        raise TypeError(f"radii must be numbers; got dtype {radii.dtype}.")
    if not np.isfinite(radii).all() or (radii < 0).any():
        raise ValueError(f"radii must be finite and >= 0; got {radii!r}.")
    return radii


def _counts_within(relevant, distances, radii):
    """Items and relevant items at distance ``<= r`` for each query and radius."""
    largest = int(distances.max()) if distances.dtype.kind in "iu" else None
    if largest is not None and largest < distances.shape[1] + _HISTOGRAM_SLACK:
        counts, hits = distance_histograms(relevant, distances, largest + 1)
        # A radius r retrieves every distance <= floor(r); beyond the largest, everything.
        columns = np.floor(np.minimum(radii, largest)).astype(np.int64)
        return np.cumsum(hits, axis=1)[:, columns], np.cumsum(counts, axis=1)[:, columns]
    # Distances too large for a histogram: search the radii in each sorted row.
    order = np.argsort(distances, axis=1, kind="stable")
    ordered = np.take_along_axis(distances, order, axis=1)
    found_upto = np.zeros((len(distances), distances.shape[1] + 1), dtype=np.int64)
    np.cumsum(np.take_along_axis(relevant, order, axis=1), axis=1, out=found_upto[:, 1:])
    retrieved = np.stack([np.searchsorted(row, radii, side="right") for row in ordered])
    return np.take_along_axis(found_upto, retrieved, axis=1), retrieved


class BallEvaluation:
    """Per query and radius: relevant items retrieved, items retrieved, relevant items."""

    def __init__(self, radii, *, zero_division=0.0, average="macro"):
        self.radii = radii
        self.zero_division = check_zero_division(zero_division)
        self.average = check_option(average, "average", AVERAGE_OPTIONS)

    def query_values(self, relevant, distances):
        found, retrieved = _counts_within(relevant, distances, self.radii)
        n_relevant = np.broadcast_to(relevant.sum(axis=1)[:, None], found.shape)
        return np.stack([found, retrieved, n_relevant], axis=1).astype(float)

    def curves(self, values):
        """Precision and recall at each radius from the per-query values."""
        found, retrieved, n_relevant = values[:, 0], values[:, 1], values[:, 2]
        if self.average == "micro":
            # Pooled query-item pairs, as the ITQ/SH-era MATLAB evaluation.
            sums = found.sum(axis=0), retrieved.sum(axis=0), n_relevant.sum(axis=0)
            return (
                np.where(sums[1] > 0, sums[0] / np.maximum(sums[1], 1), self.zero_division),
                np.where(sums[2] > 0, sums[0] / np.maximum(sums[2], 1), self.zero_division),
            )
        precision = np.where(retrieved > 0, found / np.maximum(retrieved, 1), self.zero_division)
        recall = np.where(n_relevant > 0, found / np.maximum(n_relevant, 1), self.zero_division)
        return mean_over_queries(precision, "the precision"), mean_over_queries(
            recall, "the recall"
        )

    def reduce(self, values):
        """Precision within the (single) radius."""
        return float(self.curves(values)[0][0])


def _ball_curves(y_query, y_database, distances, radii, zero_division, average):
    """Precision and recall of the Hamming balls of each radius, and the radii."""
    y_query, y_database, distances = check_retrieval_inputs(y_query, y_database, distances)
    radii = _check_radii(radii, distances.max())
    evaluation = BallEvaluation(radii, zero_division=zero_division, average=average)
    values = np.empty((len(distances), 3, len(radii)))
    for rows, relevant, dist in iter_query_chunks(y_query, y_database, distances):
        values[rows] = evaluation.query_values(relevant, dist)
    return (*evaluation.curves(values), radii)


def _area(precision, recall):
    """Trapezoidal area under precision over recall, as the MATLAB-era ``area_RP``.

    The curve starts at recall 0 with the first precision; points of equal recall are
    merged (the first kept); an undefined (NaN) precision takes the next defined one.
    """
    order = np.argsort(recall, kind="stable")
    recall, precision = recall[order], precision[order]
    if recall[0] > 0:
        recall = np.concatenate([[0.0], recall])
        precision = np.concatenate([precision[:1], precision])
    recall, first = np.unique(recall, return_index=True)
    precision = precision[first]
    for i in range(len(precision) - 2, -1, -1):
        if np.isnan(precision[i]):
            precision[i] = precision[i + 1]
    return float(np.sum(np.diff(recall) * (precision[1:] + precision[:-1]) / 2))


_COMMON = {
    "y_query": ["array-like"],
    "y_database": ["array-like"],
    "distances": ["array-like"],
    "zero_division": [Options(Real, {0.0, 1.0}), "nan"],
    "average": [StrOptions(set(AVERAGE_OPTIONS))],
}


@validate_params(
    {
        **_COMMON,
        "radius": [Interval(Real, 0, None, closed="left")],
        "hierarchy": [dict, "array-like", None],
        "granularity": [StrOptions(set(GRANULARITY_OPTIONS))],
    },
    prefer_skip_nested_validation=True,
)
def precision_within_radius(
    y_query,
    y_database,
    distances,
    radius=2,
    *,
    zero_division=0.0,
    average="macro",
    hierarchy=None,
    granularity="fine",
):
    """Mean precision of the items within a Hamming radius of each query.

    Hash lookup returns every database item at distance ``<= radius`` (the Hamming ball).
    Per query, precision is the fraction of those items that are relevant (share a label
    with the query). A query whose ball is empty retrieves nothing; its precision is
    ``zero_division`` (0 by default, as in most hashing papers, so that codes spreading
    items too thinly are penalised). The order of tied items plays no part here.

    Parameters
    ----------
    y_query : array-like of shape (n_queries,) or (n_queries, n_classes)
        Query labels: class labels (1-D), a binary label-indicator matrix, or a sequence of
        label sets (multi-label).
    y_database : array-like of shape (n_database,) or (n_database, n_classes)
        Database labels, in the same form as ``y_query``.
    distances : array-like of shape (n_queries, n_database)
        Integer Hamming distances.
    radius : float, default=2
        Largest distance retrieved (inclusive).
    zero_division : {0.0, 1.0, np.nan}, default=0.0
        Precision of a query that retrieves nothing (``"macro"``), or of the whole set when
        no query retrieves anything (``"micro"``); ``np.nan`` leaves such queries out of the
        mean (which is NaN if no query retrieves anything).
    average : {"macro", "micro"}, default="macro"
        ``"macro"``: the mean over queries of each query's precision. ``"micro"``: the
        precision of all query-item pairs pooled, (relevant pairs retrieved) / (pairs
        retrieved), as the ITQ/SH-era MATLAB evaluation computes it; queries retrieving many
        items weigh more.
    hierarchy : dict or array-like, default=None
        The coarse label of each fine (1-D) label: ``{fine: coarse}``, or an array whose
        entry ``f`` is the coarse label of ``f``. Needed by ``granularity="coarse"``.
    granularity : {"fine", "coarse"}, default="fine"
        ``"coarse"`` counts an item relevant when it shares the query's coarse label.

    Returns
    -------
    precision : float
        Mean precision over queries (``"macro"``), or pooled precision (``"micro"``).

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.metrics import precision_within_radius
    >>> y_database = [0, 1, 0, 1]
    >>> distances = [[0, 1, 2, 3], [3, 3, 3, 3]]
    >>> precision_within_radius([0, 1], y_database, distances, radius=1)
    0.25
    >>> precision_within_radius([0, 1], y_database, distances, radius=1, zero_division=np.nan)
    0.5
    >>> precision_within_radius([0, 1], y_database, distances, radius=1, average="micro")
    0.5
    """
    y_query, y_database = labels_at_granularity(y_query, y_database, hierarchy, granularity)
    precision, _, _ = _ball_curves(
        y_query, y_database, distances, [radius], zero_division, average
    )
    return float(precision[0])


@validate_params(
    {**_COMMON, "radii": ["array-like", None]},
    prefer_skip_nested_validation=True,
)
def precision_recall_curve(
    y_query, y_database, distances, radii=None, *, zero_division=0.0, average="macro"
):
    """Precision and recall of Hamming-ball retrieval at each radius.

    For each radius ``r``, every query retrieves the database items at distance ``<= r``.
    With ``average="macro"``, precision and recall are computed per query and averaged over
    queries: a query that retrieves nothing has precision ``zero_division``, and a query with
    no relevant item in the database has recall ``zero_division``. With ``"micro"``, all
    query-item pairs are pooled (the ITQ/SH-era MATLAB ``recall_precision``).

    Parameters
    ----------
    y_query : array-like of shape (n_queries,) or (n_queries, n_classes)
        Query labels: class labels (1-D), a binary label-indicator matrix, or a sequence of
        label sets (multi-label).
    y_database : array-like of shape (n_database,) or (n_database, n_classes)
        Database labels, in the same form as ``y_query``.
    distances : array-like of shape (n_queries, n_database)
        Integer Hamming distances.
    radii : array-like of shape (n_radii,), default=None
        Radii to evaluate; None means ``0, 1, ..., distances.max()`` (the last one retrieves
        the whole database).
    zero_division : {0.0, 1.0, np.nan}, default=0.0
        Value of an undefined precision or recall; ``np.nan`` leaves those queries out of
        the mean.
    average : {"macro", "micro"}, default="macro"
        Mean over queries (``"macro"``) or pooled query-item pairs (``"micro"``).

    Returns
    -------
    precision : ndarray of shape (n_radii,)
        Precision at each radius.
    recall : ndarray of shape (n_radii,)
        Recall at each radius (non-decreasing).
    radii : ndarray of shape (n_radii,)
        The radii.

    See Also
    --------
    precision_recall_auc : The area under this curve.

    Examples
    --------
    >>> from skhash.metrics import precision_recall_curve
    >>> y_database = [0, 1, 0, 1]
    >>> distances = [[0, 2, 1, 3], [1, 0, 2, 1]]
    >>> precision, recall, radii = precision_recall_curve([0, 1], y_database, distances)
    >>> radii
    array([0, 1, 2, 3])
    >>> precision
    array([1.        , 0.83333333, 0.58333333, 0.5       ])
    >>> recall
    array([0.5, 1. , 1. , 1. ])
    >>> precision, recall, _ = precision_recall_curve(
    ...     [0, 1], y_database, distances, average="micro")
    >>> precision
    array([1.        , 0.8       , 0.57142857, 0.5       ])
    """
    return _ball_curves(y_query, y_database, distances, radii, zero_division, average)


@validate_params(
    {**_COMMON, "radii": ["array-like", None]},
    prefer_skip_nested_validation=True,
)
def precision_recall_auc(
    y_query, y_database, distances, radii=None, *, zero_division=0.0, average="macro"
):
    """Area under the precision-recall curve of Hamming-ball retrieval.

    The trapezoidal area under :func:`precision_recall_curve` (same arguments), with the
    conventions of the MATLAB ``area_RP`` used in the ITQ/SH/SDH-era papers, which call
    this area "mAP": the curve is extended to recall 0 at its first precision, points of
    equal recall count once (the first, i.e. the smallest radius), and an undefined
    precision (``zero_division=np.nan``) takes the value of the next point.

    To reproduce that code exactly, pass ``average="micro"`` and
    ``radii=np.arange(distances.max())`` (its radii stop one below the largest distance).

    Parameters
    ----------
    y_query : array-like of shape (n_queries,) or (n_queries, n_classes)
        Query labels: class labels (1-D), a binary label-indicator matrix, or a sequence of
        label sets (multi-label).
    y_database : array-like of shape (n_database,) or (n_database, n_classes)
        Database labels, in the same form as ``y_query``.
    distances : array-like of shape (n_queries, n_database)
        Integer Hamming distances.
    radii : array-like of shape (n_radii,), default=None
        Radii giving the points of the curve; None means ``0, 1, ..., distances.max()``.
    zero_division : {0.0, 1.0, np.nan}, default=0.0
        Value of an undefined precision or recall (see :func:`precision_recall_curve`).
    average : {"macro", "micro"}, default="macro"
        Mean over queries (``"macro"``) or pooled query-item pairs (``"micro"``).

    Returns
    -------
    area : float
        Area under the curve, in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.metrics import precision_recall_auc
    >>> y_database = [0, 1, 0, 1]
    >>> distances = np.array([[0, 2, 1, 3], [1, 0, 2, 1]])
    >>> round(precision_recall_auc([0, 1], y_database, distances, average="micro"), 4)
    0.95
    """
    precision, recall, _ = _ball_curves(
        y_query, y_database, distances, radii, zero_division, average
    )
    return _area(precision, recall)
