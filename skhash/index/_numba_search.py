"""Exhaustive Hamming search compiled with numba: fused XOR + popcount, counting top-k.

A :class:`~skhash.index._backend.SearchBackend`: same functions and results as
:mod:`skhash.index._numpy_search` (exact, ties by database order, nearest first). Each
kernel is compiled on its first call only (``cache=True`` keeps it on disk), so a process
compiles just the searches it runs; kernels run on ``n_jobs`` threads, the numba thread
count being set only for the duration of a call and restored afterwards.

Design
------
* The database is scanned in the :class:`~skhash.index._packing.BlockedCodes` layout:
  blocks of 64 codes, each block word-planar, so the loop over a block loads the same word
  of eight codes per AVX-512 register whatever the code length, and LLVM vectorises it
  (``vpopcntq`` where the CPU has AVX-512 VPOPCNTDQ, ``popcnt`` otherwise). With codes
  stored row by row, 128-bit codes interleave their two words and the loop stayed scalar:
  the blocked layout made the 128-bit scan about five times faster.
* Queries are scanned four at a time (register blocking): each database word is loaded once
  for four queries, and the pass over a block only *counts*, per query, the codes that beat
  the query's current bound. Distances are computed again, one query at a time, only in the
  rare blocks where that count is not zero.
* Each thread takes a share of the query groups and walks the database one tile (64 KiB of
  codes) at a time, scanning the tile for all its groups while it sits in the L2 cache, so
  the database is read from memory once per thread rather than once per group. That kept
  256-bit codes (1M codes: 32 MB, more than the cache) from waiting on memory: 2.6x faster.
* When the queries are too few to give every thread a share, the database is cut into parts
  too, one task per (queries, part) pair, and the parts' results are merged.
* k nearest neighbours are found without sorting: each query keeps a per-distance histogram
  of the candidates it holds and a bound ``t``, the smallest distance whose cumulative count
  reaches ``k``. A database item is a candidate only when its distance is below ``t`` (an
  item at distance ``t`` comes later in database order than the ``k`` already held, so it
  loses the tie). The candidates sit in a small buffer in database order; a counting sort on
  the distance gives the final order, ties by index.
"""

import numba
import numpy as np
from numba import njit, prange, types
from numba.extending import intrinsic

from ._backend import DEFAULT_MEMORY_BUDGET, merge_top_k, n_threads, split_by_counts
from ._packing import BLOCK_SIZE, as_blocked

_QUERY_GROUP = 4  # queries scanned together (kNN and radius): each word loaded once for four
_TASK_BLOCKS = 64  # database blocks per parallel task of the distance matrix
_TILE_BYTES = 64 * 2**10  # database bytes scanned by all of a thread's queries in turn (L2)
_MIN_PART = 65_536  # fewest codes in a database part searched by its own thread
_MIN_PARALLEL_SORT = 2**18  # fewest radius hits sorted by several threads


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
_inline = njit(cache=True, nogil=True, inline="always")


@_inline
def _code_distance(query, block, j):
    """Distance from ``query`` to code ``j`` of a word-planar ``block``."""
    d = 0
    for w in range(block.shape[0]):
        d += _popcount(query[w] ^ block[w, j])
    return np.int64(d)


@_inline
def _four_word_distance(query, x, y, z, u):
    """Distance from a 4-word ``query`` to the code with words ``x, y, z, u`` (int32)."""
    return np.int32(
        _popcount(query[0] ^ x)
        + _popcount(query[1] ^ y)
        + _popcount(query[2] ^ z)
        + _popcount(query[3] ^ u)
    )


