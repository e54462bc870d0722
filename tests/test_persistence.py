"""skhash's own file format: round trips, damaged and foreign files, atomic replacement."""

import contextlib
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import warnings
import zipfile

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_digits

import skhash
from skhash import ITQ, LSH, FileFormatError, KMeansHashing, PCAHashing, SpectralHashing
from skhash._persistence import _data_offset
from skhash.index import HammingIndex

CLASSIC = [LSH, PCAHashing, ITQ, SpectralHashing, KMeansHashing]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X, y


@contextlib.contextmanager
def pickle_refused():
    """Any use of pickle inside the block fails the test (only around save and load: the
    searches after them may load numba's cache, whose index numba pickles)."""

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pickle, "loads", refuse)
        patch.setattr(pickle, "load", refuse)
        patch.setattr(pickle, "Unpickler", refuse)
        patch.setattr(pickle, "dump", refuse)
        patch.setattr(pickle, "dumps", refuse)
        yield


def _same_search(a, b, X):
    da, ia = a.kneighbors(X, n_neighbors=5)
    db, ib = b.kneighbors(X, n_neighbors=5)
    np.testing.assert_array_equal(da, db)
    np.testing.assert_array_equal(ia, ib)


# -- round trips -------------------------------------------------------------------------
@pytest.mark.parametrize("cls", CLASSIC)
@pytest.mark.parametrize("mmap", [False, True])
def test_classic_round_trip(cls, mmap, digits, tmp_path):
    X, y = digits
    hasher = cls(n_bits=16, random_state=0, rerank="embedding", bit_weights="learn")
    hasher.fit(X[:600], y[:600], ids=np.arange(600) * 7 + 3)
    path = tmp_path / "hasher.skhash"
    with pickle_refused():
        hasher.save(path)
        loaded = skhash.load(path, mmap=mmap)
    assert type(loaded) is cls
    assert loaded.get_params() == hasher.get_params()
    np.testing.assert_array_equal(loaded.transform(X[600:]), hasher.transform(X[600:]))
    np.testing.assert_allclose(loaded.embed(X[600:]), hasher.embed(X[600:]))
    _same_search(loaded, hasher, X[600:700])
    np.testing.assert_array_equal(loaded.index_.ids_, hasher.index_.ids_)
    np.testing.assert_array_equal(loaded.database_labels_, hasher.database_labels_)
    np.testing.assert_array_equal(loaded.database_embedding_, hasher.database_embedding_)
    np.testing.assert_array_equal(loaded.bit_weights_, hasher.bit_weights_)
    assert loaded.score(X[600:700], y[600:700]) == hasher.score(X[600:700], y[600:700])
    if mmap:
        assert isinstance(loaded.index_._db.codes.blocks, np.memmap)
    # the loaded hasher keeps working: add (copies a mapped database) and remove
    loaded.add(X[600:610], y[600:610], ids=np.arange(10) + 10_000)
    loaded.remove([10_000])
    assert loaded.index_.n_indexed_ == 609


def test_sparse_fitted_hasher_round_trip(digits, tmp_path):
    import scipy.sparse as sp

    X, _ = digits
    hasher = ITQ(n_bits=8, random_state=0).fit(sp.csr_matrix(X[:300]))
    hasher.save(tmp_path / "itq")
    loaded = skhash.load(tmp_path / "itq")
    np.testing.assert_array_equal(loaded.transform(sp.csr_matrix(X)), hasher.transform(X))


def _deep_hashers():
    from skhash.deep.testing import tiny_deep_hashers

    return tiny_deep_hashers()


