"""CIFAR-100's fine classes and superclasses together: ``load_cifar(label_type="both")``.

Small batches in the CIFAR-100 python format are written into a temporary folder.
"""

import pickle

import numpy as np
import pytest

from skhash.datasets import load_cifar
from skhash.metrics import graded_relevance, mean_average_precision

# A fixed superclass for each fine class, as in the real data set (5 fine classes each).
SUPERCLASS = np.random.default_rng(7).permutation(np.repeat(np.arange(20), 5))


def _write(folder, name, fine, *, coarse=None, rng):
    coarse = SUPERCLASS[fine] if coarse is None else coarse
    batch = {
        b"data": rng.integers(0, 256, size=(len(fine), 3072), dtype=np.uint8),
        b"fine_labels": [int(f) for f in fine],
        b"coarse_labels": [int(c) for c in coarse],
    }
    with open(folder / name, "wb") as file:
        pickle.dump(batch, file, protocol=2)


@pytest.fixture
def cifar100(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(0)
    train, test = rng.integers(0, 100, 40), rng.integers(0, 100, 10)
    _write(folder, "train", train, rng=rng)
    _write(folder, "test", test, rng=rng)
    with open(folder / "meta", "wb") as file:
        pickle.dump(
            {
                b"fine_label_names": [f"f{i}".encode() for i in range(100)],
                b"coarse_label_names": [f"c{i}".encode() for i in range(20)],
            },
            file,
        )
    return folder, np.concatenate([train, test])


def test_both_label_types_together(cifar100):
    folder, fine = cifar100
    both = load_cifar(folder, label_type="both")
    np.testing.assert_array_equal(both.target, fine)
    np.testing.assert_array_equal(both.target_coarse, SUPERCLASS[fine])
    np.testing.assert_array_equal(both.target, load_cifar(folder).target)
    np.testing.assert_array_equal(
        both.target_coarse, load_cifar(folder, label_type="coarse").target
    )
    assert both.target_names[3] == "f3" and both.coarse_names[3] == "c3"
    seen = np.unique(fine)
    np.testing.assert_array_equal(both.hierarchy[seen], SUPERCLASS[seen])
    assert (np.delete(both.hierarchy, seen) == -1).all()  # classes absent from the files
    images, target, hierarchy = load_cifar(folder, label_type="both", return_X_y=True)
    assert images.shape == (50, 3, 32, 32)
    np.testing.assert_array_equal(hierarchy, both.hierarchy)


def test_the_hierarchy_feeds_the_metrics(cifar100):
    folder, _ = cifar100
    both = load_cifar(folder, label_type="both")
    y = both.target
    grades = graded_relevance(y[:5], y, hierarchy=both.hierarchy)
    expected = np.where(
        y[:5, None] == y[None, :], 2, (both.target_coarse[:5, None] == both.target_coarse) * 1
    )
    np.testing.assert_array_equal(grades, expected)
    distances = np.random.default_rng(0).integers(0, 9, (5, len(y)))
    coarse_map = mean_average_precision(
        y[:5], y, distances, hierarchy=both.hierarchy, granularity="coarse", tie_aware=True
    )
    assert coarse_map == pytest.approx(
        mean_average_precision(
            both.target_coarse[:5], both.target_coarse, distances, tie_aware=True
        )
    )


def test_inconsistent_superclasses_are_refused(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(0)
    _write(folder, "train", np.array([3, 3]), coarse=np.array([1, 2]), rng=rng)
    _write(folder, "test", np.array([4]), rng=rng)
    with pytest.raises(ValueError, match=r"several superclasses.*\[3\]"):
        load_cifar(folder, label_type="both")
    assert load_cifar(folder).target.tolist() == [3, 3, 4]  # one kind alone still loads


def test_cifar10_has_no_coarse_labels(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), b"labels": [0, 1]}
        with open(folder / name, "wb") as file:
            pickle.dump(batch, file)
    with pytest.raises(ValueError, match="label_type='both' is CIFAR-100's"):
        load_cifar(folder, label_type="both")