@_inline
def _group_hits(queries, block, m, bounds, hits, scratch):
    """Count, for each of four queries, the first ``m`` codes of ``block`` below its bound.

    ``bounds[r]`` is query ``r``'s bound, ``hits[r]`` receives the count. Nothing else is
    stored, so the loop is loads, XOR, popcount and compares. One, two and four words are
    written out (codes of up to 64, 128 and 256 bits); other lengths add word by word into
    ``scratch`` (4 x 64 int32).
    """
    n_words = block.shape[0]
    # int32 bounds, like the distances, so the comparisons vectorise without widening
    e0, e1 = np.int32(bounds[0]), np.int32(bounds[1])
    e2, e3 = np.int32(bounds[2]), np.int32(bounds[3])
    h0 = h1 = h2 = h3 = 0
    if n_words == 1:
        a0, a1, a2, a3 = queries[0, 0], queries[1, 0], queries[2, 0], queries[3, 0]
        for j in range(m):
            x = block[0, j]
            h0 += np.int32(_popcount(a0 ^ x)) < e0
            h1 += np.int32(_popcount(a1 ^ x)) < e1
            h2 += np.int32(_popcount(a2 ^ x)) < e2
            h3 += np.int32(_popcount(a3 ^ x)) < e3
    elif n_words == 2:
        a0, a1, a2, a3 = queries[0, 0], queries[1, 0], queries[2, 0], queries[3, 0]
        c0, c1, c2, c3 = queries[0, 1], queries[1, 1], queries[2, 1], queries[3, 1]
        for j in range(m):
            x, y = block[0, j], block[1, j]
            h0 += np.int32(_popcount(a0 ^ x) + _popcount(c0 ^ y)) < e0
            h1 += np.int32(_popcount(a1 ^ x) + _popcount(c1 ^ y)) < e1
            h2 += np.int32(_popcount(a2 ^ x) + _popcount(c2 ^ y)) < e2
            h3 += np.int32(_popcount(a3 ^ x) + _popcount(c3 ^ y)) < e3
    elif n_words == 4:
        for j in range(m):
            x, y, z, u = block[0, j], block[1, j], block[2, j], block[3, j]
            h0 += _four_word_distance(queries[0], x, y, z, u) < e0
            h1 += _four_word_distance(queries[1], x, y, z, u) < e1
            h2 += _four_word_distance(queries[2], x, y, z, u) < e2
            h3 += _four_word_distance(queries[3], x, y, z, u) < e3
    else:
        scratch[:, :m] = 0
        for w in range(n_words):
            a0, a1, a2, a3 = queries[0, w], queries[1, w], queries[2, w], queries[3, w]
            for j in range(m):
                x = block[w, j]
                scratch[0, j] += np.int32(_popcount(a0 ^ x))
                scratch[1, j] += np.int32(_popcount(a1 ^ x))
                scratch[2, j] += np.int32(_popcount(a2 ^ x))
                scratch[3, j] += np.int32(_popcount(a3 ^ x))
        for j in range(m):
            h0 += scratch[0, j] < e0
            h1 += scratch[1, j] < e1
            h2 += scratch[2, j] < e2
            h3 += scratch[3, j] < e3
    hits[0], hits[1], hits[2], hits[3] = h0, h1, h2, h3


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


@_jit
def _insert(d, index, r, k, capacity, counts, bounds, below, sizes, buf_d, buf_i):
    """Add candidate ``index`` at distance ``d`` (below the bound) to query ``r``'s state."""
    if sizes[r] == capacity:
        sizes[r] = _compact(buf_d[r], buf_i[r], sizes[r], counts[r], bounds[r], k)
    buf_d[r, sizes[r]] = d
    buf_i[r, sizes[r]] = index
    sizes[r] += 1
    counts[r, d] += 1
    below[r] += 1
    while below[r] >= k:
        bounds[r] -= 1
        below[r] -= counts[r, bounds[r]]


@_inline
def _task(task, n_groups, n_blocks, n_chunks, n_parts):
    """Part ``p``, query groups ``[g0, g1)`` and blocks ``[b_lo, b_hi)`` of a parallel task.

    Tasks run over (chunk of query groups, database part) pairs, chunk-major.
    """
    per_chunk = (n_groups + n_chunks - 1) // n_chunks
    per_part = (n_blocks + n_parts - 1) // n_parts
    c, p = task // n_parts, task % n_parts
    g0 = c * per_chunk
    return p, g0, min(n_groups, g0 + per_chunk), p * per_part, min(n_blocks, (p + 1) * per_part)