@pytest.mark.parametrize("index", range(11), ids=lambda i: f"deep{i}")
def test_deep_round_trip(index, digits, tmp_path):
    pytest.importorskip("torch")
    hasher = _deep_hashers()[index]
    X, y = digits
    images = X[:96].reshape(-1, 8, 8).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hasher.fit(images, y[:96])
    path = tmp_path / "deep.skhash"
    hasher.save(path)
    with zipfile.ZipFile(path) as zf:
        assert any(n.startswith("blobs/") and n.endswith(".pt") for n in zf.namelist())
    loaded = skhash.load(path)
    assert type(loaded) is type(hasher)
    queries = X[96:160].reshape(-1, 8, 8).astype(np.float32)
    np.testing.assert_array_equal(loaded.transform(queries), hasher.transform(queries))
    np.testing.assert_allclose(loaded.embed(queries), hasher.embed(queries), atol=1e-6)
    _same_search(loaded, hasher, queries)
    assert loaded.history_ == hasher.history_
    assert loaded.device_ == "cpu"
    # and it trains on: a warm start from the loaded network
    loaded.set_params(warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded.fit(images, y[:96])
    assert len(loaded.history_) == len(hasher.history_) + 1


def test_deep_model_fitted_on_gpu_loads_on_cpu(digits, tmp_path):
    """The weights are written as CPU tensors and read with map_location="cpu": a model
    fitted on "cuda" runs on the CPU where there is none, with a warning."""
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from skhash.deep import DSBH
    from skhash.deep.testing import TINY_SETTINGS

    X, y = digits
    images = X[:64].reshape(-1, 8, 8).astype(np.float32)
    hasher = DSBH(n_bits=4, channels=(4, 4, 4), hidden=8, **TINY_SETTINGS).fit(images, y[:64])
    hasher.device_ = "cuda:0"  # as a model fitted on a GPU records it
    hasher.set_params(device="cuda")
    hasher.save(tmp_path / "gpu")
    with pytest.warns(UserWarning, match="fitted on 'cuda:0'"):
        loaded = skhash.load(tmp_path / "gpu")
    assert loaded.device_ == "cpu"
    hasher.device_ = "cpu"
    np.testing.assert_array_equal(loaded.transform(images), hasher.transform(images))


@pytest.mark.parametrize("with_ids", [False, True])
@pytest.mark.parametrize("mmap", [False, True])
def test_index_round_trip(with_ids, mmap, tmp_path):
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 2, (1000, 130))
    ids = rng.permutation(10**6)[:1000] if with_ids else None
    index = HammingIndex(backend="numpy", memory_budget=2**20).fit(codes, ids)
    with pickle_refused():
        index.save(tmp_path / "index")
        loaded = HammingIndex.load(tmp_path / "index", mmap=mmap)
    assert loaded.get_params() == index.get_params()
    np.testing.assert_array_equal(loaded.packed_codes_, index.packed_codes_)
    if with_ids:
        np.testing.assert_array_equal(loaded.ids_, ids)
    else:
        assert loaded.ids_ is None
    queries = rng.integers(0, 2, (20, 130))
    for a, b in zip(loaded.kneighbors(queries, 7), index.kneighbors(queries, 7), strict=True):
        np.testing.assert_array_equal(a, b)
    new_ids = [-1, -2] if with_ids else None
    loaded.add(queries[:2], ids=new_ids)
    assert loaded.n_indexed_ == 1002
    assert HammingIndex.load(tmp_path / "index").n_indexed_ == 1000  # the file is untouched


def test_mapped_index_survives_replacement_of_its_file(tmp_path):
    path = tmp_path / "index"
    HammingIndex().fit(np.eye(8, dtype=np.uint8)).save(path)
    mapped = HammingIndex.load(path, mmap=True)
    HammingIndex().fit(np.ones((3, 8), dtype=np.uint8)).save(path)  # replaced by a new file
    assert mapped.n_indexed_ == 8
    np.testing.assert_array_equal(mapped.codes_, np.eye(8))  # the old content, intact
    assert HammingIndex.load(path).n_indexed_ == 3


def test_index_arrays_are_aligned_for_mapping(tmp_path):
    HammingIndex().fit(np.eye(70, dtype=np.uint8), ids=np.arange(70)).save(tmp_path / "i")
    with zipfile.ZipFile(tmp_path / "i") as zf, open(tmp_path / "i", "rb") as f:
        for info in zf.infolist():
            if info.filename.endswith(".npy"):
                start = _data_offset(f, info, "")
                assert start % 64 == 0
                np.lib.format.read_magic(f)
                np.lib.format.read_array_header_1_0(f)
                assert f.tell() % 64 == 0  # the array data itself


def test_empty_index_round_trip(tmp_path):
    index = HammingIndex().fit(np.zeros((0, 12), dtype=np.uint8))
    index.save(tmp_path / "empty")
    for mmap in (False, True):
        loaded = HammingIndex.load(tmp_path / "empty", mmap=mmap)
        assert loaded.n_indexed_ == 0 and loaded.n_bits_ == 12


