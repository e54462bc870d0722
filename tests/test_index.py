"""Tests for skhash.index: every backend against brute force, ties, add, pickle, errors.

Ids and removal: test_index_ids.py; atomic changes, threads, interrupts, persistence and
cold start: test_index_state.py.
"""

import pickle
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skhash.index import (
    HammingIndex,
    _numba_search,
    _numpy_search,
    _search,
    check_codes,
    hamming_distances,
    pack_codes,
    unpack_codes,
)
from skhash.index._mih import MultiIndexHashing
from skhash.index._mih_plan import substring_widths
from skhash.index._packing import BLOCK_SIZE, BlockedCodes

EXACT_BACKENDS = ["numpy", "numba", "mih"]


def brute_force(database, queries):
    """Distance matrix and, per query, all indices sorted by (distance, index)."""
    dist = (queries[:, None, :] != database[None, :, :]).sum(axis=2).astype(np.int32)
    order = np.argsort(dist, axis=1, kind="stable")
    return dist, order


def random_codes(rng, n, n_bits, n_distinct=None):
    """Random codes; with ``n_distinct`` only that many distinct codes, so many ties."""
    if n_distinct is None:
        return rng.integers(0, 2, size=(n, n_bits), dtype=np.uint8)
    pool = rng.integers(0, 2, size=(n_distinct, n_bits), dtype=np.uint8)
    return pool[rng.integers(0, n_distinct, size=n)]


@st.composite
def search_problems(draw):
    n_bits = draw(st.sampled_from([1, 3, 8, 31, 64, 65, 100, 128, 130, 256]))
    n_db = draw(st.integers(1, 300))
    n_q = draw(st.integers(1, 12))
    distinct = draw(st.sampled_from([None, 1, 3, 17]))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    database = random_codes(rng, n_db, n_bits, distinct)
    queries = random_codes(rng, n_q, n_bits, distinct)
    k = draw(st.integers(1, n_db))
    radius = draw(st.integers(0, min(n_bits, 12)))
    return database, queries, k, radius


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=search_problems())
def test_backends_match_brute_force(backend, problem):
    database, queries, k, radius = problem
    dist, order = brute_force(database, queries)
    index = HammingIndex(backend=backend, n_jobs=2).fit(database)

    got_d, got_i = index.kneighbors(queries, n_neighbors=k)
    assert got_d.dtype == np.int32 and got_i.dtype == np.int64
    np.testing.assert_array_equal(got_i, order[:, :k])
    np.testing.assert_array_equal(got_d, np.take_along_axis(dist, order[:, :k], axis=1))

    got_d, got_i = index.radius_neighbors(queries, radius=radius)
    for q in range(len(queries)):
        expected = order[q][dist[q][order[q]] <= radius]
        np.testing.assert_array_equal(got_i[q], expected)
        np.testing.assert_array_equal(got_d[q], dist[q][expected])
        assert got_d[q].dtype == np.int32 and got_i[q].dtype == np.int64

    np.testing.assert_array_equal(index.distances(queries), dist)


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("n_substrings", [4, 9, 14])
def test_mih_layouts_match_scan(dense, n_substrings):
    rng = np.random.default_rng(n_substrings)
    database = pack_codes(random_codes(rng, 700, 70, n_distinct=300))
    queries = pack_codes(random_codes(rng, 20, 70))
    queries[:10] = database[:10] ^ np.uint64(0b101)
    mih = MultiIndexHashing(database, 70, n_substrings=n_substrings, dense=dense)
    for k in (1, 9, 700):
        for got, want in zip(
            mih.knn_search(queries, database, k),
            _numpy_search.knn_search(queries, database, k),
            strict=True,
        ):
            np.testing.assert_array_equal(got, want)
    for radius in (0, 2, 7, 16):
        got = mih.radius_search(queries, database, radius, memory_budget=4096)
        want = _numpy_search.radius_search(queries, database, radius)
        for g, w in zip(got[0] + got[1], want[0] + want[1], strict=True):
            np.testing.assert_array_equal(g, w)


def test_substring_widths():
    widths = substring_widths(64, 10_000_000)
    assert widths.sum() == 64 and len(widths) == 3 and widths.max() - widths.min() <= 1
    assert substring_widths(256, 2).max() <= 32 and substring_widths(5, 10**9).sum() == 5


