"""k-nearest-neighbour graphs as scikit-learn's estimators give them."""

import numpy as np
from scipy.sparse import csr_matrix

__all__ = ["GRAPH_MODES", "knn_graph"]

GRAPH_MODES = ("connectivity", "distance")


def check_graph_mode(mode):
    if mode not in GRAPH_MODES:
        raise ValueError(f'mode must be "connectivity" or "distance"; got {mode!r}.')
    return mode


def knn_graph(distances, positions, n_columns, mode="connectivity"):
    """Sparse ``(n_queries, n_columns)`` graph of each query's neighbours (one row each).

    As :meth:`sklearn.neighbors.NearestNeighbors.kneighbors_graph`: row ``i`` holds query
    ``i``'s neighbours at their ``positions`` (columns), each entry 1 (``"connectivity"``) or
    the distance (``"distance"``, float; a distance of 0 is stored explicitly).

    Parameters
    ----------
    distances : ndarray of shape (n_queries, k)
    positions : ndarray of shape (n_queries, k)
        Column of each neighbour.
    n_columns : int
    mode : {"connectivity", "distance"}, default="connectivity"

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (n_queries, n_columns)
    """
    check_graph_mode(mode)
    n_queries, k = positions.shape
    if mode == "connectivity":
        data = np.ones(positions.size)
    else:
        data = np.asarray(distances, dtype=np.float64).ravel()
    indptr = np.arange(0, n_queries * k + 1, k)
    return csr_matrix((data, positions.ravel(), indptr), shape=(n_queries, n_columns))
