"""Sharded search on Dask equals one index over all the codes; shards live on the workers."""

import os
import signal
import threading
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

from skhash import ITQ, HammingIndex  # noqa: E402
from skhash.distributed import DaskHammingIndex, transform_dask  # noqa: E402


@pytest.fixture(scope="module")
def codes():
    # Few bits and many rows: plenty of ties across shard boundaries.
    return np.random.default_rng(0).integers(0, 2, size=(3000, 12)).astype(np.uint8)


def assert_same_radius(got, want):
    for g, w in zip(got[0] + got[1], want[0] + want[1], strict=True):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("chunk", [3000, 700, 256])
def test_sharded_kneighbors_equals_single_index(codes, chunk):
    queries = codes[::97]
    single = HammingIndex().fit(codes)
    sharded = DaskHammingIndex().fit(da.from_array(codes, chunks=(chunk, 12)))
    assert len(sharded.shards_) == -(-3000 // chunk)
    for k in (1, 10, 300):
        expected = single.kneighbors(queries, n_neighbors=k)
        got = sharded.kneighbors(queries, n_neighbors=k)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_array_equal(got[1], expected[1])


def test_sharded_radius_equals_single_index(codes):
    queries = codes[:20]
    want = HammingIndex().fit(codes).radius_neighbors(queries, radius=2)
    got = (
        DaskHammingIndex()
        .fit(da.from_array(codes, chunks=(500, 12)))
        .radius_neighbors(queries, radius=np.float32(2.5))
    )
    assert_same_radius(got, want)


def test_many_shards_merge_in_a_tree(codes, monkeypatch):
    """20 shards with a merge fan-in of 3: three levels of merges, the same answer."""
    from skhash import distributed

    monkeypatch.setattr(distributed, "MERGE_FAN_IN", 3)
    single = HammingIndex().fit(codes)
    sharded = DaskHammingIndex().fit(da.from_array(codes, chunks=(150, 12)))
    got, want = sharded.kneighbors(codes[:9], 40), single.kneighbors(codes[:9], 40)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    assert_same_radius(
        sharded.radius_neighbors(codes[:9], 1), single.radius_neighbors(codes[:9], 1)
    )


def test_ids_across_shards_add_and_remove_match_a_single_index(codes):
    rng = np.random.default_rng(1)
    ids = rng.choice(10**9, size=3000, replace=False)
    single = HammingIndex().fit(codes, ids=ids)
    sharded = DaskHammingIndex().fit(
        da.from_array(codes, chunks=(700, 12)), ids=da.from_array(ids, chunks=1000)
    )
    assert sharded.has_ids_
    more, more_ids = codes[:400] ^ 1, np.arange(-400, 0)
    single.add(more, ids=more_ids)
    sharded.add(da.from_array(more, chunks=(150, 12)), ids=more_ids)
    gone = np.concatenate([ids[::7], more_ids[::5]])
    np.testing.assert_array_equal(sharded.remove(gone), single.remove(gone))
    assert sharded.n_indexed_ == single.n_indexed_ == 3400 - len(gone)
    queries = codes[::101]
    for k in (1, 25):
        got, want = sharded.kneighbors(queries, k), single.kneighbors(queries, k)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
    assert_same_radius(sharded.radius_neighbors(queries, 2), single.radius_neighbors(queries, 2))
    with pytest.raises(ValueError, match=r"not in the index: \[-400\]"):
        sharded.remove([-400, ids[1]])  # -400 was removed: nothing changes
    assert sharded.n_indexed_ == single.n_indexed_


def test_index_without_ids_removes_global_positions(codes):
    single = HammingIndex().fit(codes)
    sharded = DaskHammingIndex().fit(da.from_array(codes, chunks=(1000, 12)))
    np.testing.assert_array_equal(sharded.remove([2999, 5, 1000]), [5, 1000, 2999])
    single.remove([2999, 5, 1000])
    np.testing.assert_array_equal(sharded.shard_sizes_, [999, 999, 999])
    got, want = sharded.kneighbors(codes[:5], 30), single.kneighbors(codes[:5], 30)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_values_and_ids_are_checked_when_fit_returns(codes):
    bad = codes.copy()
    bad[2500, 3] = 2  # in the last shard
    with pytest.raises(ValueError, match="only 0 and 1"):
        DaskHammingIndex().fit(da.from_array(bad, chunks=(1000, 12)))
    ids = np.arange(3000)
    ids[2200] = 7  # repeats an id of the first shard
    with pytest.raises(ValueError, match=r"ids must be unique; repeated: \[7\]"):
        DaskHammingIndex().fit(da.from_array(codes, chunks=(1000, 12)), ids=ids)
    index = DaskHammingIndex().fit(codes[:100], ids=np.arange(100))
    with pytest.raises(ValueError, match=r"repeated: \[99\]"):
        index.add(codes[:2], ids=[99, 500])
    assert index.n_indexed_ == 100 and len(index.shards_) == 1


def _raises_if_computed(block):
    raise AssertionError("computed: validation must come first")


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda X, c: transform_dask(ITQ(), X), NotFittedError, "not fitted"),
        (lambda X, c: DaskHammingIndex().fit(X[:, 0]), ValueError, "2-D"),
        (lambda X, c: DaskHammingIndex().fit(X.astype("M8[s]")), TypeError, "dtype"),
        (lambda X, c: DaskHammingIndex(backend="faiss").fit(X), ValueError, "backend"),
        (
            lambda X, c: DaskHammingIndex().fit(X.astype(np.int32), packed=True),
            TypeError,
            "packed",
        ),
        (lambda X, c: DaskHammingIndex().fit(X, ids=np.arange(3)), ValueError, "one id"),
        (lambda X, c: DaskHammingIndex().fit(X, ids=np.zeros(40)), TypeError, "integers"),
        (lambda X, c: c.kneighbors(np.ones((1, 12)), n_neighbors=-1), ValueError, "got -1"),
        (lambda X, c: c.kneighbors(np.ones((1, 5))), ValueError, "5 bits"),
        (lambda X, c: c.radius_neighbors(np.ones((1, 12)), radius="2"), TypeError, "number"),
        (lambda X, c: c.radius_neighbors(np.ones((1, 12)), radius=-3), ValueError, ">= 0"),
        (lambda X, c: c.add(X[:, :5]), ValueError, "5 bits"),
        (lambda X, c: c.add(X, ids=np.arange(40)), ValueError, "without ids"),
        (lambda X, c: DaskHammingIndex().kneighbors(np.ones((1, 12))), ValueError, "fitted"),
    ],
)
def test_entry_points_validate_eagerly(codes, call, error, match):
    """Each bad call fails at once: a block that fails when computed is never computed."""
    X = da.from_array(codes[:40], chunks=(20, 12)).map_blocks(
        _raises_if_computed, dtype=np.uint8, meta=np.empty((0, 12), np.uint8)
    )
    fitted = DaskHammingIndex().fit(codes[:40])
    with pytest.raises(error, match=match):
        call(X, fitted)