def test_ties_by_database_order():
    database = np.array([[1, 1, 0], [0, 0, 0], [1, 1, 0], [0, 0, 1], [1, 1, 0]], np.uint8)
    for backend in EXACT_BACKENDS:
        index = HammingIndex(backend=backend).fit(database)
        dist, ind = index.kneighbors([[1, 1, 0]], n_neighbors=4)
        np.testing.assert_array_equal(ind, [[0, 2, 4, 1]])
        np.testing.assert_array_equal(dist, [[0, 0, 0, 2]])
        ind = index.radius_neighbors([[1, 1, 1]], radius=2, return_distance=False)
        np.testing.assert_array_equal(ind[0], [0, 2, 4, 3])
        dist, ind = index.radius_neighbors([[1, 0, 1]], radius=0)
        assert ind[0].shape == (0,) and dist[0].dtype == np.int32


@pytest.mark.parametrize("backend", ["auto", *EXACT_BACKENDS])
def test_add_then_search(backend):
    rng = np.random.default_rng(0)
    first, second = random_codes(rng, 50, 40), random_codes(rng, 30, 40)
    queries = random_codes(rng, 5, 40)
    index = HammingIndex(backend=backend).fit(first)
    index.kneighbors(queries, n_neighbors=3)  # builds the multi-index tables, if any
    index.add(second)
    assert index.n_indexed_ == 80
    np.testing.assert_array_equal(index.codes_, np.vstack([first, second]))
    dist, order = brute_force(np.vstack([first, second]), queries)
    np.testing.assert_array_equal(index.kneighbors(queries, 80, return_distance=False), order)
    ind = index.radius_neighbors(queries, radius=15, return_distance=False)
    for q in range(5):
        np.testing.assert_array_equal(ind[q], order[q][dist[q][order[q]] <= 15])


def test_empty_database_and_large_k():
    index = HammingIndex().fit(np.zeros((0, 8), np.uint8))
    dist, ind = index.radius_neighbors(np.ones((2, 8), np.uint8), radius=3)
    assert [len(i) for i in ind] == [0, 0]
    with pytest.raises(ValueError, match="n_neighbors <= n_indexed"):
        index.kneighbors(np.ones((1, 8), np.uint8), n_neighbors=1)


def test_numpy_blocks_respect_memory_budget(monkeypatch):
    seen = []
    original = _numpy_search.block_distances

    def spy(query_words, database_words):
        seen.append(len(query_words) * len(database_words) * (8 * query_words.shape[1] + 16))
        return original(query_words, database_words)

    monkeypatch.setattr(_numpy_search, "block_distances", spy)
    rng = np.random.default_rng(0)
    database, queries = random_codes(rng, 3000, 64), random_codes(rng, 40, 64)
    index = HammingIndex(backend="numpy", memory_budget=20_000).fit(database)
    dist, order = brute_force(database, queries)
    np.testing.assert_array_equal(
        index.kneighbors(queries, 5, return_distance=False), order[:, :5]
    )
    index.radius_neighbors(queries, radius=20)
    assert len(seen) > 10 and max(seen) <= 20_000


def test_numba_small_budget_and_overflowing_radius():
    rng = np.random.default_rng(1)
    database, queries = (
        pack_codes(random_codes(rng, 500, 16)),
        pack_codes(random_codes(rng, 9, 16)),
    )
    got = _numba_search.radius_search(queries, database, 16, memory_budget=2048)
    want = _numpy_search.radius_search(queries, database, 16)
    assert all(len(i) == 500 for i in got[1])
    for g, w in zip(got[0] + got[1], want[0] + want[1], strict=True):
        np.testing.assert_array_equal(g, w)
    got = _numba_search.knn_search(queries, database, 500, memory_budget=1024, n_jobs=-1)
    for g, w in zip(got, _numpy_search.knn_search(queries, database, 500), strict=True):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("n_bits", [64, 130, 256])
def test_numba_tiles_chunks_and_batches(monkeypatch, n_bits):
    """Many database tiles, two parallel chunks and several query batches, all exact."""
    monkeypatch.setattr(_numba_search, "_TILE_BYTES", 1024)  # 2 blocks at 64 bits
    rng = np.random.default_rng(n_bits)
    database = pack_codes(random_codes(rng, 1000, n_bits, n_distinct=200))
    queries = pack_codes(random_codes(rng, 23, n_bits, n_distinct=200))
    want = _numpy_search.knn_search(queries, database, 15)
    for budget in (64 * 2**20, 40_000):  # one batch of queries; batches of 4
        got = _numba_search.knn_search(queries, database, 15, memory_budget=budget, n_jobs=2)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
    radius = n_bits // 2 - 4
    got = _numba_search.radius_search(queries, database, radius, n_jobs=2)
    want = _numpy_search.radius_search(queries, database, radius)
    assert sum(len(i) for i in want[1]) > 0
    for g, w in zip(got[0] + got[1], want[0] + want[1], strict=True):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("k", [1, 7, 120, 150])
