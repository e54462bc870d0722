"""A dictionary of the main retrieval numbers, for comparisons and reports."""

import numpy as np

from ._radius import precision_within_radius
from ._ranking import mean_average_precision, precision_at_k, recall_at_k
from ._validation import check_k, check_retrieval_inputs

__all__ = ["retrieval_report"]


def retrieval_report(y_query, y_database, distances, *, k=(10, 100), radius=2, tie_aware=False):
    """The main retrieval numbers of a Hamming ranking, in one dictionary.

    Parameters
    ----------
    y_query : array-like of shape (n_queries,) or (n_queries, n_classes)
        Query labels: class labels (1-D) or a binary label-indicator matrix (multi-label).
    y_database : array-like of shape (n_database,) or (n_database, n_classes)
        Database labels, in the same form as ``y_query``.
    distances : array-like of shape (n_queries, n_database)
        Integer Hamming distances.
    k : int or sequence of int, default=(10, 100)
        Cut-offs for mAP@k, precision@k and recall@k; each at most ``n_database``.
    radius : int, default=2
        Hamming radius for the precision within a radius.
    tie_aware : bool, default=False
        Whether the ranking metrics average over orderings of tied items.

    Returns
    -------
    report : dict of str to float
        Keys ``"mAP"``, then ``"mAP@k"``, ``"precision@k"`` and ``"recall@k"`` for each ``k``,
        and ``"precision_radiusR"`` (``R`` the radius).

    Examples
    --------
    >>> from skhash.metrics import retrieval_report
    >>> y_database = [0, 1, 0, 1]
    >>> distances = [[0, 2, 1, 3], [1, 0, 2, 1]]
    >>> report = retrieval_report([0, 1], y_database, distances, k=2, radius=1)
    >>> for key, value in report.items():
    ...     print(f"{key}: {value:.4f}")
    mAP: 0.9167
    mAP@2: 1.0000
    precision@2: 0.7500
    recall@2: 0.7500
    precision_radius1: 0.8333
    """
    y_query, y_database, distances = check_retrieval_inputs(y_query, y_database, distances)
    ks, _ = check_k(k, distances.shape[1], allow_array=True)
    args = (y_query, y_database, distances)
    report = {"mAP": mean_average_precision(*args, tie_aware=tie_aware)}
    for value in ks:
        report[f"mAP@{value}"] = mean_average_precision(*args, k=int(value), tie_aware=tie_aware)
    precision = np.atleast_1d(precision_at_k(*args, ks, tie_aware=tie_aware))
    recall = np.atleast_1d(recall_at_k(*args, ks, tie_aware=tie_aware))
    for value, p, r in zip(ks, precision, recall, strict=True):
        report[f"precision@{value}"] = float(p)
        report[f"recall@{value}"] = float(r)
    radius_name = int(radius) if float(radius).is_integer() else radius
    report[f"precision_radius{radius_name}"] = precision_within_radius(*args, radius=radius)
    return report