@_pjit
def _knn_kernel(queries, n_real, blocks, n_d, k, capacity, tile, n_chunks, n_parts, out_d, out_i):
    """Top-k of each query in each database part: ``out_d[p, q]`` for part ``p``.

    ``len(queries)`` is a multiple of ``_QUERY_GROUP``; the rows from ``n_real`` on pad the
    last group (scanned with it, their candidates not kept). The groups of queries are
    split into ``n_chunks`` chunks and the database blocks into ``n_parts`` contiguous parts,
    one parallel task per (chunk, part) pair; a task walks its part one tile of ``tile``
    blocks at a time and scans the tile for all its groups while it sits in cache, each group
    keeping its own candidates across tiles. A part with fewer than ``k`` codes pads its
    results with the distance ``64 * n_words + 2`` (beyond any real one) and index 0.
    """
    n_groups = queries.shape[0] // _QUERY_GROUP
    n_dist = queries.shape[1] * 64 + 2
    for task in prange(n_chunks * n_parts):
        p, g0, g1, b_lo, b_hi = _task(task, n_groups, blocks.shape[0], n_chunks, n_parts)
        n_mine = max(0, g1 - g0)
        n_rows = n_mine * _QUERY_GROUP  # query r of group i is row i * _QUERY_GROUP + r
        counts = np.zeros((n_rows, n_dist), dtype=np.int64)
        bounds = np.full(n_rows, n_dist - 1, dtype=np.int64)
        below = np.zeros(n_rows, dtype=np.int64)
        sizes = np.zeros(n_rows, dtype=np.int64)
        buf_d = np.empty((n_rows, capacity), dtype=np.int64)
        buf_i = np.empty((n_rows, capacity), dtype=np.int64)
        hits = np.zeros(_QUERY_GROUP, dtype=np.int64)
        scratch = np.empty((_QUERY_GROUP, BLOCK_SIZE), dtype=np.int32)
        for t0 in range(b_lo, b_hi, tile):
            for i in range(n_mine):
                r0 = i * _QUERY_GROUP
                q0 = (g0 + i) * _QUERY_GROUP
                group = queries[q0 : q0 + _QUERY_GROUP]
                for b in range(t0, min(t0 + tile, b_hi)):
                    block = blocks[b]
                    base = b * BLOCK_SIZE
                    m = min(BLOCK_SIZE, n_d - base)
                    _group_hits(group, block, m, bounds[r0:], hits, scratch)
                    for r in range(min(_QUERY_GROUP, n_real - q0)):
                        if hits[r] == 0:
                            continue
                        for j in range(m):
                            d = _code_distance(group[r], block, j)
                            if d < bounds[r0 + r]:
                                _insert(
                                    d, base + j, r0 + r, k, capacity,
                                    counts, bounds, below, sizes, buf_d, buf_i,
                                )  # fmt: skip
        for row in range(n_rows):
            size = _compact(buf_d[row], buf_i[row], sizes[row], counts[row], bounds[row], k)
            # counting sort on the distance, stable so ties stay in database order
            start = np.zeros(n_dist + 1, dtype=np.int64)
            for j in range(size):
                start[buf_d[row, j] + 1] += 1
            for d in range(n_dist):
                start[d + 1] += start[d]
            q = g0 * _QUERY_GROUP + row
            for j in range(size):
                pos = start[buf_d[row, j]]
                start[buf_d[row, j]] += 1
                out_d[p, q, pos] = buf_d[row, j]
                out_i[p, q, pos] = buf_i[row, j]
            out_d[p, q, size:] = n_dist
            out_i[p, q, size:] = 0