def test_numba_few_queries_split_the_database(monkeypatch, k):
    """Fewer query groups than threads: database parts searched in parallel, then merged."""
    if _numba_search._n_threads(2) < 2:
        pytest.skip("needs two numba threads")
    monkeypatch.setattr(_numba_search, "_MIN_PART", 64)
    rng = np.random.default_rng(k)
    database = pack_codes(random_codes(rng, 300, 70, n_distinct=12))  # 5 blocks, many ties
    queries = pack_codes(random_codes(rng, 3, 70, n_distinct=12))
    assert _numba_search._n_parts(1, 300, k, n_jobs=2) == 2  # the 2nd part: 108 codes
    want = _numpy_search.knn_search(queries, database, k)
    for budget in (64 * 2**20, 1024):  # a small budget keeps one part
        got = _numba_search.knn_search(queries, database, k, memory_budget=budget, n_jobs=2)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
    assert _numba_search._n_parts(1, 300, k, n_jobs=2, max_parts=0) == 1


@pytest.mark.parametrize("budget", [64 * 2**20, 8192])
def test_numba_few_queries_split_the_database_for_radius(monkeypatch, budget):
    """Radius search over database parts; 8 KiB also sends the busiest queries to a re-run."""
    if _numba_search._n_threads(2) < 2:
        pytest.skip("needs two numba threads")
    monkeypatch.setattr(_numba_search, "_MIN_PART", 64)
    rng = np.random.default_rng(0)
    database = pack_codes(random_codes(rng, 300, 70, n_distinct=12))
    queries = pack_codes(random_codes(rng, 3, 70, n_distinct=12))
    want = _numpy_search.radius_search(queries, database, 33)
    assert max(len(i) for i in want[1]) > 64  # past the first buffer: re-run
    got = _numba_search.radius_search(queries, database, 33, memory_budget=budget, n_jobs=2)
    for g, w in zip(got[0] + got[1], want[0] + want[1], strict=True):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("backend", ["auto", *EXACT_BACKENDS])
def test_no_queries_give_no_results(backend):
    index = HammingIndex(backend=backend).fit(random_codes(np.random.default_rng(0), 90, 70))
    none = np.empty((0, 70), dtype=np.uint8)
    dist, ind = index.radius_neighbors(none, radius=3)
    assert len(dist) == len(ind) == 0
    dist, ind = index.kneighbors(none, 5)
    assert dist.shape == ind.shape == (0, 5)


def test_radius_beyond_the_code_length():
    rng = np.random.default_rng(0)
    database, queries = pack_codes(random_codes(rng, 70, 64)), pack_codes(random_codes(rng, 2, 64))
    for radius in (64, 2**31 - 1, 2**40):
        ind = _numba_search.radius_search(queries, database, radius)[1]
        assert [len(i) for i in ind] == [70, 70]


def test_threads_restored():
    import numba

    before = numba.get_num_threads()
    rng = np.random.default_rng(0)
    HammingIndex(backend="numba", n_jobs=1).fit(random_codes(rng, 20, 8)).kneighbors(
        random_codes(rng, 3, 8), 2
    )
    assert numba.get_num_threads() == before


def test_auto_picks_numpy_for_small_searches_and_mih_only_when_it_may_pay(monkeypatch):
    monkeypatch.setattr(_search, "_compiled", lambda kind: False)  # a fresh process
    monkeypatch.setattr(_search, "_warm_up", lambda: None)
    rng = np.random.default_rng(0)
    index = HammingIndex().fit(random_codes(rng, 100_000, 64))
    database = index._db

    def pick(kind, arg, n_queries=1000):
        return _search.backend_name(database, kind, n_queries, arg)

    assert pick("radius", 0, n_queries=99) == "numpy"  # under 10**7 comparisons
    assert pick("knn", 5, n_queries=99) == "numpy"
    assert pick("radius", 0) == "mih" and pick("knn", 1) == "mih"
    assert pick("radius", 20) == "numba" and pick("knn", 1000) == "numba"
    assert pick("distances", None) == "numba"
    small = HammingIndex().fit(random_codes(rng, 50_000, 64))
    assert _search.backend_name(small._db, "radius", 1000, 0) == "numba"
    assert _search.backend_name(None, "distances", 1, None, "mih") == "numba"


