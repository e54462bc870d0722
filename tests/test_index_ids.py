"""HammingIndex ids, removal, packed input and argument checks, against brute force."""

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from test_index import brute_force, random_codes

from skhash.index import HammingIndex, pack_codes
from skhash.index._mih import MultiIndexHashing
from skhash.index._packing import BlockedCodes

TABLE_ARRAYS = ("order", "offsets", "dir_keys", "kptr", "optr", "widths", "starts")


def brute_knn(database, queries, k):
    """Distances and positions of the k nearest, ties by position."""
    dist, order = brute_force(database, queries)
    return np.take_along_axis(dist, order[:, :k], axis=1), order[:, :k]


def brute_radius(database, queries, radius):
    """Positions within ``radius`` of each query, nearest first, ties by position."""
    dist, order = brute_force(database, queries)
    return [o[d[o] <= radius] for d, o in zip(dist, order, strict=True)]


def assert_searches_match_brute_force(index, codes, ids, queries, k, radius):
    """kNN and radius results of ``index`` equal brute force over ``codes``, as ids."""
    want_d, want_pos = brute_knn(codes, queries, k)
    dist, ind = index.kneighbors(queries, k)
    np.testing.assert_array_equal(dist, want_d)
    np.testing.assert_array_equal(ind, ids[want_pos])
    got = index.radius_neighbors(queries, radius=radius, return_distance=False)
    for g, w in zip(got, brute_radius(codes, queries, radius), strict=True):
        np.testing.assert_array_equal(g, ids[w])


def assert_same_tables(got, want):
    assert got.dense == want.dense
    for name in TABLE_ARRAYS:
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)


@pytest.mark.parametrize("backend", ["numpy", "numba", "mih"])
def test_ids_are_returned_in_place_of_positions(backend):
    rng = np.random.default_rng(0)
    database, queries = random_codes(rng, 300, 20, n_distinct=40), random_codes(rng, 7, 20)
    ids = rng.choice(10**12, size=300, replace=False) - 5 * 10**11  # negative too, no order
    index = HammingIndex(backend=backend).fit(database, ids=ids)
    np.testing.assert_array_equal(index.ids_, ids)
    assert_searches_match_brute_force(index, database, ids, queries, k=25, radius=4)
    np.testing.assert_array_equal(index.positions_of(ids[[5, 0, 299]]), [5, 0, 299])


@pytest.mark.parametrize("backend", ["numpy", "numba", "mih"])
def test_random_adds_and_removals_match_brute_force(backend):
    """Codes and ids after any sequence of adds and removals; MIH tables equal a rebuild."""
    rng = np.random.default_rng(1)
    n_bits = 24
    codes = random_codes(rng, 400, n_bits, n_distinct=150)
    ids = rng.permutation(5000)[:400]
    index = HammingIndex(backend=backend).fit(codes, ids=ids)
    next_id = 5000
    queries = random_codes(rng, 6, n_bits, n_distinct=150)
    for step in range(12):
        if step % 3 == 2:
            more = random_codes(rng, int(rng.integers(1, 90)), n_bits, n_distinct=150)
            new_ids = np.arange(next_id, next_id + len(more))[::-1]
            next_id += len(more)
            index.add(more, ids=new_ids)
            codes, ids = np.vstack([codes, more]), np.concatenate([ids, new_ids])
        else:
            gone = rng.choice(ids, size=int(rng.integers(1, 60)), replace=False)
            positions = index.remove(gone)
            want_positions = np.flatnonzero(np.isin(ids, gone))
            np.testing.assert_array_equal(positions, want_positions)
            codes, ids = np.delete(codes, positions, axis=0), np.delete(ids, positions)
        np.testing.assert_array_equal(index.ids_, ids)
        np.testing.assert_array_equal(index.codes_, codes)
        assert_searches_match_brute_force(index, codes, ids, queries, k=9, radius=3)
        tables = index._db._tables
        if backend == "mih" and tables is not None:  # kept up to date, not rebuilt
            assert_same_tables(tables, MultiIndexHashing(pack_codes(codes), n_bits))
    if backend == "mih":
        assert index._db._tables is not None


