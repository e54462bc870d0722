"""HammingIndex under faults, threads and processes: atomic changes, concurrent adds,
interruptible searches, memory-mapped persistence, and a cold start that compiles nothing."""

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import threading

import joblib
import numpy as np
import pytest

from skhash.index import HammingIndex, _numpy_search, _search
from skhash.index._database import Database
from skhash.index._mih import MultiIndexHashing
from skhash.index._packing import BlockedCodes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def codes_of(ids, n_bits=32):
    """Distinct codes: the binary digits of distinct ids (code of id i is i's bits)."""
    ids = np.asarray(ids, dtype=np.int64)
    return ((ids[:, None] >> np.arange(n_bits)) & 1).astype(np.uint8)


def snapshot(index):
    return index.n_indexed_, index.codes_.copy(), None if index.ids_ is None else index.ids_.copy()


def assert_unchanged(index, before):
    n, codes, ids = before
    assert index.n_indexed_ == n
    np.testing.assert_array_equal(index.codes_, codes)
    if ids is not None:
        np.testing.assert_array_equal(index.ids_, ids)


def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    "target, name",
    [
        (MultiIndexHashing, "appended"),  # last step: codes and ids were written already
        (BlockedCodes, "append"),
        (Database, "appended"),
    ],
)
def test_interrupted_add_leaves_the_index_as_it_was(monkeypatch, target, name):
    ids = np.arange(0, 3000, 3)
    index = HammingIndex(backend="mih").fit(codes_of(ids), ids=ids)
    index.kneighbors(codes_of([5]), 3)  # builds the tables, so the add updates them
    before = snapshot(index)
    results = index.kneighbors(codes_of(ids[:20] + 1), 5)
    with monkeypatch.context() as patch:
        patch.setattr(target, name, interrupt)
        with pytest.raises(KeyboardInterrupt):
            index.add(codes_of([1, 2, 4]), ids=[1, 2, 4])
    assert_unchanged(index, before)
    for got, want in zip(index.kneighbors(codes_of(ids[:20] + 1), 5), results, strict=True):
        np.testing.assert_array_equal(got, want)
    index.add(codes_of([1, 2]), ids=[1, 2])  # then adds work, into the right places
    np.testing.assert_array_equal(index.ids_[-2:], [1, 2])
    np.testing.assert_array_equal(index.radius_neighbors(codes_of([2]), 0)[1][0], [2])


@pytest.mark.parametrize("change", ["fit", "remove"])
def test_interrupted_fit_or_remove_leaves_the_index_as_it_was(monkeypatch, change):
    ids = np.arange(500)
    index = HammingIndex(backend="mih").fit(codes_of(ids), ids=ids)
    index.kneighbors(codes_of([5]), 3)
    before = snapshot(index)
    target, name = (Database, "of") if change == "fit" else (MultiIndexHashing, "removed")
    monkeypatch.setattr(target, name, interrupt)
    with pytest.raises(KeyboardInterrupt):
        if change == "fit":
            index.fit(codes_of(ids[:10], n_bits=8))
        else:
            index.remove([3, 4])
    assert_unchanged(index, before)
    assert index.n_bits_ == 32