def test_auto_small_searches_use_numba_once_compiled_or_warmed_up(monkeypatch):
    rng = np.random.default_rng(0)
    index = HammingIndex(backend="numba").fit(random_codes(rng, 10_000, 64))
    index.radius_neighbors(random_codes(rng, 4, 64), 3)  # compiles the radius kernel
    assert _search.backend_name(index._db, "radius", 10, 3) == "numba"  # compiled: use it
    # a fresh process: small searches are numpy's, and start loading the kernels
    warm = {"started": False, "ready": set(), "lock": threading.Lock()}
    monkeypatch.setattr(_search, "_warm", warm)
    monkeypatch.setattr(_search, "_numpy_comparisons", [0])
    monkeypatch.setattr(_search, "SMALL_SEARCH_TOTAL", 3 * 10**6)
    real_compiled = _search._compiled
    monkeypatch.setattr(_search, "_compiled", lambda kind: kind in warm["ready"])
    # 10**6 comparisons each on 10,000 codes (a small database): numpy, and no warm-up
    # until numpy has done 3 * 10**6 of them
    auto = HammingIndex().fit(random_codes(rng, 10_000, 64))
    for _ in range(2):
        assert _search.backend_name(index._db, "knn", 100, 5) == "numpy"
        auto.kneighbors(random_codes(rng, 1, 64))
        assert not warm["started"]
    assert _search.backend_name(index._db, "knn", 100, 5) == "numpy"
    assert not warm["started"]  # started once the search is answered
    auto.kneighbors(random_codes(rng, 1, 64))
    assert warm["started"]
    warm["thread"].join(timeout=600)
    assert warm["ready"] == {"knn", "radius", "distances"}
    assert _search.backend_name(index._db, "knn", 100, 5) == "numba"
    assert _search.backend_name(index._db, "knn", 10_000, 5) == "numba"
    assert all(real_compiled(kind) for kind in ("knn", "radius", "distances"))


@pytest.mark.parametrize("far_first", [False, True])
def test_auto_caps_multi_index_search_and_scans_the_rest(monkeypatch, far_first):
    monkeypatch.setattr(_search, "SMALL_SEARCH", 0)  # no numpy shortcut
    rng = np.random.default_rng(0)
    database = random_codes(rng, 100_000, 64)
    near = database[:40].copy()
    near[:, 0] ^= 1  # one bit from a database code: a cheap multi-index search
    far = random_codes(rng, 40, 64)  # nearest code ~14 bits away: past the cap
    queries = np.vstack([far, near] if far_first else [near, far])
    scan = HammingIndex(backend="numba").fit(database)
    want_knn = scan.kneighbors(queries, 1)
    want_radius = scan.radius_neighbors(queries, radius=3)

    scanned = []
    real_scan = _numba_search.knn_search

    def spy(queries, *args, **kwargs):
        scanned.append(len(queries))
        return real_scan(queries, *args, **kwargs)

    monkeypatch.setattr(_numba_search, "knn_search", spy)
    index = HammingIndex(n_jobs=2).fit(database)
    for got, want in zip(index.kneighbors(queries, 1), want_knn, strict=True):
        np.testing.assert_array_equal(got, want)
    # near first: the 16 trial queries succeed, the 40 far ones give up and are scanned;
    # far first: most of the trial gives up, so the whole batch is scanned at once
    assert scanned == ([80] if far_first else [40])
    for got, want in zip(index.radius_neighbors(queries, radius=3), want_radius, strict=True):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)


