"""Hamming-ball metrics: precision within a radius and the precision-recall curve over radii."""

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, Options, validate_params

from ._validation import (
    check_retrieval_inputs,
    check_zero_division,
    distance_histograms,
    iter_query_chunks,
)

__all__ = ["precision_recall_curve", "precision_within_radius"]


def _check_radii(radii, max_distance):
    if radii is None:
        return np.arange(max_distance + 1)
    radii = np.atleast_1d(np.asarray(radii))
    if radii.ndim != 1 or radii.size == 0:
        raise ValueError("radii must be a number or a non-empty 1-D array of numbers.")
    if radii.dtype.kind not in "iuf":
        raise TypeError(f"radii must be numbers; got dtype {radii.dtype}.")
    if not np.isfinite(radii).all() or (radii < 0).any():
        raise ValueError(f"radii must be finite and >= 0; got {radii!r}.")
    return radii


def _ball_curves(y_query, y_database, distances, radii, zero_division):
    """Mean precision and recall of the Hamming balls of each radius, over queries."""
    y_query, y_database, distances = check_retrieval_inputs(y_query, y_database, distances)
    zero_division = check_zero_division(zero_division)
    max_distance = int(distances.max())
    radii = _check_radii(radii, max_distance)
    # A radius r retrieves every item at distance <= floor(r).
    columns = np.minimum(np.floor(radii).astype(np.int64), max_distance)
    sums = np.zeros((2, len(radii)))
    counted = np.zeros((2, len(radii)))
    for _, relevant, dist in iter_query_chunks(y_query, y_database, distances):
        counts, hits = distance_histograms(relevant, dist, max_distance + 1)
        retrieved = np.cumsum(counts, axis=1)[:, columns]
        found = np.cumsum(hits, axis=1)[:, columns]
        n_relevant = hits.sum(axis=1)[:, None]
        precision = np.where(retrieved > 0, found / np.maximum(retrieved, 1), zero_division)
        recall = np.where(n_relevant > 0, found / np.maximum(n_relevant, 1), zero_division)
        for i, values in enumerate((precision, recall)):
            keep = ~np.isnan(values)
            sums[i] += np.where(keep, values, 0.0).sum(axis=0)
            counted[i] += keep.sum(axis=0)
    with np.errstate(invalid="ignore"):
        precision, recall = np.where(counted > 0, sums / np.maximum(counted, 1), np.nan)
    return precision, recall, radii


_COMMON = {
    "y_query": ["array-like"],
    "y_database": ["array-like"],
    "distances": ["array-like"],
    "zero_division": [Options(Real, {0.0, 1.0}), "nan"],
}


@validate_params(
    {**_COMMON, "radius": [Interval(Real, 0, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def precision_within_radius(y_query, y_database, distances, radius=2, *, zero_division=0.0):
    """Mean precision of the items within a Hamming radius of each query.

    Hash lookup returns every database item at distance ``<= radius`` (the Hamming ball).
    Per query, precision is the fraction of those items that are relevant (share a label
    with the query). A query whose ball is empty retrieves nothing; its precision is
    ``zero_division`` (0 by default, as in most hashing papers, so that codes spreading
    items too thinly are penalised).

    Parameters
    ----------
    y_query : array-like of shape (n_queries,) or (n_queries, n_classes)
        Query labels: class labels (1-D) or a binary label-indicator matrix (multi-label).
    y_database : array-like of shape (n_database,) or (n_database, n_classes)
        Database labels, in the same form as ``y_query``.
    distances : array-like of shape (n_queries, n_database)
        Integer Hamming distances.
    radius : float, default=2
        Largest distance retrieved (inclusive).
    zero_division : {0.0, 1.0, np.nan}, default=0.0
        Precision of a query that retrieves nothing; ``np.nan`` leaves such queries out of
        the mean (which is NaN if no query retrieves anything).

    Returns
    -------
    precision : float
        Mean precision over queries.

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
    """
    precision, _, _ = _ball_curves(y_query, y_database, distances, [radius], zero_division)
    return float(precision[0])


@validate_params(
    {**_COMMON, "radii": ["array-like", None]},
    prefer_skip_nested_validation=True,
)
def precision_recall_curve(y_query, y_database, distances, radii=None, *, zero_division=0.0):
    """Precision and recall of Hamming-ball retrieval at each radius.

    For each radius ``r``, every query retrieves the database items at distance ``<= r``;
    precision and recall are computed per query and averaged over queries. A query that
    retrieves nothing has precision ``zero_division``; a query with no relevant item in the
    database has recall ``zero_division``.

    Parameters
    ----------
    y_query : array-like of shape (n_queries,) or (n_queries, n_classes)
        Query labels: class labels (1-D) or a binary label-indicator matrix (multi-label).
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

    Returns
    -------
    precision : ndarray of shape (n_radii,)
        Mean precision at each radius.
    recall : ndarray of shape (n_radii,)
        Mean recall at each radius (non-decreasing).
    radii : ndarray of shape (n_radii,)
        The radii.

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
    """
    return _ball_curves(y_query, y_database, distances, radii, zero_division)
