"""Exhaustive Hamming search in numpy: XOR + ``np.bitwise_count`` in memory-bounded blocks.

Every function takes packed ``uint64`` codes (see :func:`skhash.index.pack_codes`) and returns
exact results with ties broken by database order. Working memory stays under
``memory_budget`` bytes whatever the number of queries and database items. ``n_jobs`` is
accepted for a signature shared with the other backends and ignored (single thread).
"""

import numpy as np

from ._packing import as_words

DEFAULT_MEMORY_BUDGET = 64 * 2**20


def iter_blocks(n_queries, n_database, n_words, memory_budget=DEFAULT_MEMORY_BUDGET):
    """Yield ``(query_slice, database_slice)`` pairs covering the query x database grid.

    A block of ``q x d`` pairs costs ``q * d * (8 * n_words + 16)`` bytes (the XOR words, the
    distances and the sort keys), which is kept under ``memory_budget``.
    """
    per_pair = 8 * n_words + 16
    pairs = max(1, memory_budget // per_pair)
    d_step = int(min(max(n_database, 1), pairs))
    q_step = int(max(1, min(n_queries, pairs // d_step)))
    for q0 in range(0, n_queries, q_step):
        for d0 in range(0, n_database, d_step):
            yield slice(q0, min(q0 + q_step, n_queries)), slice(d0, min(d0 + d_step, n_database))


def block_distances(query_words, database_words):
    """Hamming distances between every query and database code of a block, as int32."""
    xor = np.bitwise_xor(query_words[:, None, :], database_words[None, :, :])
    return np.bitwise_count(xor).sum(axis=2, dtype=np.int32)


def pairwise_distances(
    query_words, database_words, memory_budget=DEFAULT_MEMORY_BUDGET, n_jobs=None
):
    """Full ``(n_queries, n_database)`` Hamming distance matrix (int32)."""
    database_words = as_words(database_words)
    n_q, n_d = len(query_words), len(database_words)
    out = np.empty((n_q, n_d), dtype=np.int32)
    for qs, ds in iter_blocks(n_q, n_d, query_words.shape[1], memory_budget):
        out[qs, ds] = block_distances(query_words[qs], database_words[ds])
    return out


def knn_search(query_words, database_words, k, memory_budget=DEFAULT_MEMORY_BUDGET, n_jobs=None):
    """Exact k nearest neighbours: ``(distances int32, indices int64)``, each (n_queries, k).

    Sorting is on the key ``distance * n_database + index``, so ties go to the lower index.
    """
    database_words = as_words(database_words)
    n_q, n_d = len(query_words), len(database_words)
    best = np.full((n_q, k), np.iinfo(np.int64).max, dtype=np.int64)
    for qs, ds in iter_blocks(n_q, n_d, query_words.shape[1], memory_budget):
        dist = block_distances(query_words[qs], database_words[ds]).astype(np.int64)
        keys = dist * n_d + np.arange(ds.start, ds.stop, dtype=np.int64)
        keys = np.concatenate([best[qs], keys], axis=1)
        if keys.shape[1] > k:
            keys = np.partition(keys, k - 1, axis=1)[:, :k]
        best[qs] = keys
    best.sort(axis=1)
    return (best // n_d).astype(np.int32), best % n_d


def radius_search(
    query_words, database_words, radius, memory_budget=DEFAULT_MEMORY_BUDGET, n_jobs=None
):
    """All database items within ``radius`` of each query, nearest first, ties by index.

    Returns two lists of length n_queries: int32 distances and int64 indices.
    """
    database_words = as_words(database_words)
    n_q, n_d = len(query_words), len(database_words)
    found_dist = [[] for _ in range(n_q)]
    found_ind = [[] for _ in range(n_q)]
    for qs, ds in iter_blocks(n_q, n_d, query_words.shape[1], memory_budget):
        dist = block_distances(query_words[qs], database_words[ds])
        rows, cols = np.nonzero(dist <= radius)
        if not len(rows):
            continue
        bounds = np.searchsorted(rows, np.arange(qs.stop - qs.start + 1))
        for r in np.flatnonzero(np.diff(bounds)):
            sel = slice(bounds[r], bounds[r + 1])
            found_dist[qs.start + r].append(dist[r, cols[sel]])
            found_ind[qs.start + r].append(cols[sel].astype(np.int64) + ds.start)
    distances, indices = [], []
    for dist_parts, ind_parts in zip(found_dist, found_ind, strict=True):
        dist = np.concatenate(dist_parts) if dist_parts else np.empty(0, np.int32)
        ind = np.concatenate(ind_parts) if ind_parts else np.empty(0, np.int64)
        order = np.argsort(dist, kind="stable")
        distances.append(dist[order])
        indices.append(ind[order])
    return distances, indices