def test_transform_dask_checks_the_features_and_feeds_the_index():
    X, y = load_digits(return_X_y=True)
    itq = ITQ(n_bits=16, random_state=0).fit(X, y)
    X_dask = da.from_array(X, chunks=(400, 64))
    with pytest.raises(ValueError, match="X has 10 features, but ITQ was fitted with 64"):
        transform_dask(itq, X_dask[:, :10])
    np.testing.assert_array_equal(transform_dask(itq, X_dask).compute(), itq.transform(X))
    index = DaskHammingIndex.from_hasher(itq, X_dask)
    np.testing.assert_array_equal(
        index.kneighbors(itq.transform(X[:5]), n_neighbors=4)[1],
        itq.kneighbors(X[:5], n_neighbors=4)[1],
    )


# -- a real cluster of worker processes -----------------------------------------------------
N_BITS, CHUNK, N_CHUNKS = 64, 25_000, 4


def _block_codes(block_info=None, pid_dir=None):
    """Codes of one block, made from its row offset (so the test can make them again),
    leaving a file that names the process that made them."""
    start, stop = block_info[None]["array-location"][0]
    if pid_dir is not None:
        open(os.path.join(pid_dir, f"{start}-{os.getpid()}"), "w").close()
    return np.random.default_rng(start).integers(0, 2, (stop - start, N_BITS), dtype=np.uint8)