@pytest.mark.parametrize("dense", [True, False])
def test_table_updates_equal_a_fresh_build(dense):
    rng = np.random.default_rng(2)
    words = pack_codes(random_codes(rng, 500, 40, n_distinct=60))
    fixed = {"n_substrings": 3, "dense": dense}
    tables = MultiIndexHashing(words[:300], 40, **fixed)
    grown = tables.appended(BlockedCodes(words))
    assert_same_tables(grown, MultiIndexHashing(words, 40, **fixed))
    keep = rng.random(500) < 0.6
    assert_same_tables(grown.removed(keep), MultiIndexHashing(words[keep], 40, **fixed))
    assert_same_tables(
        tables.removed(np.zeros(300, bool)), MultiIndexHashing(words[:0], 40, **fixed)
    )


def test_tables_are_dropped_when_a_rebuild_would_choose_other_widths():
    rng = np.random.default_rng(3)
    words = pack_codes(random_codes(rng, 2000, 64))
    tables = MultiIndexHashing(words[:1000], 64)  # substrings of round(log2(1000)) = 10 bits
    assert tables.appended(BlockedCodes(words[:1100])) is not None
    assert tables.appended(BlockedCodes(words)) is None  # 11 bits at 2,000 codes
    assert tables.removed(np.arange(1000) < 600) is None  # 9 bits at 600 codes
    index = HammingIndex(backend="mih").fit(words[:1000], packed=True)
    index.kneighbors(words[:3], 2, packed=True)
    index.add(words[1000:], packed=True)
    assert index._db._tables is None  # rebuilt at the next search
    np.testing.assert_array_equal(index.kneighbors(words[:3], 1, packed=True)[0], 0)


def test_index_without_ids_removes_positions():
    codes = np.eye(6, dtype=np.uint8)
    index = HammingIndex().fit(codes)
    assert index.ids_ is None
    np.testing.assert_array_equal(index.remove([4, 1, 4]), [1, 4])
    np.testing.assert_array_equal(index.codes_, codes[[0, 2, 3, 5]])
    assert index.remove([]).shape == (0,) and index.n_indexed_ == 4
    with pytest.raises(ValueError, match=r"not in the index: \[4\].*positions in \[0, 4\)"):
        index.remove(4)
    with pytest.raises(ValueError, match="fitted without ids"):
        index.add(codes[:1], ids=[7])


def test_id_errors_are_clear_and_change_nothing():
    codes = np.eye(5, dtype=np.uint8)
    with pytest.raises(ValueError, match=r"unique; repeated: \[3\]"):
        HammingIndex().fit(codes, ids=[3, 1, 3, 0, 2])
    with pytest.raises(ValueError, match="one id per code: 5 codes, but 4"):
        HammingIndex().fit(codes, ids=[0, 1, 2, 3])
    with pytest.raises(TypeError, match="integers"):
        HammingIndex().fit(codes, ids=np.arange(5.0))
    with pytest.raises(TypeError, match="integers"):
        HammingIndex().fit(codes, ids=np.array(["a", "b", "c", "d", "e"]))
    with pytest.raises(ValueError, match="fit in int64"):
        HammingIndex().fit(codes, ids=np.array([2**64 - 1, 0, 1, 2, 3], dtype=np.uint64))
    with pytest.raises(ValueError, match="1-D"):
        HammingIndex().fit(codes, ids=np.zeros((5, 1), int))
    index = HammingIndex().fit(codes, ids=[10, 11, 12, 13, 14])
    with pytest.raises(ValueError, match=r"already in the index: \[12\]"):
        index.add(codes[:2], ids=[99, 12])
    with pytest.raises(ValueError, match="needs ids"):
        index.add(codes[:2])
    with pytest.raises(ValueError, match=r"not in the index: \[7\]"):
        index.remove([10, 7])
    np.testing.assert_array_equal(index.ids_, [10, 11, 12, 13, 14])  # nothing removed
    with pytest.raises(ValueError, match="read-only"):
        index.ids_[0] = 3


