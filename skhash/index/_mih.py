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

Tables are compact: per table, the database positions sorted by key (``uint32``) and a
directory, the CSR offsets of every key (dense, when ``2 ** width <= 2 * n``) or the sorted
distinct keys and their offsets (sparse). Within a bucket positions are ascending. Adding or
removing codes updates the tables in place of a rebuild (each table is copied once, no key
is recomputed but the new codes'), and the result equals a fresh build over the new
database; when the database has grown or shrunk enough for a fresh build to pick other
substring widths, the tables are dropped instead (and rebuilt on the next search).
Everything is plain numpy, so the object pickles (and memory-maps with joblib).
"""

import numpy as np
from numba import prange

from . import _numba_search
from ._backend import DEFAULT_MEMORY_BUDGET
from ._mih_plan import (
    MAX_WIDTH,
    dense_directory,
    id_dtype,
    radius_substrings,
    substring_widths,
)
from ._numba_search import _code_distance, _jit, _pjit, _popcount, _Threads
from ._packing import BLOCK_SIZE, as_blocked


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
def _table_keys(blocks, lo, start, width, out):
    """Keys of codes ``lo, lo + 1, ...`` (``len(out)`` of them) in one table."""
    for j in range(out.shape[0]):
        x = lo + j
        out[j] = _extract(blocks[x // BLOCK_SIZE, :, x % BLOCK_SIZE], start, width)


@_pjit
def _build_dense(blocks, n, starts, widths, order, offsets, optr):
    """Counting sort of the positions on each table's key; CSR offsets over all keys."""
    for t in prange(widths.shape[0]):
        base = optr[t]
        keys = np.empty(n, dtype=np.uint64)
        _table_keys(blocks, 0, starts[t], widths[t], keys)
        for j in range(n):
            offsets[base + np.int64(keys[j]) + 1] += 1
        for b in range(1 << widths[t]):
            offsets[base + b + 1] += offsets[base + b]
        fill = offsets[base : base + (1 << widths[t])].copy()
        for j in range(n):
            order[t, fill[keys[j]]] = j
            fill[keys[j]] += 1


@_pjit
def _build_sparse(blocks, n, starts, widths, order, prefix_bits, sorted_keys):
    """Positions sorted by each table's key, stably: a counting sort on the key's top
    ``prefix_bits`` bits, then an insertion sort within each of those (short) runs."""
    for t in prange(widths.shape[0]):
        keys = np.empty(n, dtype=np.uint64)
        _table_keys(blocks, 0, starts[t], widths[t], keys)
        shift = np.uint64(max(widths[t] - prefix_bits, 0))
        fill = np.zeros((1 << min(prefix_bits, widths[t])) + 1, dtype=np.int64)
        for j in range(n):
            fill[np.int64(keys[j] >> shift) + 1] += 1
        for b in range(fill.shape[0] - 1):
            fill[b + 1] += fill[b]
        first = fill.copy()
        for j in range(n):
            key = keys[j]
            b = np.int64(key >> shift)
            i = fill[b]
            fill[b] += 1
            # equal keys never pass each other: positions stay ascending within a bucket
            while i > first[b] and sorted_keys[t, i - 1] > key:
                sorted_keys[t, i] = sorted_keys[t, i - 1]
                order[t, i] = order[t, i - 1]
                i -= 1
            sorted_keys[t, i] = key
            order[t, i] = j


@_jit
def _bucket(t, key, dense, dir_keys, kptr, offsets, optr, prefix, pptr, pshift):
    """Positions ``[lo, hi)`` in ``order[t]`` of the ids whose table-``t`` key is ``key``."""
    if dense:
        b = optr[t] + np.int64(key)
        return offsets[b], offsets[b + 1]
    # the keys sharing the key's top bits (about one), found in the prefix index
    b = pptr[t] + np.int64(key >> np.uint64(pshift[t]))
    lo, hi = kptr[t] + np.int64(prefix[b]), kptr[t] + np.int64(prefix[b + 1])
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
    prefix,
    pptr,
    pshift,
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
                    lo, hi = _bucket(
                        t,
                        sub_q[t] ^ mask,
                        dense,
                        dir_keys,
                        kptr,
                        offsets,
                        optr,
                        prefix,
                        pptr,
                        pshift,
                    )
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


@_jit
def _radius_one(
    query,
    blocks,
    starts,
    widths,
    order,
    dense,
    dir_keys,
    kptr,
    offsets,
    optr,
    prefix,
    pptr,
    pshift,
    radius,
    max_checks,
    sub_q,
    out_d,
    out_i,
):
    """Hits of one query within ``radius``, unsorted, into ``out_d``/``out_i``: their count.

    The caller's buffers are reused across queries (no allocation per query); hits past
    their length are counted, not stored. ``-1`` when ``max_checks`` was passed.
    """
    m = widths.shape[0]
    capacity = out_d.shape[0]
    for t in range(m):
        sub_q[t] = _extract(query, starts[t], widths[t])
    size = 0
    checks = 0
    for s in range(radius // m + 1):
        for t in range(m):
            if m * s + t > radius:
                return size
            if s > widths[t]:
                continue
            # every key at distance exactly s: Gosper's hack over s-bit masks
            limit = np.uint64(1) << np.uint64(widths[t])
            mask = (np.uint64(1) << np.uint64(s)) - np.uint64(1)
            while mask < limit:
                key = sub_q[t] ^ mask
                lo, hi = _bucket(
                    t, key, dense, dir_keys, kptr, offsets, optr, prefix, pptr, pshift
                )
                checks += 1 + hi - lo
                if 0 < max_checks < checks:
                    return -1
                for p in range(lo, hi):
                    x = order[t, p]
                    block, j = blocks[x // BLOCK_SIZE], x % BLOCK_SIZE
                    d = _code_distance(query, block, j)
                    if d > radius:
                        continue
                    if s > 0 or t > 0:  # stage (0, 0) is every code's first it reaches
                        first = True
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
                    if size < capacity:
                        out_d[size] = d
                        out_i[size] = x
                    size += 1
                if s == 0:
                    break
                low = mask & (~mask + np.uint64(1))
                ripple = mask + low
                mask = (((ripple ^ mask) >> np.uint64(2)) // low) | ripple
    return size


@_pjit
def _radius_kernel(queries, blocks, tables, radius, max_checks, counts, buf_d, buf_i, gave_up):
    # queries in contiguous chunks, a few per thread: the substring buffer is made once per
    # chunk and the hits go straight into the caller's rows
    n_q = queries.shape[0]
    n_chunks = min(n_q, 64)
    m = tables[1].shape[0]
    capacity = buf_d.shape[1]
    for c in prange(n_chunks):
        sub_q = np.empty(m, dtype=np.uint64)
        for q in range(c * n_q // n_chunks, (c + 1) * n_q // n_chunks):
            size = _radius_one(
                queries[q], blocks, *tables, radius, max_checks, sub_q, buf_d[q], buf_i[q]
            )
            gave_up[q] = size < 0
            counts[q] = size = max(size, 0)
            # sorted by (distance, position) here, while the row is in cache (few hits)
            d_row, i_row = buf_d[q], buf_i[q]
            for a in range(1, min(size, capacity)):
                d, x = d_row[a], i_row[a]
                b = a
                while b > 0 and (d_row[b - 1] > d or (d_row[b - 1] == d and i_row[b - 1] > x)):
                    d_row[b], i_row[b] = d_row[b - 1], i_row[b - 1]
                    b -= 1
                d_row[b], i_row[b] = d, x


@_jit
def _compact(rows, counts, buf_d, buf_i, starts, flat_d, flat_i):
    """Rows ``rows`` of the sorted hit buffers into the flat results at ``starts`` (one
    thread: a copy of the hits, cheaper than waking the others on a busy machine)."""
    for r in range(rows.shape[0]):
        q = rows[r]
        for j in range(counts[r]):
            flat_d[starts[q] + j] = buf_d[r, j]
            flat_i[starts[q] + j] = buf_i[r, j]


def _collect(kernel, n_queries, memory_budget, capacity=64):
    """Hits of every query, sorted, as lists of per-query views of two flat arrays.

    ``kernel(rows, capacity, counts, buf_d, buf_i)`` stores the first ``capacity`` hits of
    each query of ``rows``, sorted, and counts them all; queries with more hits run again
    with room for all of them, in groups that fit ``memory_budget``.
    """
    if n_queries == 0:
        return [], []
    rows = np.arange(n_queries)
    capacity = int(max(1, min(capacity, memory_budget // (16 * n_queries))))
    counts = np.zeros(n_queries, dtype=np.int64)
    buf_d = np.empty((n_queries, capacity), dtype=np.int64)
    buf_i = np.empty((n_queries, capacity), dtype=np.int64)
    kernel(rows, capacity, counts, buf_d, buf_i)
    stops = np.cumsum(counts)
    starts = stops - counts
    flat_d = np.empty(int(stops[-1]), dtype=np.int32)
    flat_i = np.empty(int(stops[-1]), dtype=np.int64)
    _compact(rows, np.minimum(counts, capacity), buf_d, buf_i, starts, flat_d, flat_i)
    over = np.flatnonzero(counts > capacity)
    while len(over):
        cap = int(counts[over].max())
        group = over[: max(1, memory_budget // (16 * cap))]
        over = over[len(group) :]
        g_counts = np.zeros(len(group), dtype=np.int64)
        g_d = np.empty((len(group), cap), dtype=np.int64)
        g_i = np.empty((len(group), cap), dtype=np.int64)
        kernel(group, cap, g_counts, g_d, g_i)
        _compact(group, g_counts, g_d, g_i, starts, flat_d, flat_i)
    bounds = stops.tolist()
    cuts = list(zip([0, *bounds[:-1]], bounds, strict=True))
    return [flat_d[a:b] for a, b in cuts], [flat_i[a:b] for a, b in cuts]


class MultiIndexHashing:
    """Multi-index hash tables over packed codes (the codes themselves are not held).

    A :class:`~skhash.index._backend.SearchBackend` whose searches take the codes the tables
    were built on (or updated for) as ``database``.

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
        codes = as_blocked(database)
        n = len(codes)
        self.n_bits = n_bits
        self.n_database = n
        self.fixed_layout = n_substrings is not None or dense is not None
        # other table sets, by number of tables, built when a radius search would rather
        # use them (see radius_substrings); kept up to date by appended and removed
        self.alternates = {}
        self.widths = substring_widths(n_bits, n, n_substrings)
        self.starts = np.concatenate(([0], np.cumsum(self.widths)[:-1])).astype(np.int64)
        m = len(self.widths)
        self.dense = dense_directory(self.widths, n) if dense is None else bool(dense)
        self.order = np.empty((m, n), dtype=id_dtype(n))
        if self.dense:
            sizes = (1 << self.widths) + 1
            self.optr = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
            self.offsets = np.zeros(int(sizes.sum()), dtype=id_dtype(n))
            self.dir_keys = np.empty(0, dtype=np.uint32)
            self.kptr = np.zeros(m + 1, dtype=np.int64)
            self.prefix, self.pptr = np.zeros(1, np.uint32), np.zeros(1, np.int64)
            self.pshift = np.zeros(1, np.int64)
            if n:
                _build_dense(
                    codes.blocks, n, self.starts, self.widths, self.order, self.offsets, self.optr
                )
            return
        sorted_keys = np.empty((m, n), dtype=np.uint32)
        if n:  # about one code per run of the counting sort: the insertion sorts are short
            prefix_bits = max(1, min(MAX_WIDTH, int(np.log2(n))))
            _build_sparse(
                codes.blocks, n, self.starts, self.widths, self.order, prefix_bits, sorted_keys
            )
        directories = []
        for keys in sorted_keys:
            first = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))[: len(keys)]
            directories.append((keys[first], np.append(first, n)))
        self._set_sparse_directories(directories)

    def _set_sparse_directories(self, directories):
        """Store the sparse ``(keys, offsets)`` directory of every table."""
        self.dir_keys = np.concatenate([k for k, _ in directories]).astype(np.uint32)
        self.offsets = np.concatenate([o for _, o in directories]).astype(self.order.dtype)
        counts = np.array([len(k) for k, _ in directories], dtype=np.int64)
        self.kptr = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        self.optr = self.kptr[:-1] + np.arange(len(directories))
        self._set_prefix_index()

    def _set_prefix_index(self):
        """Sparse tables: where each run of keys with the same top bits starts in
        ``dir_keys``, so a probe reads about one key instead of binary-searching them all
        (top bits: ``log2`` of the distinct keys, so the index is no longer than the keys)."""
        parts, shifts = [], []
        for t, width in enumerate(self.widths):
            keys = self.dir_keys[self.kptr[t] : self.kptr[t + 1]].astype(np.uint64)
            bits = min(int(width), int(np.log2(max(len(keys), 1))))
            shifts.append(int(width) - bits)
            bounds = np.arange((1 << bits) + 1, dtype=np.uint64) << np.uint64(shifts[-1])
            parts.append(np.searchsorted(keys, bounds).astype(np.uint32))
        self.prefix = np.concatenate(parts) if parts else np.zeros(0, np.uint32)
        sizes = [len(p) for p in parts]
        self.pptr = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
        self.pshift = np.array(shifts, dtype=np.int64)

    def _directory(self, t):
        """Table ``t``'s directory: ``(keys or None when dense, offsets)``."""
        if self.dense:
            return None, self.offsets[self.optr[t] : self.optr[t] + (1 << self.widths[t]) + 1]
        keys = self.dir_keys[self.kptr[t] : self.kptr[t + 1]]
        return keys, self.offsets[self.optr[t] : self.optr[t] + len(keys) + 1]

    def _updated(self, n, order, directories):
        """A copy of these tables over ``n`` codes with new entries and directories."""
        new = object.__new__(MultiIndexHashing)
        new.__dict__.update(self.__dict__)
        new.n_database, new.order = n, order
        new.alternates = {}
        if self.dense:
            new.offsets = np.concatenate([o for _, o in directories]).astype(order.dtype)
        else:
            new._set_sparse_directories(directories)
        return new

    def _fits(self, n):
        """Whether a fresh build over ``n`` codes has this layout (else: rebuild)."""
        if id_dtype(n) != self.order.dtype:
            return False
        if self.fixed_layout:
            return True
        widths = substring_widths(self.n_bits, n)
        return np.array_equal(widths, self.widths) and dense_directory(widths, n) == self.dense

    def appended(self, codes):
        """The tables over ``codes``: these tables' codes followed by new ones.

        Parameters
        ----------
        codes : BlockedCodes
            The new database; its first ``n_database`` codes are the tables' codes.

        Returns
        -------
        tables : MultiIndexHashing or None
            None when a fresh build would choose another layout.
        """
        n_old, n = self.n_database, len(codes)
        if not self._fits(n):
            return None
        order = np.empty((len(self.widths), n), dtype=self.order.dtype)
        keys = np.empty(n - n_old, dtype=np.uint64)
        directories = []
        for t in range(len(self.widths)):
            _table_keys(codes.blocks, n_old, self.starts[t], self.widths[t], keys)
            new_order = np.argsort(keys, kind="stable")
            new_keys = keys[new_order]
            old_keys, offsets = self._directory(t)
            if old_keys is None:  # dense: a bucket per key, each gains its new codes
                ends = offsets[new_keys.astype(np.int64) + 1]
                gained = np.bincount(new_keys.astype(np.intp), minlength=len(offsets) - 1)
                directory = (None, offsets + np.concatenate(([0], np.cumsum(gained))))
            else:  # sparse: the keys' union; a key starts after all smaller old and new keys
                ends = offsets[np.searchsorted(old_keys, new_keys, side="right")]
                union = np.union1d(old_keys, new_keys)
                starts = offsets[np.searchsorted(old_keys, union)] + np.searchsorted(
                    new_keys, union
                )
                directory = (union, np.append(starts, n))
            # new codes go at the end of their bucket: positions stay ascending within it
            order[t] = np.insert(self.order[t], ends.astype(np.intp), new_order + n_old)
            directories.append(directory)
        new = self._updated(n, order, directories)
        alternates = {m: a.appended(codes) for m, a in self._alternates().items()}
        new.alternates = {m: a for m, a in alternates.items() if a is not None}
        return new

    def removed(self, keep):
        """The tables without the codes where ``keep`` (bool, one per code) is False.

        The kept codes move down to close the gaps, in order. Returns None when a fresh
        build would choose another layout.
        """
        n = int(np.count_nonzero(keep))
        if not self._fits(n):
            return None
        dtype = self.order.dtype
        new_position = np.cumsum(keep, dtype=dtype) - dtype.type(1)  # of every kept code
        order = np.empty((len(self.widths), n), dtype=dtype)
        directories = []
        for t in range(len(self.widths)):
            kept = keep[self.order[t]]
            order[t] = new_position[self.order[t][kept]]
            keys, offsets = self._directory(t)
            dropped_before = np.concatenate(([0], np.cumsum(~kept, dtype=dtype)))
            offsets = offsets - dropped_before[offsets]
            if keys is not None:  # a fresh build lists only the keys still held
                held = np.diff(offsets) > 0
                keys, offsets = keys[held], np.append(offsets[:-1][held], n)
            directories.append((keys, offsets))
        new = self._updated(n, order, directories)
        alternates = {m: a.removed(keep) for m, a in self._alternates().items()}
        new.alternates = {m: a for m, a in alternates.items() if a is not None}
        return new

    def _alternates(self):
        """The other table sets (tables pickled before they existed have none)."""
        return self.__dict__.setdefault("alternates", {})

    def for_radius(self, radius, database):
        """The table set a radius-``radius`` search runs on: these tables, or another set
        with fewer, wider tables when the cost model expects it to be cheaper (built here
        on first use and kept; a layout fixed at construction is always used as is)."""
        if self.fixed_layout or self.n_database == 0:
            return self
        m = radius_substrings(self.n_bits, self.n_database, radius)
        if m == len(self.widths):
            return self
        alternates = self._alternates()
        if m not in alternates:
            alternates[m] = MultiIndexHashing(database, self.n_bits, n_substrings=m)
        return alternates[m]

    @property
    def nbytes(self):
        """Memory held by the tables and the other sets built, in bytes (not the codes)."""
        return sum(a.nbytes for a in self._alternates().values()) + sum(
            a.nbytes
            for a in (
                self.order,
                self.offsets,
                self.dir_keys,
                self.kptr,
                self.optr,
                self.starts,
                self.widths,
                *self._tables()[8:],
            )
        )

    def _tables(self):
        if "prefix" not in self.__dict__:  # pickled before the prefix index existed
            if self.dense:
                self.prefix, self.pptr = np.zeros(1, np.uint32), np.zeros(1, np.int64)
                self.pshift = np.zeros(1, np.int64)
            else:
                self._set_prefix_index()
        return (
            self.starts,
            self.widths,
            self.order,
            self.dense,
            self.dir_keys,
            self.kptr,
            self.offsets,
            self.optr,
            self.prefix,
            self.pptr,
            self.pshift,
        )

    def knn_search(
        self,
        query_words,
        database,
        k,
        memory_budget=DEFAULT_MEMORY_BUDGET,
        n_jobs=None,
        max_checks=None,
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
        self,
        query_words,
        database,
        radius,
        memory_budget=DEFAULT_MEMORY_BUDGET,
        n_jobs=None,
        max_checks=None,
    ):
        """Every code within ``radius``, as :func:`skhash.index._numba_search.radius_search`.

        ``max_checks`` as in :meth:`knn_search` (the lists hold empty arrays for the
        queries that gave up).
        """
        queries = np.ascontiguousarray(query_words, dtype=np.uint64)
        codes = as_blocked(database)
        tables = self.for_radius(int(radius), codes)._tables()
        gave_up = np.zeros(len(queries), dtype=np.bool_)

        def kernel(rows, capacity, counts, buf_d, buf_i):
            flags = np.zeros(len(rows), dtype=np.bool_)
            _radius_kernel(
                queries[rows],
                codes.blocks,
                tables,
                int(radius),
                int(max_checks or 0),
                counts,
                buf_d,
                buf_i,
                flags,
            )
            gave_up[rows] |= flags

        with _Threads(n_jobs):
            dist, ind = _collect(kernel, len(queries), memory_budget)
        return (dist, ind) if max_checks is None else (dist, ind, gave_up)

    def pairwise_distances(
        self, query_words, database, memory_budget=DEFAULT_MEMORY_BUDGET, n_jobs=None
    ):
        """The full distance matrix: the tables do not help, the compiled scan answers."""
        return _numba_search.pairwise_distances(query_words, database, memory_budget, n_jobs)
