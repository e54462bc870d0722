"""skhash's file format for composite estimators: CoarseToFine, HashingNeighborsTransformer,
EmbeddingTransformer and HashingPipeline (with scikit-learn steps)."""

import json
import os
import pickle
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.neighbors import KNeighborsTransformer
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import skhash
from skhash import ITQ, LSH, CoarseToFine, FileFormatError, HashingNeighborsTransformer
from skhash.pipeline import EmbeddingTransformer, HashingPipeline, make_hashing_pipeline


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:500], y[:500], X[500:560], y[500:560]


def _load_without_pickle(path, **kwargs):
    """``skhash.load``, with any use of pickle during it failing the test (the searches
    after it may use numba's cache, which pickles its index)."""

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pickle, "loads", refuse)
        patch.setattr(pickle, "load", refuse)
        patch.setattr(pickle, "Unpickler", refuse)
        return skhash.load(path, **kwargs)


def _manifest(path):
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("skhash.json")), zf.namelist()


def _rewrite_manifest(path, change):
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    manifest = json.loads(members["skhash.json"])
    change(manifest)
    members["skhash.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _same_neighbors(a, b, X):
    for args in ((X, 7), (None, 4)):
        da, ia = a.kneighbors(*args)
        db, ib = b.kneighbors(*args)
        np.testing.assert_array_equal(da, db)
        np.testing.assert_array_equal(ia, ib)
    ra, rb = a.radius_neighbors(X, 3), b.radius_neighbors(X, 3)
    for got, want in zip(ra[1], rb[1], strict=True):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(ra[0], rb[0], strict=True):
        np.testing.assert_array_equal(got, want)


# -- round trips ---------------------------------------------------------------------------
@pytest.mark.parametrize("mmap", [False, True])
@pytest.mark.parametrize("candidate_radius", [None, 2])
def test_coarse_to_fine_round_trip(digits, tmp_path, mmap, candidate_radius):
    X, y, Xq, yq = digits
    search = CoarseToFine(
        ITQ(n_bits=8, random_state=0),
        LSH(n_bits=32, random_state=0, rerank="embedding"),
        n_candidates=40,
        candidate_radius=candidate_radius,
    ).fit(X, y)
    path = tmp_path / "search.skhash"
    search.save(path)
    manifest, names = _manifest(path)
    assert manifest["object"]["__estimator__"] == "skhash.coarse_to_fine.CoarseToFine"
    # the two hashers are nested objects, their arrays under their own names
    attributes = manifest["object"]["attributes"]
    assert attributes["coarse_"]["__estimator__"].endswith(".ITQ")
    assert attributes["fine_"]["__estimator__"].endswith(".LSH")
    assert any(n.startswith("arrays/CoarseToFine_attribute_coarse_") for n in names)
    assert any(n.startswith("arrays/CoarseToFine_attribute_fine_") for n in names)

    loaded = _load_without_pickle(path, mmap=mmap)
    assert type(loaded) is CoarseToFine
    assert loaded.get_params(deep=True).keys() == search.get_params(deep=True).keys()
    _same_neighbors(loaded, search, Xq)
    np.testing.assert_array_equal(loaded.transform(Xq), search.transform(Xq))
    assert loaded.score(Xq, yq) == search.score(Xq, yq)
    # and it grows on, as the original does
    loaded.add(Xq[:5], yq[:5])
    search.add(Xq[:5], yq[:5])
    _same_neighbors(loaded, search, Xq)


def test_coarse_to_fine_from_nested_stores_its_model_once(tmp_path):
    pytest.importorskip("torch")
    from skhash.deep import CSQ
    from skhash.deep.testing import TINY_SETTINGS

    X, y = load_digits(return_X_y=True)
    images = (X / 16).astype(np.float32).reshape(-1, 8, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = CSQ(n_bits=16, nested=(4, 8, 16), **TINY_SETTINGS).fit(images[:96], y[:96])
    search = CoarseToFine.from_nested(model, 8, n_candidates=20)
    path = tmp_path / "nested.skhash"
    search.save(path)
    manifest, names = _manifest(path)
    assert sum(n.startswith("blobs/") for n in names) == 1  # one network, not three
    params = manifest["object"]["params"]
    assert params["fine"] == {"__ref__": params["coarse"]["ref"]}

    loaded = _load_without_pickle(path)
    assert loaded.coarse is loaded.fine is loaded.fine_  # one model, as from_nested built it
    assert loaded._nested_bits == 8
    queries = images[96:130]
    _same_neighbors(loaded, search, queries)
    np.testing.assert_array_equal(loaded.transform(queries), search.transform(queries))


@pytest.mark.parametrize("mode", ["distance", "connectivity"])
def test_hashing_neighbors_transformer_round_trip(digits, tmp_path, mode):
    X, y, Xq, _ = digits
    graphs = HashingNeighborsTransformer(ITQ(n_bits=16, random_state=0), n_neighbors=6, mode=mode)
    graphs.fit(X, y)
    path = tmp_path / "graphs.skhash"
    graphs.save(path)
    loaded = _load_without_pickle(path)
    assert type(loaded) is HashingNeighborsTransformer
    assert loaded.n_samples_fit_ == len(X)
    got, want = loaded.transform(Xq), graphs.transform(Xq)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.indptr, want.indptr)
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_array_equal(got.data, want.data)


def test_embedding_transformer_round_trip(digits, tmp_path):
    X, y, Xq, _ = digits
    features = EmbeddingTransformer(ITQ(n_bits=16, random_state=0)).fit(X, y)
    path = tmp_path / "features.skhash"
    features.save(path)
    loaded = _load_without_pickle(path)
    np.testing.assert_array_equal(loaded.transform(Xq), features.transform(Xq))
    assert loaded.get_feature_names_out().tolist() == features.get_feature_names_out().tolist()


def test_pipeline_with_sklearn_steps_round_trip(digits, tmp_path):
    X, y, Xq, yq = digits
    pipe = make_hashing_pipeline(
        StandardScaler(), PCA(n_components=20, random_state=0), ITQ(n_bits=16, random_state=0)
    ).fit(X, y)
    path = tmp_path / "pipe.skhash"
    pipe.save(path)
    manifest, _ = _manifest(path)
    steps = manifest["object"]["params"]["steps"]
    assert [step["__tuple__"][0] for step in steps] == ["standardscaler", "pca", "itq"]
    assert "sklearn_version" in steps[0]["__tuple__"][1]

    loaded = _load_without_pickle(path)
    assert type(loaded) is HashingPipeline
    assert [type(step) for _, step in loaded.steps] == [StandardScaler, PCA, ITQ]
    np.testing.assert_array_equal(loaded[:-1].transform(Xq), pipe[:-1].transform(Xq))
    np.testing.assert_array_equal(loaded.transform(Xq), pipe.transform(Xq))
    _same_neighbors(loaded, pipe, Xq)
    assert loaded.score(Xq, yq) == pipe.score(Xq, yq)


def test_pipeline_of_embedding_then_coarse_to_fine(digits, tmp_path):
    X, y, Xq, _ = digits
    pipe = make_hashing_pipeline(
        EmbeddingTransformer(ITQ(n_bits=24, random_state=0)),
        CoarseToFine(ITQ(n_bits=8, random_state=0), ITQ(n_bits=16, random_state=0)),
    ).fit(X, y)
    path = tmp_path / "pipe.skhash"
    pipe.save(path)
    _same_neighbors(skhash.load(path), pipe, Xq)


def test_sklearn_version_change_warns(digits, tmp_path):
    from sklearn.exceptions import InconsistentVersionWarning

    X, y, _, _ = digits
    path = tmp_path / "pipe.skhash"
    make_hashing_pipeline(StandardScaler(), ITQ(n_bits=8, random_state=0)).fit(X, y).save(path)

    def change(manifest):
        manifest["object"]["params"]["steps"][0]["__tuple__"][1]["sklearn_version"] = "0.1"

    _rewrite_manifest(path, change)
    with pytest.warns(InconsistentVersionWarning, match="StandardScaler"):
        skhash.load(path)


# -- refusals ------------------------------------------------------------------------------
def test_step_with_a_callable_is_refused(digits, tmp_path):
    X, y, _, _ = digits
    pipe = make_hashing_pipeline(FunctionTransformer(np.log1p), ITQ(n_bits=8, random_state=0))
    pipe.fit(X, y)
    with pytest.raises(TypeError, match="step 'functiontransformer'.*callable.*joblib"):
        pipe.save(tmp_path / "pipe.skhash")
    assert not os.listdir(tmp_path)  # nothing written, no temporary left


def test_step_with_non_array_fitted_state_is_refused(digits, tmp_path):
    X, y, _, _ = digits
    pipe = HashingPipeline(
        [
            ("knn", KNeighborsTransformer(n_neighbors=3, algorithm="kd_tree")),
            ("lsh", LSH(n_bits=8, random_state=0)),
        ]
    )
    pipe.fit(X, y)  # the KD-tree it fits is a compiled object, not arrays
    with pytest.raises(TypeError, match="step 'knn'.*joblib"):
        pipe.save(tmp_path / "pipe.skhash")
    assert not os.listdir(tmp_path)


def test_pipeline_cache_folder_is_neither_saved_nor_loaded(digits, tmp_path):
    """A pipeline's ``memory`` names a joblib cache, whose files joblib unpickles on refit:
    a skhash file never points at one, and a crafted file that does is refused."""
    X, y, _, _ = digits
    pipe = make_hashing_pipeline(StandardScaler(), ITQ(n_bits=8, random_state=0)).fit(X, y)
    cached = clone(pipe).set_params(memory=str(tmp_path / "cache")).fit(X, y)
    with pytest.raises(TypeError, match="memory=.*joblib cache"):
        cached.save(tmp_path / "cached.skhash")
    path = tmp_path / "pipe.skhash"
    pipe.save(path)

    def point_at_a_cache(manifest):
        manifest["object"]["params"]["memory"] = str(tmp_path / "crafted")

    _rewrite_manifest(path, point_at_a_cache)
    with pytest.raises(skhash.FileFormatError, match="joblib cache"):
        skhash.load(path)


def test_unfitted_composites_are_not_saved(tmp_path):
    from sklearn.exceptions import NotFittedError

    for estimator in (
        CoarseToFine(LSH(), LSH()),
        HashingNeighborsTransformer(LSH()),
        EmbeddingTransformer(LSH()),
        make_hashing_pipeline(StandardScaler(), LSH()),
    ):
        with pytest.raises(NotFittedError):
            estimator.save(tmp_path / "x")
    assert not os.listdir(tmp_path)


# -- damaged files -------------------------------------------------------------------------
@pytest.fixture
def saved_search(digits, tmp_path):
    X, y, _, _ = digits
    path = tmp_path / "search.skhash"
    CoarseToFine(ITQ(n_bits=8, random_state=0), ITQ(n_bits=16, random_state=0)).fit(X, y).save(
        path
    )
    return path


@pytest.mark.parametrize("keep", [0.3, 0.9])
def test_truncated_composite_file(saved_search, keep):
    data = saved_search.read_bytes()
    saved_search.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(FileFormatError, match="damaged or truncated"):
        skhash.load(saved_search)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda o: o["attributes"].pop("fine_"), "lacks its fitted hashers"),
        (lambda o: o["attributes"].update(coarse_={"__ref__": 7}), "refers"),
        (lambda o: o["attributes"]["coarse_"].update(__estimator__="os.system"), "refused"),
        (
            lambda o: o["attributes"]["coarse_"].update(
                __estimator__="sklearn.utils._testing.MinimalTransformer"
            ),
            "refused",
        ),
        (lambda o: o["attributes"].update(_nested_bits=3), "nested lengths"),
    ],
)
def test_damaged_composite_manifest(saved_search, change, message):
    _rewrite_manifest(saved_search, lambda m: change(m["object"]))
    with pytest.raises(FileFormatError, match=message):
        skhash.load(saved_search)


def test_missing_nested_array(saved_search):
    with zipfile.ZipFile(saved_search) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    victim = next(n for n in members if n.startswith("arrays/CoarseToFine_attribute_fine_"))
    del members[victim]
    with zipfile.ZipFile(saved_search, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(FileFormatError, match="missing"):
        skhash.load(saved_search)