def test_add_keeps_ids_ascending_without_a_sort():
    index = HammingIndex().fit(np.zeros((4, 8), np.uint8), ids=np.arange(4))
    index.add(np.ones((3, 8), np.uint8), ids=[4, 5, 6])
    assert index._db.lookup().order is None  # ascending ids: the lookup is the ids
    index.add(np.ones((2, 8), np.uint8), ids=[-1, 100])
    np.testing.assert_array_equal(index.positions_of([-1, 100, 0]), [7, 8, 0])
    assert index.nbytes == index._db.codes.nbytes + 9 * 8 + 9 * 16  # codes, ids, lookup


@pytest.mark.parametrize("n_bits", [5, 8, 64, 70, 130])
def test_packed_bytes_and_words_index_like_bits(n_bits):
    rng = np.random.default_rng(n_bits)
    codes, queries = random_codes(rng, 150, n_bits, n_distinct=30), random_codes(rng, 4, n_bits)
    want = HammingIndex().fit(codes)
    as_bytes = HammingIndex().fit(np.packbits(codes, axis=1), packed=True, n_bits=n_bits)
    as_words = HammingIndex().fit(pack_codes(codes), packed=True, n_bits=n_bits)
    for index in (as_bytes, as_words):
        assert index.n_bits_ == n_bits
        np.testing.assert_array_equal(index.codes_, codes)
        got, expected = index.kneighbors(queries, 20), want.kneighbors(queries, 20)
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(g, e)
    got = as_bytes.kneighbors(np.packbits(queries, axis=1), 20, packed=True)
    np.testing.assert_array_equal(got[1], want.kneighbors(queries, 20)[1])
    as_bytes.add(np.packbits(queries, axis=1), packed=True)
    np.testing.assert_array_equal(as_bytes.codes_[-4:], queries)


def test_packed_input_errors():
    with pytest.raises(ValueError, match="only 0 and 1.*packed=True"):
        HammingIndex().fit(np.array([[3, 255]], dtype=np.uint8))
    with pytest.raises(TypeError, match="uint8 bytes.*uint64 words"):
        HammingIndex().fit(np.array([[3, 1]], dtype=np.int32), packed=True)
    with pytest.raises(ValueError, match="hold codes of 9 to 16 bits; got n_bits=20"):
        HammingIndex().fit(np.zeros((2, 2), np.uint8), packed=True, n_bits=20)
    with pytest.raises(ValueError, match="bits set beyond n_bits=12"):
        HammingIndex().fit(np.array([[0, 0b00001000]], np.uint8), packed=True, n_bits=12)
    with pytest.raises(ValueError, match="bits set beyond n_bits=3"):
        HammingIndex().fit(np.array([[8]], np.uint64), packed=True, n_bits=3)
    index = HammingIndex().fit(np.zeros((2, 16), np.uint8))
    with pytest.raises(ValueError, match="hold codes of 1 to 8 bits; got n_bits=16"):
        index.kneighbors(np.zeros((1, 1), np.uint8), 1, packed=True)


def test_check_input_false_trusts_the_values():
    codes = np.array([[0, 1, 1], [1, 0, 0]], dtype=np.uint8)
    index = HammingIndex().fit(codes * 7, check_input=False)  # nonzero counts as 1
    np.testing.assert_array_equal(index.codes_, codes)
    index.add(codes.astype(float) * 2, check_input=False)
    np.testing.assert_array_equal(index.codes_[2:], codes)
    with pytest.raises(ValueError, match="2-D"):
        HammingIndex().fit(np.zeros(3), check_input=False)  # shapes are always checked


@pytest.mark.parametrize(
    "radius, expected",
    [(np.float32(1), 1), (np.int64(2), 2), (1.9, 1), (10**30, 8), (1e300, 8), (np.inf, 8)],
)
def test_radius_of_any_real_number(radius, expected):
    codes = np.tril(np.ones((9, 8), np.uint8), -1)  # code i has i ones: distance i from 0
    dist, ind = HammingIndex().fit(codes).radius_neighbors(np.zeros((1, 8)), radius=radius)
    np.testing.assert_array_equal(ind[0], np.arange(expected + 1))