@_inline
def _one_hits(query, block, m, bound, scratch):
    """How many of the first ``m`` codes of ``block`` are below ``bound`` from ``query``.

    A reduction with nothing stored for codes of 1, 2, 4 and 8 words (LLVM keeps the sums
    in vector registers); other lengths add word by word into ``scratch`` (64 int32)."""
    n_words = block.shape[0]
    e = np.int32(bound)
    h = 0
    if n_words == 1:
        a = query[0]
        for j in range(m):
            h += np.int32(_popcount(a ^ block[0, j])) < e
    elif n_words == 2:
        a, c = query[0], query[1]
        for j in range(m):
            h += np.int32(_popcount(a ^ block[0, j]) + _popcount(c ^ block[1, j])) < e
    elif n_words == 4:
        for j in range(m):
            h += _four_word_distance(query, block[0, j], block[1, j], block[2, j], block[3, j]) < e
    elif n_words == 8:
        q4 = query[4:]
        for j in range(m):
            d = _four_word_distance(query, block[0, j], block[1, j], block[2, j], block[3, j])
            d += _four_word_distance(q4, block[4, j], block[5, j], block[6, j], block[7, j])
            h += d < e
    else:
        scratch[:m] = 0
        for w in range(n_words):
            a = query[w]
            for j in range(m):
                scratch[j] += np.int32(_popcount(a ^ block[w, j]))
        for j in range(m):
            h += scratch[j] < e
    return h


@_pjit
def _knn_few_kernel(queries, blocks, n_d, k, capacity, n_parts, out_d, out_i):
    """:func:`_knn_kernel` for a few queries (fewer than a group): one parallel task per
    (query, database part), each query scanned alone (no padding rows), so one query uses
    every thread. ``out_d[p, q]`` as in :func:`_knn_kernel`."""
    n_q = queries.shape[0]
    n_dist = queries.shape[1] * 64 + 2
    n_blocks = blocks.shape[0]
    per_part = (n_blocks + n_parts - 1) // n_parts
    for task in prange(n_q * n_parts):
        q, p = task // n_parts, task % n_parts
        query = queries[q]
        counts = np.zeros((1, n_dist), dtype=np.int64)
        bounds = np.full(1, n_dist - 1, dtype=np.int64)
        below = np.zeros(1, dtype=np.int64)
        sizes = np.zeros(1, dtype=np.int64)
        buf_d = np.empty((1, capacity), dtype=np.int64)
        buf_i = np.empty((1, capacity), dtype=np.int64)
        scratch = np.empty(BLOCK_SIZE, dtype=np.int32)
        for b in range(p * per_part, min(n_blocks, (p + 1) * per_part)):
            block = blocks[b]
            base = b * BLOCK_SIZE
            m = min(BLOCK_SIZE, n_d - base)
            if _one_hits(query, block, m, bounds[0], scratch) == 0:
                continue
            for j in range(m):
                d = _code_distance(query, block, j)
                if d < bounds[0]:
                    _insert(
                        d, base + j, 0, k, capacity,
                        counts, bounds, below, sizes, buf_d, buf_i,
                    )  # fmt: skip
        size = _compact(buf_d[0], buf_i[0], sizes[0], counts[0], bounds[0], k)
        start = np.zeros(n_dist + 1, dtype=np.int64)
        for j in range(size):
            start[buf_d[0, j] + 1] += 1
        for d in range(n_dist):
            start[d + 1] += start[d]
        for j in range(size):
            pos = start[buf_d[0, j]]
            start[buf_d[0, j]] += 1
            out_d[p, q, pos] = buf_d[0, j]
            out_i[p, q, pos] = buf_i[0, j]
        out_d[p, q, size:] = n_dist
        out_i[p, q, size:] = 0


@_pjit
def _radius_kernel(
    queries, n_real, blocks, n_d, radius, tile, n_chunks, n_parts, capacity, counts, buf_d, buf_i
):
    """Hits within ``radius`` of the first ``n_real`` queries (the rest pad whole groups).

    ``counts[p, q]`` counts the hits of query ``q`` in database part ``p``, and the first
    ``capacity`` of them go to ``buf_d[p, q]`` and ``buf_i[p, q]``, in database order.
    Chunks, parts and tiles as in :func:`_knn_kernel`.
    """
    n_groups = queries.shape[0] // _QUERY_GROUP
    for task in prange(n_chunks * n_parts):
        p, g0, g1, b_lo, b_hi = _task(task, n_groups, blocks.shape[0], n_chunks, n_parts)
        bounds = np.full(_QUERY_GROUP, radius + 1, dtype=np.int64)
        hits = np.zeros(_QUERY_GROUP, dtype=np.int64)
        scratch = np.empty((_QUERY_GROUP, BLOCK_SIZE), dtype=np.int32)
        found, out_d, out_i = counts[p], buf_d[p], buf_i[p]
        for q in range(g0 * _QUERY_GROUP, min(g1 * _QUERY_GROUP, n_real)):
            found[q] = 0
        for t0 in range(b_lo, b_hi, tile):
            for g in range(g0, g1):
                q0 = g * _QUERY_GROUP
                n_g = min(_QUERY_GROUP, n_real - q0)
                group = queries[q0 : q0 + _QUERY_GROUP]
                for b in range(t0, min(t0 + tile, b_hi)):
                    block = blocks[b]
                    base = b * BLOCK_SIZE
                    m = min(BLOCK_SIZE, n_d - base)
                    _group_hits(group, block, m, bounds, hits, scratch)
                    for r in range(n_g):
                        if hits[r] == 0:
                            continue
                        q = q0 + r
                        for j in range(m):
                            d = _code_distance(group[r], block, j)
                            if d <= radius:
                                if found[q] < capacity:
                                    out_d[q, found[q]] = d
                                    out_i[q, found[q]] = base + j
                                found[q] += 1


