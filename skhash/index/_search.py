"""The search front end: batches of queries, the choice of backend, ``"auto"``'s plan.

Every search of :class:`~skhash.index.HammingIndex` (and of the Dask shards) goes through
:func:`search`: it splits the queries into batches of bounded cost (Python runs between
them, so Ctrl-C stops a long search promptly), resolves ``"auto"`` and hands each batch to
a :class:`~skhash.index._backend.SearchBackend`.
"""

import sys
import threading
import time

import numpy as np

from . import _numpy_search
from ._backend import DEFAULT_MEMORY_BUDGET, n_threads

BACKENDS = {"auto", "numpy", "numba", "mih", "torch"}
# "auto" scans with numpy, which compiles nothing, below this many code comparisons until
# the compiled kernels are there. The first such search starts loading them in a background
# thread (from numba's on-disk cache: well under a second; a first compilation on a new
# machine takes longer), so a fresh process answers its first queries at once with numpy
# and the rest with the compiled scan, with no long stretch of slow queries.
# The warm-up starts for a database of WARM_UP_WORDS words or more (where the compiled scan
# saves a millisecond or more per query), or once numpy has done SMALL_SEARCH_TOTAL
# comparisons in this process; a process searching only small databases (the digits)
# never imports numba.
SMALL_SEARCH = 10**7
WARM_UP_WORDS = 2**17
SMALL_SEARCH_TOTAL = 3 * 10**8
_numpy_comparisons = [0]  # done by "auto" in this process (a racy count is good enough)
_KERNELS = {
    "knn": ("_knn_kernel", "_knn_few_kernel"),
    "radius": ("_radius_kernel", "_sort_rows"),
    "distances": ("_distance_kernel",),
}
_warm = {"started": False, "ready": set(), "lock": threading.Lock()}
# The first batch of queries does at most this many word comparisons of a scan (a code of
# n_words words counts n_words: a 256-bit scan costs about four times a 64-bit one), a
# tenth of a second or so on one loaded core, and at least a few query groups per thread,
# so each pass over a large database serves many queries. Multi-index hashing, whose cost
# per query is not known beforehand (a kNN search with a large k on codes far apart costs
# about a scan, per query), starts with MIN_BATCH_PER_THREAD queries per thread. Later
# batches grow towards BATCH_SECONDS each, at most four times larger each time, never below
# the first. Ctrl-C, honoured between batches, thus stops a long search within about a
# second.
BATCH_COMPARISONS = 2**28
MIN_BATCH_PER_THREAD = 16
BATCH_SECONDS = 0.25
# Cost of multi-index hashing in codes the numba scan compares in the same time (measured on
# uniform codes, 2 threads): about 30,000 per query, plus 300-600 per bucket probed or code
# checked at 1M codes of 64-128 bits, 550-950 at 10M (cache misses); the larger is used.
AUTO_MIH_FIXED_COST = 30_000
AUTO_MIH_COST_RATIO = 600
# "auto" lets a query's multi-index search cost at most this share of a scan, then scans
AUTO_MIH_MAX_SHARE = 0.5
AUTO_MIH_TRIAL = 16  # queries tried first; if most of them give up, all are scanned at once
_SEARCHES = {"knn": "knn_search", "radius": "radius_search", "distances": "pairwise_distances"}


def _numba_search():
    from . import _numba_search

    return _numba_search


def _compiled(kind):
    """Whether the numba kernels of search ``kind`` are compiled in this process already."""
    if kind in _warm["ready"]:
        return True
    module = sys.modules.get(f"{__package__}._numba_search")
    if module is None:
        return False
    # (getattr's default: the warm-up thread may be importing the module right now)
    kernels = [getattr(module, name, None) for name in _KERNELS[kind]]
    return all(kernel is not None and kernel.signatures for kernel in kernels)


def _warm_up():
    """Compile (or load from numba's cache) every search kernel, in a daemon thread."""
    with _warm["lock"]:
        if _warm["started"]:
            return
        _warm["started"] = True

    def load():
        try:
            module = _numba_search()
            words = np.zeros((64, 1), dtype=np.uint64)
            for n_queries in (1, 4):  # the few-queries kernel and the grouped one
                module.knn_search(words[:n_queries], words, 1, n_jobs=1)
            _warm["ready"].add("knn")
            module.radius_search(words[:4], words, 0, n_jobs=1)
            _warm["ready"].add("radius")
            module.pairwise_distances(words[:1], words, n_jobs=1)
            _warm["ready"].add("distances")
        except Exception:  # noqa: BLE001 - numpy keeps answering; a scan would raise it
            pass

    _warm["thread"] = threading.Thread(target=load, name="skhash-numba-warm-up", daemon=True)
    _warm["thread"].start()


def warm_up_for(database, backend):
    """Start loading the compiled kernels at ``fit`` when ``database`` is large enough for
    them to matter (so the first query after a fit of a million codes finds them loaded)."""
    if backend in ("auto", "numba", "mih"):
        if len(database) * database.codes.n_words >= WARM_UP_WORDS:
            _warm_up()


def _join(parts):
    """Results of query batches, in order (arrays, or lists for radius search)."""
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    return [x for part in parts for x in part]


