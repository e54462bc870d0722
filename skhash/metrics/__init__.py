"""Retrieval metrics for Hamming ranking, and scorers for model selection.

Every metric takes ``(y_query, y_database, distances, ...)``: the labels of the queries and of
the database (1-D class labels, or binary indicator matrices or label sets for multi-label
data; an item is relevant to a query when they share a label) and the
``(n_queries, n_database)`` integer Hamming distance matrix, e.g. from
``hasher.hamming_distances(X)``. The database is ranked by distance, ties in database order
(or an explicit ``tie_break`` order), unless ``tie_aware=True``.

Graded relevance (the number of shared labels of multi-label rows, or fine / coarse / no
match under a label ``hierarchy``) is scored by :func:`ndcg_at_k`, :func:`acg_at_k`,
:func:`weighted_map` and :func:`mean_average_hierarchical_precision`; the binary metrics
take ``granularity="coarse"`` with a ``hierarchy`` to count coarse matches as relevant.

The options reproducing published evaluation codes (which queries count, the AP@k
normaliser, macro or micro averaging) are listed in the user guide's "Evaluation" page.
"""

from ._graded import (
    acg_at_k,
    graded_relevance,
    mean_average_hierarchical_precision,
    ndcg_at_k,
    weighted_map,
)
from ._radius import precision_recall_auc, precision_recall_curve, precision_within_radius
from ._ranking import average_precision, mean_average_precision, precision_at_k, recall_at_k
from ._report import retrieval_report
from ._scorer import get_retrieval_scorer, make_retrieval_scorer, query_time
from ._validation import TieOrderWarning

__all__ = [
    "TieOrderWarning",
    "acg_at_k",
    "average_precision",
    "get_retrieval_scorer",
    "graded_relevance",
    "make_retrieval_scorer",
    "mean_average_hierarchical_precision",
    "mean_average_precision",
    "ndcg_at_k",
    "precision_at_k",
    "precision_recall_auc",
    "precision_recall_curve",
    "precision_within_radius",
    "query_time",
    "recall_at_k",
    "retrieval_report",
    "weighted_map",
]