@_pjit
def _distance_kernel(queries, blocks, n_d, out):
    """``out[q, i]``: distance from query ``q`` to database code ``i``."""
    n_q, n_blocks, n_words = queries.shape[0], blocks.shape[0], blocks.shape[1]
    n_tasks = (n_blocks + _TASK_BLOCKS - 1) // _TASK_BLOCKS
    for t in prange(n_q * n_tasks):
        q = t // n_tasks
        b0 = (t % n_tasks) * _TASK_BLOCKS
        for b in range(b0, min(b0 + _TASK_BLOCKS, n_blocks)):
            base = b * BLOCK_SIZE
            m = min(BLOCK_SIZE, n_d - base)
            row = out[q, base : base + m]
            row[:] = 0
            for w in range(n_words):
                a = queries[q, w]
                for j in range(m):
                    row[j] += np.int32(_popcount(a ^ blocks[b, w, j]))


def _n_threads(n_jobs):
    """Threads for ``n_jobs`` (as joblib counts them), at most numba's pool."""
    return min(n_threads(n_jobs), numba.config.NUMBA_NUM_THREADS)


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
    """Repeat the last query so the kernels see whole groups of ``_QUERY_GROUP`` queries."""
    n_pad = -len(queries) % _QUERY_GROUP
    if len(queries) and n_pad:
        queries = np.concatenate([queries, np.repeat(queries[-1:], n_pad, axis=0)])
    return queries


def _prepare(query_words, database):
    """Queries as contiguous uint64 words and the database as :class:`BlockedCodes`."""
    return np.ascontiguousarray(query_words, dtype=np.uint64), as_blocked(database)


def pairwise_distances(query_words, database, memory_budget=DEFAULT_MEMORY_BUDGET, n_jobs=None):
    """Full ``(n_queries, n_database)`` Hamming distance matrix (int32).

    ``database`` is an ``(n, n_words)`` uint64 array or :class:`BlockedCodes` (no copy).
    """
    queries, codes = _prepare(query_words, database)
    out = np.empty((len(queries), len(codes)), dtype=np.int32)
    if out.size:
        with _Threads(n_jobs):
            _distance_kernel(queries, codes.blocks, len(codes), out)
    return out


