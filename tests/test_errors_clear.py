"""Regression tests: inputs that used to give obscure errors (or none) get clear ones."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits

from skhash import ITQ, LSH, KMeansHashing, PCAHashing, SpectralHashing
from skhash.index import HammingIndex

CLASSIC = [LSH, PCAHashing, ITQ, SpectralHashing, KMeansHashing]


@pytest.fixture(scope="module")
def X():
    return load_digits().data[:200]


# -- booleans are not counts -----------------------------------------------------------------
@pytest.mark.parametrize("cls", CLASSIC)
@pytest.mark.parametrize("value", [True, False, np.True_])
def test_boolean_n_bits_is_refused(cls, value, X):
    with pytest.raises(ValueError, match="'n_bits' parameter .* must be an int"):
        cls(n_bits=value).fit(X)


@pytest.mark.parametrize("cls", CLASSIC)
def test_boolean_rerank_factor_is_refused(cls, X):
    with pytest.raises(ValueError, match="'rerank_factor' parameter .* must be .*int"):
        cls(n_bits=8, rerank="asymmetric", rerank_factor=True).fit(X)


@pytest.mark.parametrize(
    "cls, param",
    [(ITQ, "n_iter"), (KMeansHashing, "n_iter"), (KMeansHashing, "bits_per_subspace")],
)
def test_boolean_iteration_counts_are_refused(cls, param, X):
    with pytest.raises(ValueError, match=f"'{param}' parameter"):
        cls(n_bits=8, **{param: True}).fit(X)


def test_true_counts_still_work(X):
    assert LSH(n_bits=np.int64(8), rerank_factor=np.int32(3)).fit(X).transform(X).shape[1] == 8


# -- n_jobs ------------------------------------------------------------------------------
@pytest.mark.parametrize("n_jobs", [0, True, 1.5])
def test_index_n_jobs_zero_is_refused_at_fit(n_jobs):
    with pytest.raises(ValueError, match="'n_jobs' parameter .* nonzero int"):
        HammingIndex(n_jobs=n_jobs).fit(np.eye(4))


def test_hasher_n_jobs_zero_is_refused_at_fit(X):
    with pytest.raises(ValueError, match="'n_jobs' parameter"):
        LSH(n_bits=8, n_jobs=0).fit(X)


@pytest.mark.parametrize("n_jobs", [None, 1, 2, -1])
def test_valid_n_jobs(n_jobs):
    index = HammingIndex(n_jobs=n_jobs).fit(np.eye(4))
    assert index.kneighbors(np.eye(4), 1, return_distance=False).ravel().tolist() == [0, 1, 2, 3]


# -- HammingIndex inputs -------------------------------------------------------------------
def test_sparse_codes_are_refused_clearly():
    codes = np.eye(6, dtype=np.uint8)
    with pytest.raises(TypeError, match="dense array.*sparse csr_matrix.*toarray"):
        HammingIndex().fit(sp.csr_matrix(codes))
    index = HammingIndex().fit(codes)
    with pytest.raises(TypeError, match="codes must be a dense array"):
        index.add(sp.csr_matrix(codes))
    with pytest.raises(TypeError, match="query codes must be a dense array"):
        index.kneighbors(sp.csr_matrix(codes), 2)


def test_n_bits_with_unpacked_codes():
    codes = np.random.default_rng(0).integers(0, 2, (10, 20))
    with pytest.raises(ValueError, match=r"n_bits=16, but the codes have 20 columns.*packed=True"):
        HammingIndex().fit(codes, n_bits=16)
    assert HammingIndex().fit(codes, n_bits=20).n_bits_ == 20  # consistent: accepted


# -- datasets ----------------------------------------------------------------------------
def test_load_images_names_a_bad_paths_argument():
    from skhash.datasets import load_images

    with pytest.raises(TypeError, match="paths must be a path or a sequence .* got int 3"):
        load_images(3)
    with pytest.raises(TypeError, match="paths must hold paths .* got int 3"):
        load_images([3])


def test_load_cifar_names_the_missing_batch(tmp_path):
    import pickle

    from skhash.datasets import load_cifar

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in (1, 2, 4, 5)] + ["test_batch"]:
        batch = {
            b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8),
            b"labels": [0, 1],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(FileNotFoundError, match="incomplete: missing data_batch_3"):
        load_cifar(folder)
    with pytest.raises(FileNotFoundError, match="missing data_batch_3"):
        load_cifar(tmp_path)  # its parent


def test_load_image_list_stays_inside_root(tmp_path):
    from skhash.datasets import load_image_list

    root = tmp_path / "data"
    root.mkdir()
    for text in ["../secret.jpg 1\n", "a/../../secret.jpg 1\n", "/etc/passwd 1\n"]:
        (root / "list.txt").write_text("ok/a.jpg 0\n" + text)
        with pytest.raises(ValueError, match="Line 2 .* outside root.*allow_outside_root=True"):
            load_image_list(root / "list.txt", check_files=False)
        filenames, _ = load_image_list(
            root / "list.txt", check_files=False, allow_outside_root=True, return_X_y=True
        )
        assert len(filenames) == 2
    (root / "list.txt").write_text("a/../b/c.jpg 0\n./d.jpg 1\n")  # inside: fine
    filenames, _ = load_image_list(root / "list.txt", check_files=False, return_X_y=True)
    assert len(filenames) == 2
    with pytest.raises(TypeError, match="allow_outside_root must be a bool"):
        load_image_list(root / "list.txt", check_files=False, allow_outside_root="yes")


# -- deep training that diverges ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["CSQ", "DAHP"])
def test_huge_lr_gives_the_nan_message(name):
    pytest.importorskip("torch")
    import importlib

    module = importlib.import_module(f"skhash.deep._{name.lower()}")
    hasher = module._tiny_instance().set_params(lr=1e12, max_epochs=3)
    X, y = load_digits(return_X_y=True)
    images = X[:128].reshape(-1, 8, 8).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(FloatingPointError, match="training loss became nan .* lower lr"):
            hasher.fit(images, y[:128])
    assert not hasattr(hasher, "module_")  # the failed fit left the hasher unfitted


def test_other_loss_errors_are_not_renamed(monkeypatch):
    """Only a loss error on nan outputs becomes the divergence message."""
    pytest.importorskip("torch")
    from skhash.deep import DSBH
    from skhash.deep.testing import TINY_SETTINGS

    def broken(self, outputs, batch):
        raise RuntimeError("a bug in the loss")

    monkeypatch.setattr(DSBH, "_loss", broken)
    X, y = load_digits(return_X_y=True)
    hasher = DSBH(n_bits=4, channels=(4, 4, 4), hidden=8, **TINY_SETTINGS)
    with pytest.raises(RuntimeError, match="a bug in the loss"):
        hasher.fit(X[:64].reshape(-1, 8, 8), y[:64])
