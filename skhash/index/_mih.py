"""Multi-index hashing: exact Hamming search sublinear in the database size.

Norouzi, Punjani and Fleet, "Fast search in Hamming space with multi-index hashing",
CVPR 2012; "Fast exact search in Hamming space with multi-index hashing", TPAMI 2014.

Each code is cut into ``m`` disjoint substrings and every substring indexes one table. If
two codes are within Hamming distance ``r = m * s + a`` (``0 <= a < m``), then by the
pigeonhole principle one of the first ``a + 1`` substrings is within ``s`` of the query's,
or one substring is within ``s - 1``. The search therefore visits *stages* ``(s, t)``: the
buckets of table ``t`` whose key is at distance exactly ``s`` from the query's substring.
After stage ``(s, t)`` every database code within ``m * s + t`` of the query has been seen.
A code is kept only at the first stage that can find it (a test on its other substrings),
so no visited-set is needed, and its full distance is then checked against the packed code.

Radius search stops after the last stage with ``m * s + t <= r``; k-nearest-neighbour search
stops as soon as the ``k``-th best distance found is covered by the stages done.

Tables are compact: per table, the item ids sorted by key (``uint32``) and a directory, the
CSR offsets of every key (dense, when ``2 ** width <= 2 * n``) or the sorted distinct keys
and their offsets (sparse). Everything is plain numpy, so the object pickles.
"""

from math import comb, log2

import numpy as np
from numba import prange

from ._numba_search import _code_distance, _jit, _pjit, _popcount, _Threads, collect_hits
from ._packing import BLOCK_SIZE, as_blocked

MAX_WIDTH = 32


@_jit
def _extract(code, start, width):
    """Bits ``[start, start + width)`` of a packed code, as an integer."""
    word = start // 64
    offset = start % 64
    value = code[word] >> np.uint64(offset)
    if offset + width > 64:
        value |= code[word + 1] << np.uint64(64 - offset)
    return value & ((np.uint64(1) << np.uint64(width)) - np.uint64(1))


@_jit
def _table_keys(database, start, width, out):
    for j in range(database.shape[0]):
        out[j] = _extract(database[j], start, width)


@_pjit
def _build_dense(database, starts, widths, order, offsets, optr):
    """Counting sort of the ids on each table's key; CSR offsets over all ``2 ** width``."""
    for t in prange(widths.shape[0]):
        base = optr[t]
        keys = np.empty(database.shape[0], dtype=np.uint64)
        _table_keys(database, starts[t], widths[t], keys)
        for j in range(database.shape[0]):
            offsets[base + np.int64(keys[j]) + 1] += 1
        for b in range(1 << widths[t]):
            offsets[base + b + 1] += offsets[base + b]
        fill = offsets[base : base + (1 << widths[t])].copy()
        for j in range(database.shape[0]):
            order[t, fill[keys[j]]] = j
            fill[keys[j]] += 1