def search(
    database,
    kind,
    queries,
    arg=None,
    *,
    backend="auto",
    n_jobs=None,
    memory_budget=DEFAULT_MEMORY_BUDGET,
):
    """Search ``kind`` ("knn", "radius" or "distances") over a database snapshot.

    Parameters
    ----------
    database : Database
        The snapshot searched (read once: changes made meanwhile are not seen).
    kind : {"knn", "radius", "distances"}
        The search.
    queries : ndarray of shape (n_queries, n_words), dtype uint64
        Packed, checked queries.
    arg : int
        ``k`` (``1 <= k <= len(database)``) or the radius (``0 <= radius <= n_bits``).
    backend, n_jobs, memory_budget
        As :class:`~skhash.index.HammingIndex` takes them.

    Returns
    -------
    The backend's answer, in positions: ``(dist, positions)`` arrays for kNN, lists for
    radius search, the distance matrix for "distances".
    """
    n_queries, n_database = len(queries), len(database)
    fewest = MIN_BATCH_PER_THREAD * n_threads(n_jobs)
    words = max(n_database, 1) * max(queries.shape[1], 1)
    first = fewest if backend == "mih" else max(fewest, BATCH_COMPARISONS // words)
    plan = {"backend": backend, "n_jobs": n_jobs, "memory_budget": memory_budget}
    parts, start, rows = [], 0, first
    while not parts or start < n_queries:
        began = time.perf_counter()
        parts.append(_search_batch(database, kind, queries[start : start + rows], arg, plan))
        start += rows
        seconds = max(time.perf_counter() - began, 1e-6)
        rows = max(first, min(4 * rows, int(rows * BATCH_SECONDS / seconds)))
    if _warm.get("wanted") and not _warm["started"]:
        _warm_up()  # after the answer: the thread's imports would hold up this search
    if kind == "distances":
        return _join(parts)
    return _join([p[0] for p in parts]), _join([p[1] for p in parts])


def _search_batch(database, kind, queries, arg, plan):
    """One batch; ``plan`` holds the settings and what ``"auto"`` learnt from earlier ones."""
    name = backend_name(database, kind, len(queries), arg, plan["backend"])
    if plan["backend"] == "auto" and name == "mih":
        return _auto_mih_search(database, kind, queries, arg, plan)
    backend, codes = _backend(database, name)
    search_of = getattr(backend, _SEARCHES[kind])
    args = () if kind == "distances" else (arg,)
    return search_of(queries, codes, *args, plan["memory_budget"], n_jobs=plan["n_jobs"])


def backend_name(database, kind, n_queries, arg, backend="auto"):
    """Name of the backend that answers a search (resolves ``"auto"``)."""
    if backend != "auto":
        return "numba" if backend == "mih" and kind == "distances" else backend
    comparisons = n_queries * len(database)
    if comparisons < SMALL_SEARCH and not _compiled(kind):
        _numpy_comparisons[0] += comparisons
        words = len(database) * database.codes.n_words
        if words >= WARM_UP_WORDS or _numpy_comparisons[0] >= SMALL_SEARCH_TOTAL:
            _warm["wanted"] = True  # started once this search is answered (see search)
        return "numpy"
    if kind != "distances" and _mih_may_pay(database, kind, arg):
        return "mih"
    return "numba"


def _backend(database, name):
    """``(backend, database as that backend takes it)`` for backend ``name``."""
    if name == "numpy":
        return _numpy_search, database.codes
    if name == "numba":
        return _numba_search(), database.codes
    if name == "torch":
        from . import _torch_search

        return _torch_search, database.device_codes()
    return database.tables(), database.codes


def _auto_mih_search(database, kind, queries, arg, plan):
    """Capped multi-index searches; the queries that give up are scanned, or the whole
    batch at once if most of the first queries of the search did (a scan of many queries at
    once reads the database fewer times)."""
    method = _SEARCHES[kind]
    settings = {"n_jobs": plan["n_jobs"]}

    def scan(rows):
        scan_of = getattr(_numba_search(), method)
        return scan_of(rows, database.codes, arg, plan["memory_budget"], **settings)

    def capped(rows):
        capped_of = getattr(database.tables(), method)
        max_checks = _auto_max_checks(len(database))
        return capped_of(
            rows, database.codes, arg, plan["memory_budget"], **settings, max_checks=max_checks
        )

    if plan.get("scan"):
        return scan(queries)
    if "tried" in plan:
        dist, ind, gave_up = capped(queries)
    else:
        plan["tried"] = True
        dist, ind, gave_up = capped(queries[:AUTO_MIH_TRIAL])
        rest = queries[AUTO_MIH_TRIAL:]
        if len(rest):
            if 2 * gave_up.sum() > AUTO_MIH_TRIAL:
                plan["scan"] = True
                return scan(queries)
            more_d, more_i, more_gave_up = capped(rest)
            dist, ind = _join([dist, more_d]), _join([ind, more_i])
            gave_up = np.concatenate((gave_up, more_gave_up))
    rows = np.flatnonzero(gave_up)
    if len(rows):
        for q, d, i in zip(rows, *scan(queries[rows]), strict=True):
            dist[q], ind[q] = d, i
    return dist, ind


def _auto_max_checks(n_database):
    """Buckets and codes a capped multi-index search may visit under ``"auto"``."""
    budget = AUTO_MIH_MAX_SHARE * n_database - AUTO_MIH_FIXED_COST
    return max(0, int(budget / AUTO_MIH_COST_RATIO))


def _mih_may_pay(database, kind, arg):
    """Whether a capped multi-index search can beat a scan at all (``"auto"``)."""
    max_checks = _auto_max_checks(len(database))
    if kind == "knn":  # at least the k codes returned are checked
        return arg < max_checks
    from ._mih_plan import expected_cost, radius_substrings, substring_widths

    # radius search: its cost on uniform random codes, on the table set it would use, must
    # fit the cap (real codes, with uneven buckets, cost more for some queries: those are
    # scanned)
    n_bits, n = database.n_bits, len(database)
    widths = substring_widths(n_bits, n, radius_substrings(n_bits, n, arg))
    return max_checks > 0 and expected_cost(widths, n, arg, weighted=False) < max_checks