def test_auto_keeps_scanning_the_later_batches_once_the_trial_gave_up(monkeypatch):
    monkeypatch.setattr(_search, "SMALL_SEARCH", 0)
    monkeypatch.setattr(_search, "BATCH_COMPARISONS", 100_000 * 40)  # 40 per batch
    monkeypatch.setattr(_search, "MIN_BATCH_PER_THREAD", 1)
    monkeypatch.setattr(_search, "BATCH_SECONDS", 0)
    rng = np.random.default_rng(1)
    database = random_codes(rng, 100_000, 64)
    queries = random_codes(rng, 120, 64)  # far from every code: the trial gives up
    calls = []
    real_capped = MultiIndexHashing.knn_search

    def spy(self, rows, *args, **kwargs):
        calls.append(len(rows))
        return real_capped(self, rows, *args, **kwargs)

    monkeypatch.setattr(MultiIndexHashing, "knn_search", spy)
    index = HammingIndex(n_jobs=2).fit(database)
    got = index.kneighbors(queries, 1)
    assert calls == [16]  # tried once, then the three batches were scanned
    want = HammingIndex(backend="numba").fit(database).kneighbors(queries, 1)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_pickle_round_trip_keeps_tables_and_drops_the_device_copy():
    rng = np.random.default_rng(0)
    database, queries = random_codes(rng, 200, 48), random_codes(rng, 4, 48)
    index = HammingIndex(backend="mih", n_jobs=2).fit(database)
    before = index.kneighbors(queries, 7)
    tables = index._db._tables
    assert tables is not None and index.nbytes == index._db.codes.nbytes + tables.nbytes
    index._db._device = "a GPU copy"
    clone = pickle.loads(pickle.dumps(index))
    assert index._db._device == "a GPU copy"  # pickling leaves the live index as it was
    assert clone._db._device is None
    np.testing.assert_array_equal(clone._db._tables.order, tables.order)
    for a, b in zip(before, clone.kneighbors(queries, 7), strict=True):
        np.testing.assert_array_equal(a, b)
    assert clone.get_params() == index.get_params()


@pytest.mark.parametrize(
    "kwargs, codes, error, match",
    [
        ({}, [[0, 2, 1]], ValueError, "only 0 and 1"),
        ({}, [[0.5, 1.0]], ValueError, "only 0 and 1"),
        ({}, [["a", "b"]], TypeError, "numbers"),
        ({}, [0, 1, 1], ValueError, "2-D"),
        ({"backend": "faiss"}, [[0, 1]], ValueError, "backend"),
        ({"memory_budget": 10}, [[0, 1]], ValueError, "memory_budget"),
    ],
)
def test_bad_fit_inputs(kwargs, codes, error, match):
    with pytest.raises(error, match=match):
        HammingIndex(**kwargs).fit(np.asarray(codes))


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
def test_bad_search_inputs(backend):
    index = HammingIndex(backend=backend).fit(np.eye(4, dtype=np.uint8))
    with pytest.raises(ValueError, match="3 bits, but the index holds 4-bit"):
        index.kneighbors(np.ones((1, 3), np.uint8), 1)
    with pytest.raises(ValueError, match="n_neighbors <= n_indexed"):
        index.kneighbors(np.ones((1, 4), np.uint8), 5)
    with pytest.raises(ValueError, match="n_neighbors must be >= 1"):
        index.kneighbors(np.ones((1, 4), np.uint8), 0)
    with pytest.raises(TypeError, match="n_neighbors must be an integer"):
        index.kneighbors(np.ones((1, 4), np.uint8), 2.0)
    with pytest.raises(ValueError, match="radius must be"):
        index.radius_neighbors(np.ones((1, 4), np.uint8), -1)
    with pytest.raises(ValueError, match="only 0 and 1"):
        index.radius_neighbors(np.full((1, 4), 3), 1)
    with pytest.raises(ValueError, match="3 bits"):
        index.add(np.ones((2, 3), np.uint8))


def test_torch_backend_errors_or_matches():
    rng = np.random.default_rng(0)
    database, queries = random_codes(rng, 60, 70, n_distinct=9), random_codes(rng, 5, 70)
    index = HammingIndex(backend="torch").fit(database)
    try:
        import torch
    except ImportError:
        with pytest.raises(ImportError, match="needs PyTorch"):
            index.kneighbors(queries, 3)
        return
    from skhash.index import _torch_search

    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            index.kneighbors(queries, 3)
    db, q = pack_codes(database), pack_codes(queries)
    for k in (1, 60):
        for got, want in zip(
            _torch_search.knn_search(q, db, k, device="cpu"),
            _numpy_search.knn_search(q, db, k),
            strict=True,
        ):
            np.testing.assert_array_equal(got, want)
    got = _torch_search.radius_search(q, db, 30, memory_budget=2048, device="cpu")
    want = _numpy_search.radius_search(q, db, 30)
    for g, w in zip(got[0] + got[1], want[0] + want[1], strict=True):
        np.testing.assert_array_equal(g, w)
    dist = _torch_search.pairwise_distances(q, db, device="cpu")
    np.testing.assert_array_equal(dist, hamming_distances(queries, database))