@_jit
def _bucket(t, key, dense, dir_keys, kptr, offsets, optr):
    """Positions ``[lo, hi)`` in ``order[t]`` of the ids whose table-``t`` key is ``key``."""
    if dense:
        b = optr[t] + np.int64(key)
        return offsets[b], offsets[b + 1]
    lo, hi = kptr[t], kptr[t + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if dir_keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    if lo == kptr[t + 1] or dir_keys[lo] != key:
        return 0, 0
    b = optr[t] + lo - kptr[t]
    return offsets[b], offsets[b + 1]


@_jit
def _search_one(
    query,
    blocks,
    n_d,
    starts,
    widths,
    order,
    dense,
    dir_keys,
    kptr,
    offsets,
    optr,
    radius,
    k,
    max_checks,
):
    """Hits of one query, sorted by (distance, index): ``(dist, ind, size)``.

    ``radius >= 0`` asks for every code within ``radius``; ``radius < 0`` for the ``k``
    nearest, found by growing the substring radius until the k-th distance is covered.
    When ``max_checks > 0`` and the buckets probed plus the codes checked pass it, the
    search gives up and returns ``size = -1`` (the caller scans for that query instead).
    """
    m = widths.shape[0]
    n_bits_max = blocks.shape[1] * 64
    sub_q = np.empty(m, dtype=np.uint64)
    for t in range(m):
        sub_q[t] = _extract(query, starts[t], widths[t])
    knn = radius < 0
    bound = radius if not knn else n_bits_max + 1
    counts = np.zeros(n_bits_max + 2, dtype=np.int64)
    below = 0
    size = 0
    buf_d = np.empty(64, dtype=np.int64)
    buf_i = np.empty(64, dtype=np.int64)
    done = False
    checks = 0
    for s in range(widths.max() + 1):
        for t in range(m):
            if not knn and m * s + t > radius:
                done = True
                break
            if s <= widths[t]:
                # every key at distance exactly s: Gosper's hack over s-bit masks
                limit = np.uint64(1) << np.uint64(widths[t])
                mask = (np.uint64(1) << np.uint64(s)) - np.uint64(1)
                while mask < limit:
                    lo, hi = _bucket(t, sub_q[t] ^ mask, dense, dir_keys, kptr, offsets, optr)
                    checks += 1 + hi - lo
                    if 0 < max_checks < checks:
                        return buf_d, buf_i, -1
                    for p in range(lo, hi):
                        x = order[t, p]
                        block, j = blocks[x // BLOCK_SIZE], x % BLOCK_SIZE
                        d = _code_distance(query, block, j)
                        if d > bound:
                            continue
                        first = True  # is (s, t) the first stage that reaches x?
                        for u in range(m):
                            if u != t:
                                du = _popcount(
                                    _extract(block[:, j], starts[u], widths[u]) ^ sub_q[u]
                                )
                                if du < s or (u < t and du == s):
                                    first = False
                                    break
                        if not first:
                            continue
                        if size == buf_d.shape[0]:
                            buf_d = np.concatenate((buf_d, np.empty(size, dtype=np.int64)))
                            buf_i = np.concatenate((buf_i, np.empty(size, dtype=np.int64)))
                        buf_d[size] = d
                        buf_i[size] = x
                        size += 1
                        if knn:
                            counts[d] += 1
                            if d < bound:
                                below += 1
                            while below >= k:
                                bound -= 1
                                below -= counts[bound]
                    if s == 0:
                        break
                    low = mask & (~mask + np.uint64(1))
                    ripple = mask + low
                    mask = (((ripple ^ mask) >> np.uint64(2)) // low) | ripple
            if knn and (bound <= m * s + t or m * s + t >= n_bits_max):
                done = True
                break
        if done:
            break
    keys = np.empty(size, dtype=np.int64)
    n_keep = 0
    for j in range(size):
        if buf_d[j] <= bound:
            keys[n_keep] = buf_d[j] * n_d + buf_i[j]
            n_keep += 1
    keys = np.sort(keys[:n_keep])
    for j in range(n_keep):
        buf_d[j] = keys[j] // n_d
        buf_i[j] = keys[j] % n_d
    return buf_d, buf_i, min(n_keep, k) if knn else n_keep


@_pjit
def _knn_kernel(queries, blocks, n_d, tables, k, max_checks, out_d, out_i, gave_up):
    for q in prange(queries.shape[0]):
        dist, ind, size = _search_one(queries[q], blocks, n_d, *tables, -1, k, max_checks)
        gave_up[q] = size < 0
        size = max(size, 0)
        out_d[q, :size] = dist[:size]
        out_i[q, :size] = ind[:size]


@_pjit
def _radius_kernel(
    queries, blocks, n_d, tables, radius, max_checks, capacity, counts, buf_d, buf_i, gave_up
):
    for q in prange(queries.shape[0]):
        dist, ind, size = _search_one(queries[q], blocks, n_d, *tables, radius, 1, max_checks)
        gave_up[q] = size < 0
        counts[q] = size = max(size, 0)
        n = min(size, capacity)
        buf_d[q, :n] = dist[:n]
        buf_i[q, :n] = ind[:n]


def substring_widths(n_bits, n_database, n_substrings=None):
    """Substring widths: about ``log2(n_database)`` bits each (Norouzi et al.), at most 32."""
    if n_substrings is None:
        width = min(MAX_WIDTH, max(1, round(log2(max(n_database, 2)))))
        n_substrings = -(-n_bits // width)
    m = int(min(max(n_substrings, -(-n_bits // MAX_WIDTH)), n_bits))
    widths = np.full(m, n_bits // m, dtype=np.int64)
    widths[: n_bits % m] += 1
    return widths


class MultiIndexHashing:
    """Multi-index hash tables over packed codes (the codes themselves are not held).

    Parameters
    ----------
    database : ndarray of shape (n_database, n_words), dtype uint64, or BlockedCodes
        Packed codes, see :func:`skhash.index.pack_codes`; read to build the tables.
    n_bits : int
        Bits per code.
    n_substrings : int, default=None
        Number of substrings (tables); by default ``ceil(n_bits / log2(n_database))``.
    dense : bool, default=None
        Directory layout; by default dense when ``2 ** width <= 2 * n_database``.
    """

    def __init__(self, database, n_bits, n_substrings=None, dense=None):
        database = as_blocked(database).words()  # row by row for the build, then dropped
        n = len(database)
        self.n_bits = n_bits
        self.n_database = n
        self.widths = substring_widths(n_bits, n, n_substrings)
        self.starts = np.concatenate(([0], np.cumsum(self.widths)[:-1])).astype(np.int64)
        m, max_width = len(self.widths), int(self.widths.max())
        id_dtype = np.uint32 if n < 2**32 else np.int64
        self.dense = bool(2**max_width <= 2 * n) if dense is None else bool(dense)
        self.order = np.empty((m, n), dtype=id_dtype)
        if self.dense:
            sizes = (1 << self.widths) + 1
            self.optr = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
            self.offsets = np.zeros(int(sizes.sum()), dtype=id_dtype)
            self.dir_keys = np.empty(0, dtype=np.uint32)
            self.kptr = np.zeros(m + 1, dtype=np.int64)
            if n:
                _build_dense(
                    database, self.starts, self.widths, self.order, self.offsets, self.optr
                )
        else:
            keys_all, offsets_all = [], []
            keys = np.empty(n, dtype=np.uint64)
            for t in range(m):
                _table_keys(database, self.starts[t], self.widths[t], keys)
                order = np.argsort(keys, kind="stable")
                self.order[t] = order
                unique, first = np.unique(keys[order], return_index=True)
                keys_all.append(unique.astype(np.uint32))
                offsets_all.append(np.append(first, n).astype(id_dtype))
            self.dir_keys = np.concatenate(keys_all)
            self.offsets = np.concatenate(offsets_all)
            counts = np.array([len(u) for u in keys_all], dtype=np.int64)
            self.kptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
            self.optr = self.kptr[:-1] + np.arange(m)

    @property
    def nbytes(self):
        """Memory held by the tables, in bytes (the codes are not counted)."""
        return sum(
            a.nbytes
            for a in (
                self.order,
                self.offsets,
                self.dir_keys,
                self.kptr,
                self.optr,
                self.starts,
                self.widths,
            )
        )

    def _tables(self):
        return (
            self.starts,
            self.widths,
            self.order,
            self.dense,
            self.dir_keys,
            self.kptr,
            self.offsets,
            self.optr,
        )

    def knn_search(
        self, query_words, database, k, memory_budget=None, n_jobs=None, max_checks=None
    ):
        """Exact k nearest neighbours, as :func:`skhash.index._numba_search.knn_search`.

        With ``max_checks``, a query whose search would probe and check more buckets and
        codes than that gives up, and a third array is returned: ``gave_up`` (bool, one per
        query), whose rows of the results are to be ignored.
        """
        queries = np.ascontiguousarray(query_words, dtype=np.uint64)
        codes = as_blocked(database)
        out_d = np.empty((len(queries), k), dtype=np.int64)
        out_i = np.empty((len(queries), k), dtype=np.int64)
        gave_up = np.zeros(len(queries), dtype=np.bool_)
        if len(queries):
            with _Threads(n_jobs):
                _knn_kernel(
                    queries,
                    codes.blocks,
                    len(codes),
                    self._tables(),
                    k,
                    int(max_checks or 0),
                    out_d,
                    out_i,
                    gave_up,
                )
        out_d = out_d.astype(np.int32)
        return (out_d, out_i) if max_checks is None else (out_d, out_i, gave_up)

    def radius_search(
        self, query_words, database, radius, memory_budget=2**26, n_jobs=None, max_checks=None
    ):
        """Every code within ``radius``, as :func:`skhash.index._numba_search.radius_search`.

        ``max_checks`` as in :meth:`knn_search` (the lists hold empty arrays for the
        queries that gave up).
        """
        queries = np.ascontiguousarray(query_words, dtype=np.uint64)
        codes = as_blocked(database)
        tables = self._tables()
        gave_up = np.zeros(len(queries), dtype=np.bool_)

        def kernel(rows, capacity, counts, buf_d, buf_i):
            flags = np.zeros(len(rows), dtype=np.bool_)
            _radius_kernel(
                queries[rows],
                codes.blocks,
                len(codes),
                tables,
                int(radius),
                int(max_checks or 0),
                capacity,
                counts,
                buf_d,
                buf_i,
                flags,
            )
            gave_up[rows] |= flags

        with _Threads(n_jobs):
            dist, ind = collect_hits(kernel, len(queries), len(codes), memory_budget)
        return (dist, ind) if max_checks is None else (dist, ind, gave_up)

    def expected_cost(self, radius):
        """Buckets probed plus codes checked by a radius search, for uniform random codes."""
        return expected_cost(self.widths, self.n_database, radius)


def expected_cost(widths, n_database, radius):
    """Buckets probed plus codes checked by a radius-``radius`` search on uniform codes."""
    m, cost = len(widths), 0.0
    for s in range(int(max(widths)) + 1):
        for t, width in enumerate(widths):
            if m * s + t > radius:
                return cost
            n_keys = comb(int(width), s)
            cost += n_keys * (1.0 + n_database / 2.0 ** int(width))
    return cost


def expected_kth_distance(n_bits, n_database, k):
    """Smallest ``D`` with ``n_database * P(Binomial(n_bits, 1/2) <= D) >= k``."""
    total = 0.0
    for d in range(n_bits + 1):
        total += comb(n_bits, d) * n_database / 2.0**n_bits
        if total >= k:
            return d
    return n_bits
