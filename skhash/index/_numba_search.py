"""Exhaustive Hamming search compiled with numba: fused XOR + popcount, counting top-k.

Same functions and results as :mod:`skhash.index._numpy_search` (exact, ties by database
order, nearest first). The kernels are compiled on first use (``cache=True`` keeps them on
disk) and run on ``n_jobs`` threads; the numba thread count is set only for the duration
of a call and restored afterwards.

Design
------
* Distances come from the LLVM ``ctpop`` intrinsic on ``XOR`` of 64-bit words; the inner
  loop over a database block is branch-free so LLVM vectorises it (``vpopcntq`` where the
  CPU has AVX-512 VPOPCNTDQ, ``popcnt`` otherwise).
* k nearest neighbours are found without sorting: each query keeps a per-distance histogram
  of the candidates it holds and a bound ``t``, the smallest distance whose cumulative count
  reaches ``k``. A database item is a candidate only when its distance is below ``t`` (an
  item at distance ``t`` comes later in database order than the ``k`` already held, so it
  loses the tie). The candidates sit in a small buffer in database order; a counting sort on
  the distance gives the final order, ties by index.
* The database is walked in blocks that stay in L1/L2 while a group of queries uses them.
"""

import numba
import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

DEFAULT_MEMORY_BUDGET = 64 * 2**20
_DB_BLOCK = 1024  # database codes per block: 8 KiB per 64-bit word, stays in L1/L2
_SUB = 64  # items checked together against the bound before any scalar work