def test_index_load_refuses_a_hasher(digits, tmp_path):
    X, _ = digits
    LSH(n_bits=8, random_state=0).fit(X).save(tmp_path / "lsh")
    with pytest.raises(FileFormatError, match="holds a LSH, not a HammingIndex"):
        HammingIndex.load(tmp_path / "lsh")


def test_joblib_still_works(digits, tmp_path):
    X, y = digits
    hasher = ITQ(n_bits=8, random_state=0).fit(X, y)
    joblib.dump(hasher, tmp_path / "h.joblib")
    _same_search(joblib.load(tmp_path / "h.joblib"), hasher, X[:20])


# -- what cannot be saved ----------------------------------------------------------------
def test_unfitted_hasher_is_not_saved(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LSH().save(tmp_path / "x")
    assert not os.listdir(tmp_path)


def test_random_state_instance_is_refused(digits, tmp_path):
    X, _ = digits
    hasher = LSH(n_bits=8, random_state=np.random.RandomState(0)).fit(X)
    with pytest.raises(TypeError, match="RandomState instance.*joblib"):
        hasher.save(tmp_path / "x")
    assert not os.listdir(tmp_path)  # nothing written, no temporary left


def test_user_module_and_callables_are_refused(digits, tmp_path):
    torch = pytest.importorskip("torch")
    from skhash.deep import DSBH
    from skhash.deep.testing import TINY_SETTINGS

    X, y = digits
    images = X[:64].reshape(-1, 8, 8).astype(np.float32)

    class Backbone(torch.nn.Module):
        out_features = 8

        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(64, 8)

        def forward(self, x):
            return self.layer(x.flatten(1))

    hasher = DSBH(n_bits=4, backbone=Backbone(), **TINY_SETTINGS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hasher.fit(images, y[:64])
    with pytest.raises(TypeError, match="parameter 'backbone'.*joblib.dump"):
        hasher.save(tmp_path / "x")
    hasher = DSBH(n_bits=4, channels=(4, 4, 4), hidden=8, **TINY_SETTINGS)
    hasher.set_params(lr_schedule=lambda epoch: 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hasher.fit(images, y[:64])
    with pytest.raises(TypeError, match="lr_schedule.*a callable"):
        hasher.save(tmp_path / "x")
    assert not os.listdir(tmp_path)


# -- damaged and foreign files -----------------------------------------------------------
@pytest.fixture
def saved_index(tmp_path):
    path = tmp_path / "index.skhash"
    HammingIndex().fit(np.random.default_rng(0).integers(0, 2, (500, 64))).save(path)
    return path


@pytest.mark.parametrize("keep", [0.0, 0.3, 0.9, 0.999])
def test_truncated_file(saved_index, keep):
    data = saved_index.read_bytes()
    saved_index.write_bytes(data[: int(keep * len(data))])
    match = "empty" if keep == 0 else "damaged or truncated"
    with pytest.raises(FileFormatError, match=match):
        HammingIndex.load(saved_index)


def test_flipped_byte_in_codes_is_caught_without_mmap(saved_index):
    data = bytearray(saved_index.read_bytes())
    with zipfile.ZipFile(saved_index) as zf, open(saved_index, "rb") as f:
        info = zf.getinfo("arrays/HammingIndex.blocks.npy")
        start = _data_offset(f, info, "")
    data[start + 200] ^= 0xFF  # inside the codes
    saved_index.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match="damaged"):
        HammingIndex.load(saved_index)


def _rewrite_array(path, member, change):
    """Rewrite ``path`` with the array ``member`` changed in place by ``change(array)``
    (checksums recomputed: a crafted file, not a damaged one)."""
    with zipfile.ZipFile(path) as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    array = np.load(io.BytesIO(members[member]), allow_pickle=False).copy()
    change(array)
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    members[member] = buffer.getvalue()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_crafted_codes_and_ids_are_refused_without_mmap(tmp_path):
    """What fit guarantees (no bits past n_bits, distinct ids) is checked at load."""
    codes = np.random.default_rng(0).integers(0, 2, (100, 20))
    path = tmp_path / "index.skhash"
    HammingIndex().fit(codes, ids=np.arange(100) * 3).save(path)
    bits, ids = tmp_path / "bits.skhash", tmp_path / "ids.skhash"
    bits.write_bytes(path.read_bytes())
    ids.write_bytes(path.read_bytes())

    def set_bit_25(blocks):
        blocks[0, -1, 0] |= np.uint64(1 << 25)

    _rewrite_array(bits, "arrays/HammingIndex.blocks.npy", set_bit_25)
    with pytest.raises(FileFormatError, match="bits set beyond n_bits=20"):
        HammingIndex.load(bits)

    def repeat_an_id(array):
        array[1] = array[0]

    _rewrite_array(ids, "arrays/HammingIndex.ids.npy", repeat_an_id)
    with pytest.raises(FileFormatError, match="unique.*Damaged"):
        HammingIndex.load(ids)
    assert HammingIndex.load(path).kneighbors(codes[:1], 1)[0][0, 0] == 0


def test_joblib_file_is_named(tmp_path):
    joblib.dump(HammingIndex().fit(np.eye(4)), tmp_path / "old.joblib")
    with pytest.raises(FileFormatError, match="pickle or joblib.*only if you trust"):
        skhash.load(tmp_path / "old.joblib")


def test_npz_and_other_files(tmp_path):
    np.savez(tmp_path / "a.npz", codes=np.eye(3))
    with pytest.raises(FileFormatError, match="without skhash.json"):
        skhash.load(tmp_path / "a.npz")
    (tmp_path / "t.txt").write_text("hello")
    with pytest.raises(FileFormatError, match="not a skhash file"):
        skhash.load(tmp_path / "t.txt")
    with pytest.raises(FileFormatError, match="is a folder"):
        skhash.load(tmp_path)


def _rewrite_manifest(path, change):
    """Rewrite ``path`` with its manifest changed by ``change(manifest)``."""
    with zipfile.ZipFile(path) as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    manifest = json.loads(members["skhash.json"])
    change(manifest)
    members["skhash.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_newer_format_version(saved_index):
    _rewrite_manifest(saved_index, lambda m: m.update(format_version=99))
    with pytest.raises(FileFormatError, match="version 99.*upgrade skhash"):
        HammingIndex.load(saved_index)


def test_foreign_class_is_refused(digits, tmp_path):
    X, _ = digits
    path = tmp_path / "lsh"
    LSH(n_bits=8).fit(X).save(path)
    _rewrite_manifest(path, lambda m: m["object"].update(__estimator__="os.system"))
    with pytest.raises(FileFormatError, match="not one of skhash's: refused"):
        skhash.load(path)


def test_class_aliases_and_shadowed_methods_are_refused(digits, tmp_path):
    X, _ = digits
    path = tmp_path / "lsh"
    LSH(n_bits=8).fit(X).save(path)
    alias = tmp_path / "alias"
    alias.write_bytes(path.read_bytes())
    # skhash.base imports scikit-learn's BaseEstimator: an alias, not a class skhash saves
    _rewrite_manifest(
        alias, lambda m: m["object"].update(__estimator__="skhash.base.BaseEstimator")
    )
    with pytest.raises(FileFormatError, match="alias of another class"):
        skhash.load(alias)

    def shadow_transform(manifest):
        manifest["object"]["attributes"]["transform"] = 1

    _rewrite_manifest(path, shadow_transform)
    with pytest.raises(FileFormatError, match="overrides its 'transform'"):
        skhash.load(path)


def test_shape_in_manifest_must_match(saved_index):
    def change(manifest):
        manifest["arrays"]["HammingIndex.blocks"]["shape"][0] += 1

    _rewrite_manifest(saved_index, change)
    with pytest.raises(FileFormatError, match="the file is damaged"):
        HammingIndex.load(saved_index, mmap=True)


def test_inconsistent_sizes_are_refused(saved_index):
    _rewrite_manifest(saved_index, lambda m: m["object"]["__index__"].update(n_codes=10_000))
    with pytest.raises(FileFormatError, match="10000 codes of 64 bits need"):
        HammingIndex.load(saved_index)


def test_labels_must_match_the_database(digits, tmp_path):
    X, y = digits
    hasher = LSH(n_bits=8, random_state=0).fit(X[:100], y[:100])
    hasher.database_labels_ = y[:99]
    hasher.save(tmp_path / "h")
    with pytest.raises(FileFormatError, match="database_labels_ has 99 rows for 100"):
        skhash.load(tmp_path / "h")


def test_damaged_weights(digits, tmp_path):
    pytest.importorskip("torch")
    from skhash.deep import DSBH
    from skhash.deep.testing import TINY_SETTINGS

    X, y = digits
    images = X[:64].reshape(-1, 8, 8).astype(np.float32)
    DSBH(n_bits=4, channels=(4, 4, 4), hidden=8, **TINY_SETTINGS).fit(images, y[:64]).save(
        tmp_path / "h"
    )
    path = tmp_path / "h"
    with zipfile.ZipFile(path) as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    blob = next(n for n in members if n.startswith("blobs/"))
    members[blob] = members[blob][: len(members[blob]) // 2]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(FileFormatError, match="network weights are damaged"):
        skhash.load(path)


# -- atomic replacement --------------------------------------------------------------------
def test_interrupted_save_keeps_the_old_file(saved_index, monkeypatch):
    old = saved_index.read_bytes()
    writes = []

    def interrupted(fp, array, **kwargs):
        writes.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(np.lib.format, "write_array", interrupted)
    with pytest.raises(KeyboardInterrupt):
        HammingIndex().fit(np.eye(8)).save(saved_index)
    assert writes
    assert saved_index.read_bytes() == old
    assert os.listdir(saved_index.parent) == [saved_index.name]  # no temporary left


_SAVER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from skhash.index import HammingIndex

    path, n = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(1)
    index = HammingIndex().fit(rng.integers(0, 2**63, (n, 2), dtype=np.uint64),
                               ids=np.arange(n), packed=True)
    print("ready", flush=True)
    sys.stdin.readline()
    index.save(path)
    print("saved", flush=True)
    """
)


@pytest.mark.parametrize("delay", [0.0, 0.01, 0.05, 0.15, 0.4])
def test_sigkill_during_save_leaves_old_or_new_file(tmp_path, delay):
    """Kill (SIGKILL) a process while it saves a large index over a small one: the file
    then loads, holding the old index or the new one, never a truncated mix."""
    path = tmp_path / "index.skhash"
    HammingIndex().fit(np.eye(8, dtype=np.uint8), ids=np.arange(8)).save(path)
    n_new = 4_000_000  # 96 MB of codes and ids: the save takes a while
    child = subprocess.Popen(
        [sys.executable, "-c", _SAVER, str(path), str(n_new)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        child.stdin.write("go\n")
        child.stdin.flush()
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    loaded = HammingIndex.load(path)
    assert loaded.n_indexed_ in (8, n_new)
    if loaded.n_indexed_ == 8:
        np.testing.assert_array_equal(loaded.ids_, np.arange(8))
    else:
        np.testing.assert_array_equal(loaded.ids_[-3:], np.arange(n_new - 3, n_new))
    assert HammingIndex.load(path, mmap=True).n_indexed_ == loaded.n_indexed_


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m["object"]["__index__"].update(blocks={"__scalar__": 1, "dtype": "bogus"}),
        lambda m: m["object"]["__index__"].update(blocks={"__nonsense__": 1}),
        lambda m: m["object"]["__index__"].pop("n_bits"),
        lambda m: m["arrays"]["HammingIndex.blocks"].update(dtype="|O"),
        lambda m: m.update(object=[[[[[[[[[[]]]]]]]]]]),
    ],
)
def test_hostile_manifests_give_format_errors(saved_index, change):
    _rewrite_manifest(saved_index, change)
    with pytest.raises(FileFormatError):
        HammingIndex.load(saved_index)


def test_dataframe_feature_names_and_string_labels(digits, tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = digits
    frame = pd.DataFrame(X[:300], columns=[f"pixel{i}" for i in range(64)])
    labels = np.array([f"digit {v}" for v in y[:300]], dtype=object)
    hasher = ITQ(n_bits=8, random_state=0).fit(frame, labels)
    hasher.save(tmp_path / "h")
    loaded = skhash.load(tmp_path / "h")
    np.testing.assert_array_equal(loaded.feature_names_in_, hasher.feature_names_in_)
    np.testing.assert_array_equal(loaded.database_labels_, hasher.database_labels_)
    assert loaded.score(frame[:50], labels[:50]) == hasher.score(frame[:50], labels[:50])