def _tile_blocks(n_words):
    """Blocks per database tile: ``_TILE_BYTES`` of codes."""
    return max(1, _TILE_BYTES // (BLOCK_SIZE * 8 * n_words))


def _n_chunks(n_queries, n_jobs):
    """Parallel chunks of query groups: one per thread, at most one per group."""
    return max(1, min(_n_threads(n_jobs), -(-n_queries // _QUERY_GROUP)))


def _n_parts(n_chunks, n_database, k, n_jobs, max_parts=None):
    """Database parts searched in parallel: the threads the query chunks leave idle.

    Only databases of ``_MIN_PART`` codes or more per part are split (and each part holds
    about ``k`` codes or more): a few queries then use every thread, at the price of merging
    ``n_parts`` lists of ``k``. ``max_parts`` caps them (each part holds its own candidates).
    """
    n_parts = min(_n_threads(n_jobs) // n_chunks, n_database // max(k, _MIN_PART))
    return max(1, n_parts if max_parts is None else min(n_parts, max_parts))


def _merge_parts(part_d, part_i, k):
    """The ``k`` best of each query over the parts' ``(n_parts, n_queries, k)`` lists."""
    if len(part_d) == 1:
        return part_d[0], part_i[0]
    n_queries = part_d.shape[1]
    return merge_top_k(
        part_d.transpose(1, 0, 2).reshape(n_queries, -1),
        part_i.transpose(1, 0, 2).reshape(n_queries, -1),
        k,
    )


def knn_search(query_words, database, k, memory_budget=DEFAULT_MEMORY_BUDGET, n_jobs=None):
    """Exact k nearest neighbours: ``(distances int32, indices int64)``, each (n_queries, k).

    Parameters
    ----------
    query_words : ndarray of shape (n_queries, n_words), dtype uint64
        Packed query codes.
    database : ndarray of shape (n_database, n_words), dtype uint64, or BlockedCodes
        Packed database codes; an array is laid out in blocks for the call, a
        :class:`~skhash.index._packing.BlockedCodes` is scanned as it is.
        ``k <= len(database)``.
    k : int
        Number of neighbours.
    memory_budget : int
        Bound on the candidate buffers, about ``16 (2 k + 256) + 8 n_bits`` bytes per query:
        the queries are searched in batches that fit it (each batch scans the database once).
    n_jobs : int, default=None
        Threads; ``None`` means 1 and ``-1`` all.
    """
    queries, codes = _prepare(query_words, database)
    n_q, n_d = len(queries), len(codes)
    out_d = np.empty((n_q, k), dtype=np.int32)
    out_i = np.empty((n_q, k), dtype=np.int64)
    if not (n_q and k):
        return out_d, out_i
    capacity = int(min(n_d, 2 * k + 256))
    per_query = 16 * capacity + 8 * (64 * queries.shape[1] + 2)
    batch = max(_QUERY_GROUP, memory_budget // per_query // _QUERY_GROUP * _QUERY_GROUP)
    tile = _tile_blocks(queries.shape[1])
    with _Threads(n_jobs):
        if n_q < _QUERY_GROUP:  # a few queries (interactive search): split the database
            n_parts = _n_parts(1, n_d, k, n_jobs)
            part_d = np.empty((n_parts, n_q, k), dtype=np.int64)
            part_i = np.empty((n_parts, n_q, k), dtype=np.int64)
            _knn_few_kernel(queries, codes.blocks, n_d, k, capacity, n_parts, part_d, part_i)
            best_d, best_i = _merge_parts(part_d, part_i, k)
            out_d[:], out_i[:] = best_d, best_i
            return out_d, out_i
        for q0 in range(0, n_q, batch):
            q1 = min(q0 + batch, n_q)
            rows = _pad_to_groups(queries[q0:q1])  # padding rows dropped below
            n_chunks = _n_chunks(len(rows), n_jobs)
            # each part holds candidates and results for all rows: keep within the budget
            max_parts = memory_budget // ((per_query + 32 * k) * len(rows))
            n_parts = _n_parts(n_chunks, n_d, k, n_jobs, max_parts)
            part_d = np.empty((n_parts, len(rows), k), dtype=np.int64)
            part_i = np.empty((n_parts, len(rows), k), dtype=np.int64)
            _knn_kernel(
                rows,
                q1 - q0,
                codes.blocks,
                n_d,
                k,
                capacity,
                tile,
                n_chunks,
                n_parts,
                part_d,
                part_i,
            )
            best_d, best_i = _merge_parts(part_d, part_i, k)
            out_d[q0:q1], out_i[q0:q1] = best_d[: q1 - q0], best_i[: q1 - q0]
    return out_d, out_i


def radius_search(query_words, database, radius, memory_budget=DEFAULT_MEMORY_BUDGET, n_jobs=None):
    """All database items within ``radius`` of each query, nearest first, ties by index.

    ``database`` as in :func:`knn_search`. Returns two lists of length n_queries: int32
    distances and int64 indices.
    """
    queries, codes = _prepare(query_words, database)
    tile = _tile_blocks(queries.shape[1])
    radius = min(int(radius), 64 * queries.shape[1])  # every code is within 64 * n_words

    def kernel(rows, capacity, counts, buf_d, buf_i):
        padded = _pad_to_groups(queries[rows])
        n_chunks = _n_chunks(len(rows), n_jobs)
        max_parts = memory_budget // (16 * capacity * len(rows) + 1)
        n_parts = _n_parts(n_chunks, len(codes), 1, n_jobs, max_parts)
        if n_parts == 1:
            part_counts, part_d, part_i = counts[None], buf_d[None], buf_i[None]
        else:
            part_counts = np.zeros((n_parts, len(rows)), dtype=np.int64)
            part_d = np.empty((n_parts, len(rows), capacity), dtype=np.int64)
            part_i = np.empty((n_parts, len(rows), capacity), dtype=np.int64)
        _radius_kernel(
            padded,
            len(rows),
            codes.blocks,
            len(codes),
            radius,
            tile,
            n_chunks,
            n_parts,
            capacity,
            part_counts,
            part_d,
            part_i,
        )
        if n_parts > 1:  # the parts' hits one after the other (sorted by the caller)
            counts[:] = part_counts.sum(axis=0)
            for q in range(len(rows)):
                at = 0
                for p in range(n_parts):
                    n = min(part_counts[p, q], capacity - at)
                    buf_d[q, at : at + n] = part_d[p, q, :n]
                    buf_i[q, at : at + n] = part_i[p, q, :n]
                    at += n

    with _Threads(n_jobs):
        return collect_hits(kernel, len(queries), len(codes), memory_budget)


def collect_hits(kernel, n_queries, n_database, memory_budget, capacity=64):
    """Run a hit-collecting ``kernel`` and split its output per query, sorted.

    ``kernel(rows, capacity, counts, buf_d, buf_i)`` counts the hits of each query of
    ``rows`` into ``counts`` and stores the first ``capacity`` of them in ``buf_d`` and
    ``buf_i``; queries with more hits are run again with a buffer large enough for them.
    Each query's hits are then sorted by distance, ties by index.
    """
    if n_queries == 0:
        return [], []
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
        parts_d, parts_i = split_by_counts(flat_d, lengths), split_by_counts(flat_i, lengths)
        for chunk in _chunks(over, counts, memory_budget):
            cap = int(counts[chunk].max())
            c_counts = np.zeros(len(chunk), dtype=np.int64)
            c_d = np.empty((len(chunk), cap), dtype=np.int64)
            c_i = np.empty((len(chunk), cap), dtype=np.int64)
            kernel(chunk, cap, c_counts, c_d, c_i)
            _sort_hits(c_counts, c_d, c_i, n_database)
            for r, q in enumerate(chunk):
                parts_d[q] = c_d[r, : c_counts[r]].astype(np.int32)
                parts_i[q] = c_i[r, : c_counts[r]]
        return parts_d, parts_i
    return split_by_counts(flat_d, counts), split_by_counts(flat_i, counts)


def _sort_hits(counts, buf_d, buf_i, n_database):
    """:func:`_sort_rows` on the caller's threads, or on one when there is little to sort
    (waking threads costs more then, and much more on a busy machine)."""
    if int(np.minimum(counts, buf_d.shape[1]).sum()) < _MIN_PARALLEL_SORT:
        with _Threads(1):
            _sort_rows(counts, buf_d, buf_i, n_database)
    else:
        _sort_rows(counts, buf_d, buf_i, n_database)


def _flatten(counts, buf_d, buf_i, n_database):
    _sort_hits(counts, buf_d, buf_i, n_database)
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
    """Split ``rows`` into groups whose hit buffers fit in ``memory_budget`` (one pass)."""
    start, biggest = 0, 0
    for stop, q in enumerate(rows):
        with_q = max(biggest, counts[q])
        if stop > start and 16 * (stop + 1 - start) * with_q > memory_budget:
            yield rows[start:stop]
            start, biggest = stop, counts[q]
        else:
            biggest = with_q
    if start < len(rows):
        yield rows[start:]
