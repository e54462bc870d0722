"""Exhaustive Hamming search in numpy: XOR + ``np.bitwise_count`` in memory-bounded blocks.

A :class:`~skhash.index._backend.SearchBackend`. It compiles nothing, so ``"auto"`` answers
small searches with it (a first query pays no compilation). Working memory stays under
``memory_budget`` bytes whatever the number of queries and database items: the database is
read one slice at a time (a memory-mapped database is never copied whole). ``n_jobs`` is
accepted for the shared signature and ignored (one thread).
"""

import numpy as np

from ._backend import DEFAULT_MEMORY_BUDGET, merge_top_k, sort_hits
from ._packing import BLOCK_SIZE, as_blocked


def iter_blocks(n_queries, n_database, n_words, memory_budget=DEFAULT_MEMORY_BUDGET):
    """Yield ``(query_slice, database_slice)`` pairs covering the query x database grid.

    A block of ``q x d`` pairs costs ``q * d * (8 * n_words + 16)`` bytes (the XOR words, the
    distances and the sort keys), which is kept under ``memory_budget``.
    """
    per_pair = 8 * n_words + 16
    pairs = max(1, memory_budget // per_pair)
    # database slices of whole blocks of the layout (the last one may be partial)
    d_step = int(min(max(n_database, 1), max(BLOCK_SIZE, pairs // BLOCK_SIZE * BLOCK_SIZE)))
    q_step = int(max(1, min(n_queries, pairs // d_step)))
    for q0 in range(0, n_queries, q_step):
        for d0 in range(0, n_database, d_step):
            yield slice(q0, min(q0 + q_step, n_queries)), slice(d0, min(d0 + d_step, n_database))


def block_distances(query_words, database_words):
    """Hamming distances between every query and database code of a block, as int32."""
    xor = np.bitwise_xor(query_words[:, None, :], database_words[None, :, :])
    if xor.shape[2] == 1:
        return np.bitwise_count(xor[:, :, 0]).astype(np.int32)
    return np.bitwise_count(xor).sum(axis=2, dtype=np.int32)


# Queries answered one at a time on the blocked layout (no copy of the database to rows):
# up to this many per search; more share each database slice in the general path.
_FEW_QUERIES = 8
_FEW_BLOCK_BYTES = 2 * 2**20  # database bytes XORed at a time (a temporary of that size)


def _one_query_distances(query, codes, memory_budget):
    """Distances from one query (``(n_words,)`` uint64) to every code of ``codes``.

    Read straight from the word-planar blocks, a slice of them at a time: uint8 distances
    for codes of one word, uint16 for longer ones (2 bytes a code, whatever the length).
    """
    blocks = codes.blocks
    n_words = blocks.shape[1]
    dtype = np.uint8 if n_words == 1 else np.uint16
    out = np.empty((len(blocks), BLOCK_SIZE), dtype=dtype)
    step = max(1, min(_FEW_BLOCK_BYTES, memory_budget // 4) // (8 * BLOCK_SIZE * n_words))
    xor = np.empty((min(step, len(blocks)), n_words, BLOCK_SIZE), dtype=np.uint64)
    count = np.empty(xor.shape, dtype=np.uint8)
    key = query[None, :, None]
    for b0 in range(0, len(blocks), step):
        part = blocks[b0 : b0 + step]
        n = len(part)
        np.bitwise_xor(part, key, out=xor[:n])
        np.bitwise_count(xor[:n], out=count[:n])
        target = out[b0 : b0 + n]
        target[:] = count[:n, 0]
        for w in range(1, n_words):  # word by word: a reduction over axis 1 is 10x slower
            np.add(target, count[:n, w], out=target)
    return out.reshape(-1)[: len(codes)]


def _knn_one(query, codes, k, memory_budget):
    """The ``k`` nearest codes of one query: the smallest distance bound holding ``k`` codes,
    guessed from a sample of the distances and settled by counting (a pass of compares), then
    a sort of the few codes within it (no partition of the whole distance array)."""
    dist = _one_query_distances(query, codes, memory_budget)
    sample = dist[:: max(1, len(dist) // 4096)]
    # the sample's quantile for about 2 k codes: usually the bound or one above
    at = min(len(sample) - 1, (2 * k * len(sample)) // len(dist))
    bound = int(np.partition(sample, at)[at])
    while np.count_nonzero(dist <= bound) < k:
        bound += 1
    while bound > 0 and np.count_nonzero(dist <= bound - 1) >= k:
        bound -= 1
    hits = np.flatnonzero(dist <= bound)
    d, ind = sort_hits(dist[hits].astype(np.int32), hits)
    return d[:k], ind[:k]


def _slices(query_words, database, memory_budget):
    """``(query slice, database slice, distances)`` over the query x database grid."""
    codes = as_blocked(database)
    n_q, n_d = len(query_words), len(codes)
    cached = None
    for qs, ds in iter_blocks(n_q, n_d, query_words.shape[1], memory_budget):
        if cached is None or cached[0] != ds:  # one copy of a database slice at a time
            cached = ds, codes.words_between(ds.start, ds.stop)
        yield qs, ds, block_distances(query_words[qs], cached[1])


def pairwise_distances(
    query_words, database_words, memory_budget=DEFAULT_MEMORY_BUDGET, n_jobs=None
):
    """Full ``(n_queries, n_database)`` Hamming distance matrix (int32)."""
    out = np.empty((len(query_words), len(database_words)), dtype=np.int32)
    for qs, ds, dist in _slices(query_words, database_words, memory_budget):
        out[qs, ds] = dist
    return out


def knn_search(query_words, database_words, k, memory_budget=DEFAULT_MEMORY_BUDGET, n_jobs=None):
    """Exact k nearest neighbours: ``(distances int32, indices int64)``, each (n_queries, k)."""
    n_q, n_d = len(query_words), len(database_words)
    out_d = np.empty((n_q, k), dtype=np.int32)
    out_i = np.empty((n_q, k), dtype=np.int64)
    if 0 < n_q <= _FEW_QUERIES and k:
        codes = as_blocked(database_words)
        for q in range(n_q):
            out_d[q], out_i[q] = _knn_one(query_words[q], codes, k, memory_budget)
        return out_d, out_i
    best_d = best_i = None  # the current query rows' k best so far
    for qs, ds, dist in _slices(query_words, database_words, memory_budget):
        ind = np.broadcast_to(np.arange(ds.start, ds.stop), dist.shape)
        if ds.start:  # the query rows' candidates so far compete with this block
            dist = np.concatenate([best_d, dist], axis=1)
            ind = np.concatenate([best_i, ind], axis=1)
        best_d, best_i = merge_top_k(dist, ind, min(k, dist.shape[1]))
        if ds.stop == n_d:
            out_d[qs], out_i[qs] = best_d, best_i
    return out_d, out_i


def radius_search(
    query_words, database_words, radius, memory_budget=DEFAULT_MEMORY_BUDGET, n_jobs=None
):
    """All database items within ``radius`` of each query, nearest first, ties by index.

    Returns two lists of length n_queries: int32 distances and int64 indices.
    """
    n_q = len(query_words)
    if n_q <= _FEW_QUERIES:
        codes = as_blocked(database_words)
        distances, indices = [], []
        for q in range(n_q):
            dist = _one_query_distances(query_words[q], codes, memory_budget)
            hits = np.flatnonzero(dist <= radius)
            d, ind = sort_hits(dist[hits].astype(np.int32), hits)
            distances.append(d)
            indices.append(ind)
        return distances, indices
    found_dist = [[] for _ in range(n_q)]
    found_ind = [[] for _ in range(n_q)]
    for qs, ds, dist in _slices(query_words, database_words, memory_budget):
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
        dist, ind = sort_hits(dist, ind)
        distances.append(dist)
        indices.append(ind)
    return distances, indices