@intrinsic
def _popcount(typingctx, value):
    """LLVM ``ctpop`` on an unsigned 64-bit integer."""
    if not isinstance(value, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return value(value), codegen


_jit = njit(cache=True, nogil=True)
_pjit = njit(parallel=True, cache=True, nogil=True)


@_jit
def _block_distances(query, database, start, stop, out):
    """Distances from one query to ``database[start:stop]`` into ``out[: stop - start]``."""
    n_words = database.shape[1]
    if n_words == 1:
        q0 = query[0]
        for j in range(start, stop):
            out[j - start] = _popcount(q0 ^ database[j, 0])
    elif n_words == 2:
        q0, q1 = query[0], query[1]
        for j in range(start, stop):
            out[j - start] = _popcount(q0 ^ database[j, 0]) + _popcount(q1 ^ database[j, 1])
    elif n_words == 4:
        q0, q1, q2, q3 = query[0], query[1], query[2], query[3]
        for j in range(start, stop):
            out[j - start] = (
                _popcount(q0 ^ database[j, 0])
                + _popcount(q1 ^ database[j, 1])
                + _popcount(q2 ^ database[j, 2])
                + _popcount(q3 ^ database[j, 3])
            )
    else:
        for j in range(start, stop):
            acc = np.uint64(0)
            for w in range(n_words):
                acc += _popcount(query[w] ^ database[j, w])
            out[j - start] = acc


@_jit
def _compact(buf_d, buf_i, size, counts, bound, k):
    """Keep the ``k`` best candidates of a buffer held in database order."""
    keep_at_bound = k
    for d in range(bound):
        keep_at_bound -= counts[d]
    out = 0
    for j in range(size):
        d = buf_d[j]
        if d < bound or (d == bound and keep_at_bound > 0):
            if d == bound:
                keep_at_bound -= 1
            buf_d[out] = d
            buf_i[out] = buf_i[j]
            out += 1
    for d in range(bound + 1, counts.shape[0]):
        counts[d] = 0
    if bound < counts.shape[0]:
        counts[bound] = k
        for d in range(bound):
            counts[bound] -= counts[d]
    return out


_KNN_GROUP = 4  # queries scanned together: each database word is loaded once for four


@njit(cache=True, nogil=True, inline="always")
def _group_distances(queries, database, start, stop, out, bounds, hits):
    """Distances of four queries to ``database[start:stop]`` (into ``out[r, :]``).

    Each database word is loaded once and compared with the four queries (register
    blocking); ``hits[r]`` counts the distances below ``bounds[r]``, so the caller skips
    sub-blocks with nothing to keep without looking at them item by item.
    """
    n_words = database.shape[1]
    # int32 bounds, like the distances, so the comparisons vectorise without widening
    e0, e1 = np.int32(bounds[0]), np.int32(bounds[1])
    e2, e3 = np.int32(bounds[2]), np.int32(bounds[3])
    h0 = h1 = h2 = h3 = 0
    if n_words == 1:
        a0, a1, a2, a3 = queries[0, 0], queries[1, 0], queries[2, 0], queries[3, 0]
        for j in range(start, stop):
            x = database[j, 0]
            d0 = np.int32(_popcount(a0 ^ x))
            d1 = np.int32(_popcount(a1 ^ x))
            d2 = np.int32(_popcount(a2 ^ x))
            d3 = np.int32(_popcount(a3 ^ x))
            out[0, j - start], out[1, j - start] = d0, d1
            out[2, j - start], out[3, j - start] = d2, d3
            h0 += d0 < e0
            h1 += d1 < e1
            h2 += d2 < e2
            h3 += d3 < e3
    elif n_words == 2:
        a0, a1, a2, a3 = queries[0, 0], queries[1, 0], queries[2, 0], queries[3, 0]
        c0, c1, c2, c3 = queries[0, 1], queries[1, 1], queries[2, 1], queries[3, 1]
        for j in range(start, stop):
            x, y = database[j, 0], database[j, 1]
            d0 = np.int32(_popcount(a0 ^ x) + _popcount(c0 ^ y))
            d1 = np.int32(_popcount(a1 ^ x) + _popcount(c1 ^ y))
            d2 = np.int32(_popcount(a2 ^ x) + _popcount(c2 ^ y))
            d3 = np.int32(_popcount(a3 ^ x) + _popcount(c3 ^ y))
            out[0, j - start], out[1, j - start] = d0, d1
            out[2, j - start], out[3, j - start] = d2, d3
            h0 += d0 < e0
            h1 += d1 < e1
            h2 += d2 < e2
            h3 += d3 < e3
    else:
        for j in range(start, stop):
            s0 = s1 = s2 = s3 = np.uint64(0)
            for w in range(n_words):
                x = database[j, w]
                s0 += _popcount(queries[0, w] ^ x)
                s1 += _popcount(queries[1, w] ^ x)
                s2 += _popcount(queries[2, w] ^ x)
                s3 += _popcount(queries[3, w] ^ x)
            d0, d1, d2, d3 = np.int32(s0), np.int32(s1), np.int32(s2), np.int32(s3)
            out[0, j - start], out[1, j - start] = d0, d1
            out[2, j - start], out[3, j - start] = d2, d3
            h0 += d0 < e0
            h1 += d1 < e1
            h2 += d2 < e2
            h3 += d3 < e3
    hits[0], hits[1], hits[2], hits[3] = h0, h1, h2, h3


@_pjit
def _knn_kernel(queries, database, k, capacity, out_d, out_i):
    """Top-k of each query; ``len(queries)`` is a multiple of ``_KNN_GROUP`` (padded)."""
    n_q, n_d = queries.shape[0], database.shape[0]
    n_dist = queries.shape[1] * 64 + 2
    for g in prange(n_q // _KNN_GROUP):
        q0 = g * _KNN_GROUP
        group = queries[q0 : q0 + _KNN_GROUP]
        counts = np.zeros((_KNN_GROUP, n_dist), dtype=np.int64)
        bounds = np.full(_KNN_GROUP, n_dist - 1, dtype=np.int64)
        below = np.zeros(_KNN_GROUP, dtype=np.int64)
        sizes = np.zeros(_KNN_GROUP, dtype=np.int64)
        hits = np.zeros(_KNN_GROUP, dtype=np.int64)
        buf_d = np.empty((_KNN_GROUP, capacity), dtype=np.int64)
        buf_i = np.empty((_KNN_GROUP, capacity), dtype=np.int64)
        dist = np.empty((_KNN_GROUP, _SUB), dtype=np.int32)
        for s0 in range(0, n_d, _SUB):
            s1 = min(s0 + _SUB, n_d)
            _group_distances(group, database, s0, s1, dist, bounds, hits)
            for r in range(_KNN_GROUP):
                if hits[r] == 0:
                    continue
                for j in range(s1 - s0):
                    d = np.int64(dist[r, j])
                    if d >= bounds[r]:
                        continue
                    if sizes[r] == capacity:
                        sizes[r] = _compact(buf_d[r], buf_i[r], sizes[r], counts[r], bounds[r], k)
                    buf_d[r, sizes[r]] = d
                    buf_i[r, sizes[r]] = s0 + j
                    sizes[r] += 1
                    counts[r, d] += 1
                    below[r] += 1
                    while below[r] >= k:
                        bounds[r] -= 1
                        below[r] -= counts[r, bounds[r]]
        for r in range(_KNN_GROUP):
            size = _compact(buf_d[r], buf_i[r], sizes[r], counts[r], bounds[r], k)
            # counting sort on the distance, stable so ties stay in database order
            start = np.zeros(n_dist + 1, dtype=np.int64)
            for j in range(size):
                start[buf_d[r, j] + 1] += 1
            for d in range(n_dist):
                start[d + 1] += start[d]
            for j in range(size):
                pos = start[buf_d[r, j]]
                start[buf_d[r, j]] += 1
                out_d[q0 + r, pos] = buf_d[r, j]
                out_i[q0 + r, pos] = buf_i[r, j]


@_pjit
def _radius_kernel(queries, n_real, database, radius, capacity, counts, buf_d, buf_i):
    """Hits within ``radius`` of the first ``n_real`` queries (the rest pad whole groups).

    Counts every hit and stores the first ``capacity`` of each query in database order.
    """
    n_d = database.shape[0]
    for g in prange(queries.shape[0] // _KNN_GROUP):
        q0 = g * _KNN_GROUP
        n_g = min(_KNN_GROUP, n_real - q0)
        bounds = np.full(_KNN_GROUP, radius + 1, dtype=np.int64)
        hits = np.zeros(_KNN_GROUP, dtype=np.int64)
        dist = np.empty((_KNN_GROUP, _SUB), dtype=np.int32)
        for r in range(n_g):
            counts[q0 + r] = 0
        for s0 in range(0, n_d, _SUB):
            s1 = min(s0 + _SUB, n_d)
            _group_distances(queries[q0 : q0 + _KNN_GROUP], database, s0, s1, dist, bounds, hits)
            for r in range(n_g):
                if hits[r] == 0:
                    continue
                q = q0 + r
                for j in range(s1 - s0):
                    if dist[r, j] <= radius:
                        if counts[q] < capacity:
                            buf_d[q, counts[q]] = dist[r, j]
                            buf_i[q, counts[q]] = s0 + j
                        counts[q] += 1


@_pjit
def _distance_kernel(queries, database, out):
    n_q, n_d = queries.shape[0], database.shape[0]
    n_blocks = (n_d + _DB_BLOCK - 1) // _DB_BLOCK
    for t in prange(n_q * n_blocks):
        q = t // n_blocks
        b0 = (t % n_blocks) * _DB_BLOCK
        b1 = min(b0 + _DB_BLOCK, n_d)
        _block_distances(queries[q], database, b0, b1, out[q, b0:b1])


def _n_threads(n_jobs):
    n_max = numba.config.NUMBA_NUM_THREADS
    if n_jobs is None:
        return 1
    if n_jobs < 0:
        return max(1, n_max + 1 + n_jobs)
    return max(1, min(int(n_jobs), n_max))


class _Threads:
    """Run a block with ``numba.get_num_threads() == n_jobs``, restoring it afterwards."""

    def __init__(self, n_jobs):
        self.n_threads = _n_threads(n_jobs)

    def __enter__(self):
        self.previous = numba.get_num_threads()
        numba.set_num_threads(self.n_threads)
        return self

    def __exit__(self, *exc):
        numba.set_num_threads(self.previous)
        return False


def _pad_to_groups(queries):
    """Repeat the last query so the kernels see whole groups of ``_KNN_GROUP`` queries."""
    n_pad = -len(queries) % _KNN_GROUP
    if len(queries) and n_pad:
        queries = np.concatenate([queries, np.repeat(queries[-1:], n_pad, axis=0)])
    return queries


def _prepare(query_words, database_words):
    queries = np.ascontiguousarray(query_words, dtype=np.uint64)
    database = np.ascontiguousarray(database_words, dtype=np.uint64)
    return queries, database


def pairwise_distances(
    query_words, database_words, memory_budget=DEFAULT_MEMORY_BUDGET, n_jobs=None
):
    """Full ``(n_queries, n_database)`` Hamming distance matrix (int32)."""
    queries, database = _prepare(query_words, database_words)
    out = np.empty((len(queries), len(database)), dtype=np.int32)
    if out.size:
        with _Threads(n_jobs):
            _distance_kernel(queries, database, out)
    return out


def knn_search(query_words, database_words, k, memory_budget=DEFAULT_MEMORY_BUDGET, n_jobs=None):
    """Exact k nearest neighbours: ``(distances int32, indices int64)``, each (n_queries, k).

    Parameters
    ----------
    query_words, database_words : ndarray of dtype uint64
        Packed codes with the same number of words; ``k <= len(database_words)``.
    k : int
        Number of neighbours.
    memory_budget : int
        Accepted for a common signature; this kernel needs no large block. Its candidate
        buffers take ``64 * (2 k + 256)`` bytes per thread.
    n_jobs : int, default=None
        Threads; ``None`` means 1 and ``-1`` all.
    """
    queries, database = _prepare(query_words, database_words)
    n_q, n_d = len(queries), len(database)
    queries = _pad_to_groups(queries)  # the padding rows are dropped below
    out_d = np.empty((len(queries), k), dtype=np.int64)
    out_i = np.empty((len(queries), k), dtype=np.int64)
    if n_q and k:
        capacity = int(min(n_d, 2 * k + 256))
        with _Threads(n_jobs):
            _knn_kernel(queries, database, k, capacity, out_d, out_i)
    out_d, out_i = out_d[:n_q], out_i[:n_q]
    return out_d.astype(np.int32), out_i


def radius_search(
    query_words, database_words, radius, memory_budget=DEFAULT_MEMORY_BUDGET, n_jobs=None
):
    """All database items within ``radius`` of each query, nearest first, ties by index.

    Returns two lists of length n_queries: int32 distances and int64 indices.
    """
    queries, database = _prepare(query_words, database_words)

    def kernel(rows, capacity, counts, buf_d, buf_i):
        _radius_kernel(
            _pad_to_groups(queries[rows]),
            len(rows),
            database,
            int(radius),
            capacity,
            counts,
            buf_d,
            buf_i,
        )

    with _Threads(n_jobs):
        return collect_hits(kernel, len(queries), len(database), memory_budget)


def collect_hits(kernel, n_queries, n_database, memory_budget, capacity=64):
    """Run a hit-collecting ``kernel`` and split its output per query, sorted.

    ``kernel(rows, capacity, counts, buf_d, buf_i)`` counts the hits of each query of
    ``rows`` into ``counts`` and stores the first ``capacity`` of them in ``buf_d`` and
    ``buf_i``; queries with more hits are run again with a buffer large enough for them.
    Each query's hits are then sorted by distance, ties by index.
    """
    rows = np.arange(n_queries)
    capacity = int(max(1, min(n_database, capacity, memory_budget // (16 * max(n_queries, 1)))))
    counts = np.zeros(n_queries, dtype=np.int64)
    buf_d = np.empty((n_queries, capacity), dtype=np.int64)
    buf_i = np.empty((n_queries, capacity), dtype=np.int64)
    if n_queries and n_database:
        kernel(rows, capacity, counts, buf_d, buf_i)
    flat_d, flat_i = _flatten(counts, buf_d, buf_i, n_database)
    over = np.flatnonzero(counts > capacity)
    if len(over):
        lengths = np.minimum(counts, capacity)
        parts_d = np.split(flat_d, np.cumsum(lengths)[:-1])
        parts_i = np.split(flat_i, np.cumsum(lengths)[:-1])
        for chunk in _chunks(over, counts, memory_budget):
            cap = int(counts[chunk].max())
            c_counts = np.zeros(len(chunk), dtype=np.int64)
            c_d = np.empty((len(chunk), cap), dtype=np.int64)
            c_i = np.empty((len(chunk), cap), dtype=np.int64)
            kernel(chunk, cap, c_counts, c_d, c_i)
            _sort_rows(c_counts, c_d, c_i, n_database)
            for r, q in enumerate(chunk):
                parts_d[q] = c_d[r, : c_counts[r]].astype(np.int32)
                parts_i[q] = c_i[r, : c_counts[r]]
        return parts_d, parts_i
    splits = np.cumsum(counts)[:-1]
    return np.split(flat_d, splits), np.split(flat_i, splits)


def _flatten(counts, buf_d, buf_i, n_database):
    _sort_rows(counts, buf_d, buf_i, n_database)
    mask = np.arange(buf_d.shape[1]) < counts[:, None]
    return buf_d[mask].astype(np.int32), buf_i[mask]


@_pjit
def _sort_rows(counts, buf_d, buf_i, n_database):
    """Sort the first ``counts[q]`` entries of each row by (distance, index) in place."""
    for q in prange(counts.shape[0]):
        size = min(counts[q], buf_d.shape[1])
        keys = buf_d[q, :size] * n_database + buf_i[q, :size]
        keys.sort()
        for j in range(size):
            buf_d[q, j] = keys[j] // n_database
            buf_i[q, j] = keys[j] % n_database


def _chunks(rows, counts, memory_budget):
    """Split ``rows`` into groups whose hit buffers fit in ``memory_budget``."""
    start = 0
    while start < len(rows):
        stop = start + 1
        while stop < len(rows) and 16 * (stop + 1 - start) * counts[
            rows[start : stop + 1]
        ].max() <= (memory_budget):
            stop += 1
        yield rows[start:stop]
        start = stop