def test_torch_backend_keeps_codes_on_the_device(monkeypatch):
    torch = pytest.importorskip("torch")
    from skhash.index import _torch_search

    # the CPU stands in for the GPU: the same tensors and the same code path
    monkeypatch.setattr(_torch_search, "_device", lambda torch, device: torch.device("cpu"))
    rng = np.random.default_rng(0)
    database, queries = random_codes(rng, 90, 130, n_distinct=20), random_codes(rng, 6, 130)
    index = HammingIndex(backend="torch").fit(database)
    want = HammingIndex(backend="numpy").fit(database)
    got, expected = index.kneighbors(queries, 30), want.kneighbors(queries, 30)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g, e)
    device_codes = index._db._device
    assert isinstance(device_codes.words, torch.Tensor) and device_codes.words.dtype == torch.int64
    assert device_codes.words.numel() * 8 == pack_codes(database).nbytes  # no wider copy
    index.radius_neighbors(queries, radius=40)
    assert index._db._device is device_codes  # kept between searches
    assert pickle.loads(pickle.dumps(index))._db._device is None
    assert index._db._device is device_codes  # pickling leaves the live index as it was
    index.add(queries)
    assert index._db._device is None
    np.testing.assert_array_equal(
        index.distances(queries), hamming_distances(queries, np.vstack([database, queries]))
    )


def test_packing_round_trip_and_check_codes():
    rng = np.random.default_rng(0)
    codes = random_codes(rng, 7, 130)
    packed = pack_codes(codes)
    assert packed.shape == (7, 3) and packed.dtype == np.uint64
    np.testing.assert_array_equal(unpack_codes(packed, 130), codes)
    assert check_codes(codes.astype(bool)).dtype == np.uint8
    np.testing.assert_array_equal(
        hamming_distances(codes, codes[:2]), brute_force(codes[:2], codes)[0]
    )


@pytest.mark.parametrize("n", [0, 1, 63, 64, 65, 200])
def test_blocked_layout_round_trip(n):
    words = pack_codes(random_codes(np.random.default_rng(n), n, 130))
    blocked = BlockedCodes(words)
    assert blocked.blocks.shape == (-(-n // BLOCK_SIZE), 3, BLOCK_SIZE) and len(blocked) == n
    np.testing.assert_array_equal(blocked.words(), words)
    for i in range(n):  # blocks[b, w, j] is word w of code 64 b + j
        np.testing.assert_array_equal(blocked.blocks[i // BLOCK_SIZE, :, i % BLOCK_SIZE], words[i])
    more = pack_codes(random_codes(np.random.default_rng(1), 70, 130))
    np.testing.assert_array_equal(blocked.append(more).words(), np.vstack([words, more]))


@pytest.mark.parametrize("layout", ["packed_codes_", "_codes"])
def test_pickles_from_earlier_versions_load(layout):
    codes = random_codes(np.random.default_rng(0), 100, 70)
    index = HammingIndex().fit(codes)
    old_state = {**index.get_params(), "n_bits_": 70, "n_indexed_": 100, "_mih": None}
    words = pack_codes(codes)
    # before the blocked layout: packed rows; then: the blocked codes held by the index
    old_state[layout] = words if layout == "packed_codes_" else BlockedCodes(words)
    old = HammingIndex.__new__(HammingIndex)
    old.__setstate__(old_state)
    for a, b in zip(old.kneighbors(codes[:3], 4), index.kneighbors(codes[:3], 4), strict=True):
        np.testing.assert_array_equal(a, b)
    assert old.n_indexed_ == 100 and old.ids_ is None
    old.add(codes[:5])
    assert old.n_indexed_ == 105


def test_index_memory_is_the_packed_codes():
    codes = random_codes(np.random.default_rng(0), 6400, 128)
    index = HammingIndex().fit(codes)
    index.kneighbors(codes[:3], 5)
    assert index.nbytes == 6400 * 16  # two words per code, nothing else held
    # 6,337 codes: 99 full blocks and one block holding a single code, padded to 64
    assert index.fit(codes[:6337]).nbytes == 100 * 64 * 16
    assert index.fit(codes[:6336]).nbytes == 99 * 64 * 16  # no padding