@pytest.mark.parametrize(
    "radius, error, match",
    [
        (-1, ValueError, "radius must be a number >= 0; got -1"),
        (-(10**30), ValueError, ">= 0"),
        (-np.inf, ValueError, ">= 0"),
        (np.nan, ValueError, "got nan"),
        ("2", TypeError, "radius must be a number; got '2'"),
        (True, TypeError, "number"),
        (None, TypeError, "number"),
    ],
)
def test_bad_radius(radius, error, match):
    index = HammingIndex().fit(np.eye(4, dtype=np.uint8))
    with pytest.raises(error, match=match):
        index.radius_neighbors(np.eye(4), radius=radius)


@pytest.mark.parametrize(
    "k, error, match",
    [
        (-1, ValueError, "n_neighbors must be >= 1; got -1"),
        (0, ValueError, "got 0"),
        (2**70, ValueError, f"got n_neighbors={2**70}, n_indexed=4"),
        (2.0, TypeError, "integer; got 2.0"),
        (True, TypeError, "integer"),
    ],
)
def test_bad_n_neighbors(k, error, match):
    index = HammingIndex().fit(np.eye(4, dtype=np.uint8))
    with pytest.raises(error, match=match):
        index.kneighbors(np.eye(4), n_neighbors=k)


def test_the_database_by_itself_excludes_each_code():
    rng = np.random.default_rng(4)
    codes = random_codes(rng, 60, 10, n_distinct=12)  # duplicates: self may tie with them
    ids = np.arange(60) * 3 + 1
    index = HammingIndex().fit(codes, ids=ids)
    dist, ind = index.kneighbors(n_neighbors=5)
    want_d, want_pos = brute_knn(codes, codes, 60)
    for i in range(60):
        others = want_pos[i][want_pos[i] != i][:5]
        np.testing.assert_array_equal(ind[i], ids[others])
        np.testing.assert_array_equal(dist[i], want_d[i][want_pos[i] != i][:5])
    radius = index.radius_neighbors(radius=1, return_distance=False)
    for i, got in enumerate(radius):
        want = brute_radius(codes, codes[i : i + 1], 1)[0]
        np.testing.assert_array_equal(got, ids[want[want != i]])
    assert index.kneighbors(n_neighbors=None)[1].shape == (60, 10)
    with pytest.raises(ValueError, match="n_neighbors < n_indexed when querying the database"):
        index.kneighbors(n_neighbors=60)
    np.testing.assert_array_equal(np.diag(index.distances()), 0)


@pytest.mark.parametrize("mode", ["connectivity", "distance"])
def test_kneighbors_graph_columns_are_positions(mode):
    rng = np.random.default_rng(5)
    codes, queries = random_codes(rng, 40, 12), random_codes(rng, 6, 12)
    index = HammingIndex().fit(codes, ids=np.arange(40) + 1000)
    graph = index.kneighbors_graph(queries, n_neighbors=4, mode=mode)
    assert isinstance(graph, csr_matrix) and graph.shape == (6, 40)
    want_d, want_pos = brute_knn(codes, queries, 4)
    for q in range(6):
        row = graph.getrow(q)
        np.testing.assert_array_equal(row.indices, want_pos[q])
        expected = np.ones(4) if mode == "connectivity" else want_d[q]
        np.testing.assert_array_equal(row.data, expected)
    itself = index.kneighbors_graph(n_neighbors=3)
    assert itself.shape == (40, 40) and itself.diagonal().sum() == 0 and itself.nnz == 120
    with pytest.raises(ValueError, match="mode must be"):
        index.kneighbors_graph(queries, mode="weights")


def test_kneighbors_graph_distances_match_scikit_learn():
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(6)
    codes, queries = random_codes(rng, 200, 16), random_codes(rng, 10, 16)
    nn = NearestNeighbors(n_neighbors=5, metric="hamming").fit(codes)
    ours = HammingIndex().fit(codes).kneighbors_graph(queries, n_neighbors=5, mode="distance")
    theirs = nn.kneighbors_graph(queries, mode="distance")  # fractions of the 16 bits
    for q in range(10):  # the same distances (tied neighbours may differ)
        np.testing.assert_allclose(
            np.sort(ours.getrow(q).data), np.sort(theirs.getrow(q).data) * 16
        )