def _codes_made_on_the_workers(pid_dir=None):
    return da.map_blocks(
        _block_codes,
        pid_dir=pid_dir,
        chunks=((CHUNK,) * N_CHUNKS, (N_BITS,)),
        dtype=np.uint8,
        meta=np.empty((0, N_BITS), np.uint8),
    )


def _the_same_codes_here():
    return np.vstack(
        [
            _block_codes({None: {"array-location": [(s, s + CHUNK)]}})
            for s in range(0, 10**5, CHUNK)
        ]
    )


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        yield cluster


def test_shards_are_built_and_kept_where_their_codes_were_made(cluster, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.Client(cluster) as client:
        sharded = DaskHammingIndex(n_jobs=1).fit(_codes_made_on_the_workers(str(tmp_path)))
        worker_pid = client.run(os.getpid)  # worker address -> process id
        made_by = {
            int(name.split("-")[0]): int(name.split("-")[1]) for name in os.listdir(tmp_path)
        }
        assert sorted(made_by) == [0, CHUNK, 2 * CHUNK, 3 * CHUNK]
        assert set(made_by.values()) <= set(worker_pid.values())
        assert os.getpid() not in made_by.values()  # never made (nor held) in this process
        holders = client.who_has(distributed.futures_of(sharded.shards_))
        for shard, offset in zip(sharded.shards_, sharded.offsets_, strict=True):
            (address,) = holders[distributed.futures_of(shard)[0].key]
            assert worker_pid[address] == made_by[offset]  # built where the block was made
        codes = _the_same_codes_here()
        queries = codes[::5000]
        want = HammingIndex().fit(codes).kneighbors(queries, 10)
        for got, expected in zip(sharded.kneighbors(queries, 10), want, strict=True):
            np.testing.assert_array_equal(got, expected)


def test_a_worker_lost_mid_search_does_not_change_the_answer(cluster):
    """A worker killed (SIGKILL) while it searches: Dask rebuilds its shards elsewhere from
    their blocks and the answer is still exact."""
    distributed = pytest.importorskip("distributed")
    with distributed.Client(cluster) as client:
        sharded = DaskHammingIndex(backend="numpy").fit(_codes_made_on_the_workers())
        codes = _the_same_codes_here()
        queries = np.random.default_rng(5).integers(0, 2, (800, N_BITS), dtype=np.uint8)
        result = {}
        search = threading.Thread(target=lambda: result.update(got=sharded.kneighbors(queries, 5)))
        search.start()
        victim = None
        deadline = time.monotonic() + 60
        while victim is None and time.monotonic() < deadline:
            busy = [
                w
                for w, keys in client.processing().items()
                if any("_shard_knn" in str(k) for k in keys)
            ]
            victim = busy[0] if busy else None
            time.sleep(0.01)
        assert victim is not None and search.is_alive(), "the search was not caught running"
        os.kill(client.run(os.getpid)[victim], signal.SIGKILL)
        search.join(timeout=120)
        assert not search.is_alive()
        want = HammingIndex().fit(codes).kneighbors(queries, 5)
        for got, expected in zip(result["got"], want, strict=True):
            np.testing.assert_array_equal(got, expected)


def test_parameters_as_in_scikit_learn(codes):
    from sklearn.base import clone

    index = DaskHammingIndex(backend="numba", n_jobs=2).fit(codes)
    assert index.get_params() == {"backend": "numba", "n_jobs": 2, "memory_budget": 2**26}
    fresh = clone(index)
    assert fresh.get_params() == index.get_params() and not hasattr(fresh, "shards_")
    fresh.set_params(backend="numpy").fit(codes[:100])
    assert fresh.n_indexed_ == 100
