"""Radius-based retrieval measures used by the comparison.

:mod:`skhash.metrics` provides ``precision_within_radius`` and ``precision_recall_curve``;
while an installed version lacks them, these small equivalents (same conventions: a query that
retrieves nothing within the radius has precision 0) are used instead.
"""

import numpy as np

from .. import metrics as _metrics
from ..utils.validation import relevance

__all__ = ["precision_recall_curve", "precision_within_radius"]


def _precision_recall_at_radii(y_query, y_database, distances, radii):
    relevant = relevance(np.asarray(y_query), np.asarray(y_database))
    distances = np.asarray(distances)
    n_relevant = np.maximum(relevant.sum(axis=1), 1)
    precision = np.empty(len(radii))
    recall = np.empty(len(radii))
    for i, radius in enumerate(radii):
        retrieved = distances <= radius
        n_retrieved = retrieved.sum(axis=1)
        hits = (retrieved & relevant).sum(axis=1)
        precision[i] = np.mean(np.where(n_retrieved > 0, hits / np.maximum(n_retrieved, 1), 0))
        recall[i] = np.mean(hits / n_relevant)
    return precision, recall


def precision_within_radius(y_query, y_database, distances, *, radius=2):
    """Mean precision of the items within Hamming ``radius`` (0 when none is retrieved)."""
    if hasattr(_metrics, "precision_within_radius"):
        return float(
            _metrics.precision_within_radius(y_query, y_database, distances, radius=radius)
        )
    return float(_precision_recall_at_radii(y_query, y_database, distances, [radius])[0][0])


def precision_recall_curve(y_query, y_database, distances):
    """Precision and recall of Hamming-ball retrieval at each radius.

    Returns
    -------
    precision, recall, radii : ndarray
    """
    if hasattr(_metrics, "precision_recall_curve"):
        return _metrics.precision_recall_curve(y_query, y_database, distances)
    radii = np.arange(int(np.max(distances)) + 1)
    precision, recall = _precision_recall_at_radii(y_query, y_database, distances, radii)
    return precision, recall, radii
