"""What a search backend provides, and the pieces every backend and merge shares.

A backend answers searches over a snapshot of the database: packed query words against
:class:`~skhash.index._packing.BlockedCodes` (or an object a backend keeps for itself, such as
the codes copied to a GPU). It returns database *positions*: the front end,
:class:`~skhash.index.HammingIndex`, maps them to user ids, splits long searches into
batches (between which Ctrl-C is honoured) and picks the backend.

This module imports neither numba nor torch: a small search must compile nothing.
"""

from typing import Protocol

import numpy as np
from joblib import effective_n_jobs

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "SearchBackend",
    "dense_ranks",
    "merge_top_k",
    "n_threads",
    "sort_hits",
    "split_by_counts",
    "to_object_array",
]

# Bound in bytes on the temporary memory of one search: the one definition every
# backend, the index and the Dask shards use.
DEFAULT_MEMORY_BUDGET = 64 * 2**20


class SearchBackend(Protocol):
    """The three searches a backend provides (a module or an object can be one).

    Every method takes ``queries``, an ``(n_queries, n_words)`` C-contiguous uint64 array of
    packed codes (see :func:`skhash.index.pack_codes`), and ``database``, the codes to
    search: a :class:`~skhash.index._packing.BlockedCodes` snapshot (never modified), or
    for a backend that keeps its own copy, that copy. Results are exact: every backend
    returns the same answer, database positions in ``[0, len(database))``, nearest first,
    equal distances in position order. ``memory_budget`` bounds the temporary memory in
    bytes; ``n_jobs`` is the number of threads (``None`` is 1, ``-1`` all cores), which a
    single-threaded backend may ignore.
    """

    def knn_search(self, queries, database, k, memory_budget, n_jobs):
        """``(distances, positions)``: int32 and int64 arrays of shape (n_queries, k).

        ``1 <= k <= len(database)``.
        """

    def radius_search(self, queries, database, radius, memory_budget, n_jobs):
        """``(distances, positions)``: two lists of n_queries arrays (int32, int64).

        Every code within ``radius`` (``0 <= radius <= 64 * n_words``) of each query.
        """

    def pairwise_distances(self, queries, database, memory_budget, n_jobs):
        """The ``(n_queries, len(database))`` int32 matrix of Hamming distances."""


def n_threads(n_jobs):
    """Threads for ``n_jobs``, as joblib counts them (``None``: 1, or the active
    ``joblib.parallel_config``; ``-1``: all cores; ``-2``: all but one)."""
    return max(1, int(effective_n_jobs(n_jobs)))


def _ranking_keys(dist, ind):
    """int64 keys that sort by distance, then by index (``ind`` must be >= 0)."""
    span = int(ind.max()) + 1 if ind.size else 1
    return dist.astype(np.int64) * span + ind


def sort_hits(dist, ind, *payload):
    """Hits sorted by (distance, index) along the last axis; ``payload`` follows the order.

    The one ordering of every search result: one query's hits (1-D) or rows of hits (2-D).
    Integer (Hamming) distances come back as int32; real-valued ones (re-ranking
    distances) keep their dtype.

    Parameters
    ----------
    dist, ind : ndarray of shape (n_hits,) or (n_rows, n_hits)
        Distances and database indices (``>= 0``) of the hits, in any order.
    *payload : ndarray of the shape of ``ind``
        Arrays carried along (user ids, for instance).

    Returns
    -------
    dist, ind, *payload : the arrays in ranking order (ind as int64)
    """
    if dist.ndim == 1 and dist.dtype.kind in "iu":  # one int64 key: faster than lexsort
        order = np.argsort(_ranking_keys(dist, ind), kind="stable")
    else:
        order = np.lexsort((ind, dist), axis=-1)

    def ordered(a):
        return np.take_along_axis(a, order, axis=-1)

    dist = ordered(dist)
    if dist.dtype.kind in "iu":
        dist = dist.astype(np.int32, copy=False)
    return (dist, ordered(ind).astype(np.int64, copy=False), *(ordered(p) for p in payload))


def dense_ranks(distances, dtype=np.int32):
    """Per row, the dense rank of each distance (0 for the smallest; equal values share a
    rank): integers with the order and the ties of ``distances``, as the metrics read them."""
    order = np.argsort(distances, axis=1, kind="stable")
    ordered = np.take_along_axis(distances, order, axis=1)
    new_value = np.ones(ordered.shape, dtype=dtype)
    new_value[:, :1] = 0  # (a row without distances has nothing to rank)
    new_value[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    ranks = np.empty(ordered.shape, dtype=dtype)
    np.put_along_axis(ranks, order, np.cumsum(new_value, axis=1, dtype=dtype), axis=1)
    return ranks


def merge_top_k(dist, ind, k, payload=None):
    """The ``k`` best candidates of each row, by (distance, index).

    Partial top-k lists (of database parts, query batches or shards) are concatenated
    along the rows' axis and merged here; an index must be unique within a row.

    Parameters
    ----------
    dist : ndarray of shape (n_queries, n_candidates)
        Candidate distances (padding entries may use a distance beyond every real one).
    ind : ndarray of shape (n_queries, n_candidates)
        Candidate database indices, ``>= 0``.
    k : int
        Number kept, ``<= n_candidates``.
    payload : ndarray of shape (n_queries, n_candidates), default=None
        Carried along with the indices (user ids of the candidates).

    Returns
    -------
    dist : ndarray of shape (n_queries, k), dtype int32
    ind : ndarray of shape (n_queries, k), dtype int64
    payload : ndarray of shape (n_queries, k)
        Only when ``payload`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.index._backend import merge_top_k
    >>> merge_top_k(np.array([[3, 1, 1, 0]]), np.array([[7, 9, 2, 5]]), k=3)
    (array([[0, 1, 1]], dtype=int32), array([[5, 2, 9]]))
    """
    keys = _ranking_keys(dist, ind)
    if keys.shape[1] > 4 * k:  # select first: sorting every candidate costs more
        keys_at = np.argpartition(keys, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(
            keys_at, np.argsort(np.take_along_axis(keys, keys_at, axis=1), axis=1), axis=1
        )
    else:
        order = np.argsort(keys, axis=1)[:, :k]
    out = (
        np.take_along_axis(dist, order, axis=1).astype(np.int32, copy=False),
        np.take_along_axis(ind, order, axis=1).astype(np.int64, copy=False),
    )
    if payload is None:
        return out
    return (*out, np.take_along_axis(payload, order, axis=1))


def split_by_counts(flat, counts):
    """``flat`` cut into consecutive views of ``counts`` items (``np.split`` is 10x slower)."""
    stops = np.cumsum(counts).tolist()
    return [flat[a:b] for a, b in zip([0, *stops[:-1]], stops, strict=True)]


def to_object_array(parts):
    """A 1-D object array holding the arrays of ``parts`` (radius search results)."""
    out = np.empty(len(parts), dtype=object)
    out[:] = parts
    return out
