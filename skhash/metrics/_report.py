"""A dictionary of the main retrieval numbers, for comparisons and reports."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, Options, StrOptions, validate_params

from ._radius import AVERAGE_OPTIONS, BallEvaluation, _check_radii
from ._ranking import (
    EMPTY_QUERY_OPTIONS,
    NORMALIZE_OPTIONS,
    AveragePrecisionEvaluation,
    HitsEvaluation,
    evaluate,
)
from ._validation import check_k, check_retrieval_inputs, warn_if_tie_order_matters

__all__ = ["retrieval_report"]


@validate_params(
    {
        "y_query": ["array-like"],
        "y_database": ["array-like"],
        "distances": ["array-like"],
        "k": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "radius": [Interval(Real, 0, None, closed="left")],
        "tie_aware": ["boolean"],
        "normalize": [StrOptions(set(NORMALIZE_OPTIONS))],
        "empty_queries": [StrOptions(set(EMPTY_QUERY_OPTIONS))],
        "zero_division": [Options(Real, {0.0, 1.0}), "nan"],
        "average": [StrOptions(set(AVERAGE_OPTIONS))],
        "tie_break": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def retrieval_report(
    y_query,
    y_database,
    distances,
    *,
    k=(10, 100),
    radius=2,
    tie_aware=False,
    normalize="retrieved",
    empty_queries="zero",
    zero_division=0.0,
    average="macro",
    tie_break=None,
):
    """The main retrieval numbers of a Hamming ranking, in one dictionary.

    For numbers to publish, pass ``tie_aware=True``: the ranking metrics are then the
    expectation over every order of the items at equal distance, which does not depend on
    how the database happens to be stored (a database sorted by class otherwise inflates
    them). State the conventions with the numbers (see the user guide's "Evaluation" page).

    Parameters
    ----------
    y_query : array-like of shape (n_queries,) or (n_queries, n_classes)
        Query labels: class labels (1-D), a binary label-indicator matrix, or a sequence of
        label sets (multi-label).
    y_database : array-like of shape (n_database,) or (n_database, n_classes)
        Database labels, in the same form as ``y_query``.
    distances : array-like of shape (n_queries, n_database)
        Integer Hamming distances.
    k : int or sequence of int, default=(10, 100)
        Cut-offs for mAP@k, precision@k and recall@k; each at most ``n_database``.
    radius : float, default=2
        Hamming radius for the precision within a radius.
    tie_aware : bool, default=False
        Whether the ranking metrics average over orderings of tied items.
    normalize : {"retrieved", "relevant", "min_k_relevant"}, default="retrieved"
        Normaliser of AP@k (see :func:`average_precision`).
    empty_queries : {"zero", "skip", "skip_unretrieved"}, default="zero"
        Which queries count in mAP and mAP@k (see :func:`mean_average_precision`).
    zero_division : {0.0, 1.0, np.nan}, default=0.0
        Precision@k and recall@k of a query with no relevant item in the database, and the
        precision of an empty Hamming ball; ``np.nan`` leaves those queries out.
    average : {"macro", "micro"}, default="macro"
        Averaging of the precision within the radius (see :func:`precision_within_radius`).
    tie_break : array-like of int, default=None
        Explicit order of tied items (see :func:`average_precision`).

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
    n_database = distances.shape[1]
    ks, _ = check_k(k, n_database, allow_array=True)
    ap_options = dict(tie_aware=tie_aware, normalize=normalize, empty_queries=empty_queries)
    ap_evaluations = {"mAP": AveragePrecisionEvaluation(n_database, **ap_options)}
    for value in ks:
        ap_evaluations[f"mAP@{value}"] = AveragePrecisionEvaluation(
            n_database, k=int(value), **ap_options
        )
    hit_options = dict(k=ks, tie_aware=tie_aware, zero_division=zero_division)
    hits = {
        kind: HitsEvaluation(n_database, kind=kind, **hit_options)
        for kind in ("precision", "recall")
    }
    ball = BallEvaluation(
        _check_radii([radius], distances.max()), zero_division=zero_division, average=average
    )
    tie_break = ap_evaluations["mAP"].check_tie_break(tie_break, len(distances))
    if not tie_aware and tie_break is None:
        warn_if_tie_order_matters(y_database, distances.max())
    args = (y_query, y_database, distances)
    report = {
        name: evaluation.reduce(evaluate(evaluation, *args, tie_break))
        for name, evaluation in ap_evaluations.items()
    }
    curves = {
        kind: np.atleast_1d(e.reduce(evaluate(e, *args, tie_break))) for kind, e in hits.items()
    }
    for i, value in enumerate(ks):
        report[f"precision@{value}"] = float(curves["precision"][i])
        report[f"recall@{value}"] = float(curves["recall"][i])
    radius_name = int(radius) if float(radius).is_integer() else radius
    report[f"precision_radius{radius_name}"] = ball.reduce(evaluate(ball, *args))
    return report
