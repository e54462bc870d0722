"""Compiled ranking of candidate lists by Hamming distance (the fine stage of CoarseToFine).

Imported only when a search has enough candidates to pay for compiling it (``import skhash``
never imports numba). Same results as the numpy path in :mod:`skhash.coarse_to_fine`.
"""

import numpy as np
from numba import prange

from .index._numba_search import _pjit, _popcount, _Threads

__all__ = ["rank_candidates"]


@_pjit
def _knn_kernel(words, queries, indptr, indices, k, skip_self, out_d, out_i):
    stride = np.int64(len(words) + 1)
    n_bits = words.shape[1] * 64
    for q in prange(len(indptr) - 1):
        lo, hi = indptr[q], indptr[q + 1]
        dist = np.empty(hi - lo, np.int64)
        counts = np.zeros(n_bits + 1, np.int64)
        for j in range(lo, hi):
            c = indices[j]
            if skip_self and c == q:
                dist[j - lo] = -1
                continue
            d = 0
            for w in range(words.shape[1]):
                d += _popcount(words[c, w] ^ queries[q, w])
            dist[j - lo] = d
            counts[d] += 1
        # the k nearest are those up to the smallest distance whose cumulative count is k
        below, bound = 0, 0
        while below + counts[bound] < k:
            below += counts[bound]
            bound += 1
        keys = np.empty(below + counts[bound], np.int64)
        n = 0
        for j in range(hi - lo):
            if 0 <= dist[j] <= bound:
                keys[n] = dist[j] * stride + indices[lo + j]  # distance, then index
                n += 1
        keys.sort()
        for r in range(k):
            out_d[q, r] = keys[r] // stride
            out_i[q, r] = keys[r] % stride


def rank_candidates(words, queries, indptr, indices, n_neighbors, skip_self, n_jobs=None):
    """The ``n_neighbors`` nearest candidates of each query, ties by database index.

    Parameters
    ----------
    words : ndarray of shape (n_database, n_words), dtype uint64
        Packed database codes.
    queries : ndarray of shape (n_queries, n_words), dtype uint64
        Packed query codes.
    indptr, indices : ndarray of int64
        Query ``i``'s candidates are ``indices[indptr[i]:indptr[i + 1]]``; each query has
        at least ``n_neighbors`` (not counting itself when ``skip_self``).
    n_neighbors : int
        Neighbours returned per query.
    skip_self : bool
        Whether query ``i`` is database item ``i``, never its own neighbour.
    n_jobs : int, default=None
        Threads; None means 1.

    Returns
    -------
    dist : ndarray of shape (n_queries, n_neighbors), dtype int32
    ind : ndarray of shape (n_queries, n_neighbors), dtype int64
    """
    n_queries = len(indptr) - 1
    out_d = np.empty((n_queries, n_neighbors), np.int64)
    out_i = np.empty((n_queries, n_neighbors), np.int64)
    with _Threads(n_jobs):
        _knn_kernel(
            np.ascontiguousarray(words),
            np.ascontiguousarray(queries),
            indptr.astype(np.int64, copy=False),
            indices.astype(np.int64, copy=False),
            n_neighbors,
            skip_self,
            out_d,
            out_i,
        )
    return out_d.astype(np.int32), out_i
