"""Sharded search on Dask equals one index over all the codes."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

from sklearn.datasets import load_digits  # noqa: E402

from skhash import ITQ, HammingIndex  # noqa: E402
from skhash.distributed import DaskHammingIndex, transform_dask  # noqa: E402


@pytest.fixture(scope="module")
def codes():
    # Few bits and many rows: plenty of ties across shard boundaries.
    return np.random.default_rng(0).integers(0, 2, size=(3000, 12)).astype(np.uint8)


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
    single_dist, single_ind = HammingIndex().fit(codes).radius_neighbors(queries, radius=2)
    dist, ind = (
        DaskHammingIndex()
        .fit(da.from_array(codes, chunks=(500, 12)))
        .radius_neighbors(queries, radius=2)
    )
    for q in range(20):
        np.testing.assert_array_equal(ind[q], single_ind[q])
        np.testing.assert_array_equal(dist[q], single_dist[q])


def test_transform_dask_matches_transform_and_feeds_the_index():
    X, y = load_digits(return_X_y=True)
    itq = ITQ(n_bits=16, random_state=0).fit(X, y)
    X_dask = da.from_array(X, chunks=(400, 64))
    np.testing.assert_array_equal(transform_dask(itq, X_dask).compute(), itq.transform(X))
    index = DaskHammingIndex.from_hasher(itq, X_dask)
    np.testing.assert_array_equal(
        index.kneighbors(itq.transform(X[:5]), n_neighbors=4)[1],
        itq.kneighbors(X[:5], n_neighbors=4)[1],
    )


def test_on_a_distributed_cluster(codes):
    distributed = pytest.importorskip("distributed")
    with distributed.Client(processes=False, n_workers=2, threads_per_worker=1) as client:
        sharded = DaskHammingIndex().fit(da.from_array(codes, chunks=(1000, 12)))
        distributed.wait(distributed.futures_of(sharded.shards_))
        held = sum(len(keys) for keys in client.has_what().values())
        assert held >= 3  # the three shards are held by the workers
        expected = HammingIndex().fit(codes).kneighbors(codes[:10], n_neighbors=5)
        np.testing.assert_array_equal(
            sharded.kneighbors(codes[:10], n_neighbors=5)[1], expected[1]
        )


def test_bad_queries_are_named(codes):
    sharded = DaskHammingIndex().fit(codes)
    with pytest.raises(ValueError, match="bits"):
        sharded.kneighbors(codes[:2, :5])
    with pytest.raises(ValueError, match="n_neighbors"):
        sharded.kneighbors(codes[:2], n_neighbors=5000)
    with pytest.raises(ValueError, match="not fitted"):
        DaskHammingIndex().kneighbors(codes[:2])