def test_concurrent_adds_lose_nothing():
    index = HammingIndex().fit(codes_of([0]), ids=[0])
    n_threads, n_batches, batch = 4, 40, 50

    def adder(t):
        for b in range(n_batches):
            start = 1 + (t * n_batches + b) * batch
            new_ids = np.arange(start, start + batch)
            index.add(codes_of(new_ids), ids=new_ids)

    workers = [threading.Thread(target=adder, args=(t,)) for t in range(n_threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    n_total = 1 + n_threads * n_batches * batch
    assert index.n_indexed_ == n_total
    np.testing.assert_array_equal(np.sort(index.ids_), np.arange(n_total))
    # every code findable, under its own id (the code of id i is i's bits)
    found = index.kneighbors(codes_of(np.arange(n_total)), 1)
    np.testing.assert_array_equal(found[0].ravel(), 0)
    np.testing.assert_array_equal(found[1].ravel(), np.arange(n_total))


def test_a_search_during_adds_sees_the_old_or_the_new_database():
    """Batch j adds 200 copies of code j: a search finds all of a batch or none of it,
    and the batches it finds are the first ones (a prefix of the adds)."""
    copies, n_batches = 200, 60
    index = HammingIndex(backend="numba").fit(codes_of(np.zeros(copies, int)))
    queries = codes_of(np.arange(n_batches))
    done, first_search = threading.Event(), threading.Event()

    def writer():
        first_search.wait()
        for j in range(1, n_batches):
            index.add(codes_of(np.full(copies, j)))
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    seen = []
    while not done.is_set() or not seen or seen[-1] < n_batches:
        found = index.radius_neighbors(queries, radius=0, return_distance=False)
        sizes = np.array([len(f) for f in found])
        assert set(sizes) <= {0, copies}, "a batch seen in part"
        n_seen = int((sizes == copies).sum())
        assert sizes[:n_seen].all() and not sizes[n_seen:].any(), "not a prefix of the adds"
        for j in range(n_seen):
            np.testing.assert_array_equal(found[j], np.arange(j * copies, (j + 1) * copies))
        seen.append(n_seen)
        first_search.set()
    thread.join()
    assert seen[0] == 1 and seen[-1] == n_batches


def _multi_batch_search(monkeypatch, n_batches=6):
    """An index whose kNN search of 6 x 16 queries runs in ``n_batches`` batches."""
    monkeypatch.setattr(_search, "BATCH_COMPARISONS", 16 * 3000)
    monkeypatch.setattr(_search, "MIN_BATCH_PER_THREAD", 1)
    monkeypatch.setattr(_search, "BATCH_SECONDS", 0)  # batches of 16, not grown
    rng = np.random.default_rng(0)
    index = HammingIndex(backend="numpy").fit(rng.integers(0, 2, (3000, 64)))
    return index, rng.integers(0, 2, (16 * n_batches, 64))


def test_ctrl_c_stops_a_search_between_batches(monkeypatch):
    index, queries = _multi_batch_search(monkeypatch)
    want = index.kneighbors(queries, 5)
    calls = []
    real = _numpy_search.knn_search

    def batch_then_ctrl_c(*args, **kwargs):
        calls.append(len(args[0]))
        result = real(*args, **kwargs)
        if len(calls) == 2:  # Ctrl-C pressed while the second batch ran
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(_numpy_search, "knn_search", batch_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        index.kneighbors(queries, 5)
    assert calls == [16, 16]  # the four other batches never ran
    monkeypatch.setattr(_numpy_search, "knn_search", real)
    for got, expected in zip(index.kneighbors(queries, 5), want, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_a_real_sigint_stops_a_search_between_batches(monkeypatch):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT does not raise KeyboardInterrupt here")
    index, queries = _multi_batch_search(monkeypatch, n_batches=40)
    calls = []
    real = _numpy_search.knn_search
    main = threading.main_thread().ident

    def batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the signal arrives from another thread while this batch runs
            sender = threading.Thread(target=signal.pthread_kill, args=(main, signal.SIGINT))
            sender.start()
            sender.join()
        return real(*args, **kwargs)

    monkeypatch.setattr(_numpy_search, "knn_search", batch)
    with pytest.raises(KeyboardInterrupt):
        index.kneighbors(queries, 5)
    assert 2 <= len(calls) < 40


def test_joblib_mmap_load_is_exact_and_copy_on_write(tmp_path):
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 2, (20_000, 64), dtype=np.uint8)
    ids = rng.choice(10**9, size=20_000, replace=False)
    index = HammingIndex(backend="mih").fit(codes, ids=ids)
    queries = codes[:50].copy()
    queries[:, :2] ^= 1
    want_knn, want_radius = index.kneighbors(queries, 7), index.radius_neighbors(queries, 3)
    path = tmp_path / "index.joblib"
    joblib.dump(index, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    loaded = joblib.load(path, mmap_mode="r")
    database = loaded._db
    for array in (database.codes.blocks, database.ids, database._tables.order):
        assert isinstance(array, np.memmap) or isinstance(array.base, np.memmap)
        assert not array.flags.writeable
    for got, want in zip(loaded.kneighbors(queries, 7), want_knn, strict=True):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(loaded.radius_neighbors(queries, 3), want_radius, strict=True):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
    # changes work on copies in memory; the file is never written
    loaded.add(codes[:3], ids=[-1, -2, -3])
    loaded.remove(ids[:10])
    assert loaded.n_indexed_ == 20_000 - 7
    np.testing.assert_array_equal(loaded.kneighbors(codes[:3], 1)[1].ravel(), [-1, -2, -3])
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    again = joblib.load(path, mmap_mode="r")
    assert again.n_indexed_ == 20_000 and again._db._tables is not None


def test_a_memory_mapped_index_takes_no_private_memory(tmp_path):
    """In a fresh process: loading a 48 MB index and searching it grows the private
    (anonymous) memory by a small fraction of the file: the pages are the file's."""
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc/self/status")
    rng = np.random.default_rng(0)
    words = rng.integers(0, 2**63, size=(2_000_000, 2), dtype=np.uint64)
    index = HammingIndex(backend="numpy", memory_budget=2**20)
    index.fit(words, packed=True, ids=np.arange(2_000_000))
    path = tmp_path / "index.joblib"
    joblib.dump(index, path)
    size_kib = path.stat().st_size // 1024
    script = textwrap.dedent(
        f"""
        import joblib, numpy as np
        import skhash.index

        def rss_anon_kib():
            for line in open("/proc/self/status"):
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])

        before = rss_anon_kib()
        index = joblib.load({str(path)!r}, mmap_mode="r")
        loaded = rss_anon_kib()
        rows = np.arange(0, 50, 7)
        dist, ind = index.kneighbors(index._db.codes.words(rows), 3, packed=True)
        assert (dist[:, 0] == 0).all() and (ind[:, 0] == rows).all()
        print(loaded - before, rss_anon_kib() - before)
        """
    )
    env = {**os.environ, "PYTHONPATH": ROOT}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr[-3000:]
    after_load, after_search = map(int, out.stdout.split())
    assert after_load < size_kib / 20
    assert after_search < size_kib / 4  # the search's own buffers; the codes stay shared


def test_small_searches_compile_nothing(tmp_path):
    """A first kNN and radius search on digits-sized codes use the numpy scan: numba is
    not even imported (with an empty numba cache nothing would be compiled either)."""
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        from skhash.index import HammingIndex
        codes = np.random.default_rng(0).integers(0, 2, (1797, 64), dtype=np.uint8)
        index = HammingIndex(n_jobs=2).fit(codes)
        dist, ind = index.kneighbors(n_neighbors=10)
        found = index.radius_neighbors(codes[:300], radius=20, return_distance=False)
        assert ind.shape == (1797, 10) and all(len(f) for f in found)
        print("numba" in sys.modules)
        """
    )
    env = {**os.environ, "PYTHONPATH": ROOT, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "False"


def test_a_fitted_hasher_loads_memory_mapped_and_searches_the_same(tmp_path):
    from sklearn.datasets import load_digits

    from skhash import ITQ

    X, y = load_digits(return_X_y=True)
    itq = ITQ(n_bits=32, random_state=0).fit(X[:1500], y[:1500])
    joblib.dump(itq, tmp_path / "itq.joblib")
    loaded = joblib.load(tmp_path / "itq.joblib", mmap_mode="r")
    assert not loaded.index_._db.codes.blocks.flags.writeable  # mapped, not read in
    for got, want in zip(loaded.kneighbors(X[1500:]), itq.kneighbors(X[1500:]), strict=True):
        np.testing.assert_array_equal(got, want)
    assert loaded.score(X[1500:], y[1500:]) == itq.score(X[1500:], y[1500:])
    loaded.add(X[1500:], y[1500:])  # grows a copy in memory
    assert loaded.index_.n_indexed_ == 1797 and itq.index_.n_indexed_ == 1500


def test_a_shallow_copy_changes_alone():
    """``copy.copy(index)`` then ``add``/``remove``: the original keeps its content (what a
    hasher does to change its index and labels together, swapping both at the end)."""
    import copy

    index = HammingIndex().fit(codes_of(np.arange(100)), ids=np.arange(100))
    grown = copy.copy(index)
    grown.add(codes_of([500, 501]), ids=[500, 501])
    positions = copy.copy(grown).remove([3])
    assert index.n_indexed_ == 100 and grown.n_indexed_ == 102 and list(positions) == [3]
    index.add(codes_of([700]), ids=[700])  # the original grows on its own
    np.testing.assert_array_equal(grown.ids_[-2:], [500, 501])
    np.testing.assert_array_equal(index.ids_[-1:], [700])
    np.testing.assert_array_equal(grown.kneighbors(codes_of([501]), 1)[1], [[501]])


def test_batches_grow_when_they_are_quick(monkeypatch):
    """A search cheaper than its first batch's estimate (a scan's cost) gets larger batches,
    up to four times larger each time, never smaller than the first."""
    index, queries = _multi_batch_search(monkeypatch, n_batches=20)
    monkeypatch.setattr(_search, "BATCH_COMPARISONS", 10 * 3000)  # first batch: 10 queries
    monkeypatch.setattr(_search, "BATCH_SECONDS", 1e9)  # every batch is "quick"
    sizes = []
    real = _numpy_search.knn_search

    def spy(*args, **kwargs):
        sizes.append(len(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(_numpy_search, "knn_search", spy)
    got = index.kneighbors(queries, 5)
    assert sizes == [10, 40, 160, 110]  # 320 queries
    monkeypatch.setattr(_numpy_search, "knn_search", real)
    for g, w in zip(got, index.kneighbors(queries, 5), strict=True):
        np.testing.assert_array_equal(g, w)
