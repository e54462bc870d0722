"""Tests of the file loaders: CIFAR batches, image list files, links in image folders."""

import io
import os
import pickle
import tarfile

import numpy as np
import pytest
from PIL import Image

from skhash.datasets import load_cifar, load_image_folder, load_image_list


# -- CIFAR --------------------------------------------------------------------------------------
def _write_batch(path, data, labels, *, label_key=b"labels", extra=None):
    batch = {b"batch_label": b"test", b"data": data, label_key: list(labels)}
    batch[b"filenames"] = [f"img_{i}.png".encode() for i in range(len(labels))]
    batch.update(extra or {})
    with open(path, "wb") as file:
        pickle.dump(batch, file, protocol=2)


def _cifar10(tmp_path, n_per_batch=3):
    """A small CIFAR-10 folder: 5 training batches and a test batch of ``n_per_batch``."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(6 * n_per_batch, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, 6 * n_per_batch)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for i, name in enumerate(names):
        rows = slice(i * n_per_batch, (i + 1) * n_per_batch)
        _write_batch(folder / name, images[rows].reshape(-1, 3072), labels[rows])
    with open(folder / "batches.meta", "wb") as file:
        names = [f"class{i}".encode() for i in range(10)]
        pickle.dump({b"label_names": names, b"num_vis": 3072}, file, protocol=2)
    return folder, images, labels


def test_load_cifar10_round_trip(tmp_path):
    folder, images, labels = _cifar10(tmp_path)
    cifar = load_cifar(folder)
    assert cifar.images.dtype == np.uint8 and cifar.images.shape == (18, 3, 32, 32)
    np.testing.assert_array_equal(cifar.images, images)  # channel-major rows, train then test
    np.testing.assert_array_equal(cifar.target, labels)
    assert cifar.target_names[3] == "class3"
    assert cifar.subset.tolist() == ["train"] * 15 + ["test"] * 3
    assert cifar.filenames[0] == "img_0.png"
    train_images, train_labels = load_cifar(folder, subset="train", return_X_y=True)
    np.testing.assert_array_equal(train_images, images[:15])
    np.testing.assert_array_equal(load_cifar(folder, subset="test").target, labels[15:])
    # The parent folder and the archive work too.
    np.testing.assert_array_equal(load_cifar(tmp_path).target, labels)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    np.testing.assert_array_equal(load_cifar(archive).images, images)


def test_load_cifar100_fine_and_coarse(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for name, n in (("train", 5), ("test", 2)):
        _write_batch(
            folder / name,
            rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            rng.integers(0, 100, n),
            label_key=b"fine_labels",
            extra={b"coarse_labels": [int(c) for c in rng.integers(0, 20, n)]},
        )
    with open(folder / "meta", "wb") as file:
        pickle.dump(
            {
                b"fine_label_names": [f"f{i}".encode() for i in range(100)],
                b"coarse_label_names": [f"c{i}".encode() for i in range(20)],
            },
            file,
        )
    fine = load_cifar(folder)
    coarse = load_cifar(folder, label_type="coarse")
    assert fine.images.shape == (7, 3, 32, 32)
    assert len(fine.target_names) == 100 and fine.target_names[5] == "f5"
    assert len(coarse.target_names) == 20 and coarse.target.max() < 20
    assert not np.array_equal(fine.target, coarse.target)


def test_load_cifar_refuses_pickles_that_run_code(tmp_path):
    folder, _, _ = _cifar10(tmp_path)

    class RunsCode:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with open(folder / "test_batch", "wb") as file:
        pickle.dump({b"data": RunsCode(), b"labels": [0]}, file)
    with pytest.raises(ValueError, match=r"test_batch.*os|posix\.system|nt\.system"):
        load_cifar(folder)


@pytest.mark.parametrize(
    "batch, match",
    [
        ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, "3072"),
        ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "uint8"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "2 images but 1 labels"),
        ({b"data": np.zeros((2, 3072), np.uint8)}, "no 'labels'"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, "0..9"),
    ],
)
def test_load_cifar_malformed_batches(tmp_path, batch, match):
    folder, _, _ = _cifar10(tmp_path)
    with open(folder / "test_batch", "wb") as file:
        pickle.dump(batch, file)
    with pytest.raises(ValueError, match=match):
        load_cifar(folder)


def test_load_cifar_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_cifar(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="No CIFAR python batches"):
        load_cifar(tmp_path)
    (tmp_path / "notes.txt").write_text("not an archive")
    with pytest.raises(ValueError, match="not a tar archive"):
        load_cifar(tmp_path / "notes.txt")
    folder, _, _ = _cifar10(tmp_path)
    with pytest.raises(ValueError, match="subset"):
        load_cifar(folder, subset="validation")
    with pytest.raises(ValueError, match="CIFAR-100's"):
        load_cifar(folder, label_type="coarse")
    (folder / "data_batch_3").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="data_batch_3"):
        load_cifar(folder)


# -- image list files ---------------------------------------------------------------------------
def _write_list(tmp_path, text, name="list.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_load_image_list_one_hot_and_multi_hot(tmp_path):
    (tmp_path / "img").mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        Image.new("RGB", (4, 4)).save(tmp_path / "img" / name)
    path = _write_list(tmp_path, "img/a.jpg 1 0 0\nimg/b.jpg 0 0 1\n\nimg/c.jpg 0 1 0\n")
    images = load_image_list(path)
    assert [os.path.relpath(p, tmp_path) for p in images.filenames] == [
        os.path.join("img", n) for n in ("a.jpg", "b.jpg", "c.jpg")
    ]
    np.testing.assert_array_equal(images.target, np.eye(3, dtype=np.uint8)[[0, 2, 1]])
    assert images.target_names.tolist() == [0, 1, 2]
    # One-hot rows as class ids, e.g. for StratifiedKFold.
    filenames, target = load_image_list(path, target_type="class_ids", return_X_y=True)
    assert target.tolist() == [0, 2, 1] and len(filenames) == 3
    multi = _write_list(tmp_path, "img/a.jpg 1 1 0\nimg/b.jpg 0 0 1\n", "multi.txt")
    np.testing.assert_array_equal(load_image_list(multi).target, [[1, 1, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match="multi-label"):
        load_image_list(multi, target_type="class_ids")


def test_load_image_list_class_ids_and_root(tmp_path):
    path = _write_list(tmp_path, "x/1.png 3\n/abs/2.png 0\n")
    images = load_image_list(path, root="/data/set", check_files=False, allow_outside_root=True)
    assert images.filenames.tolist() == [os.path.join("/data/set", "x/1.png"), "/abs/2.png"]
    assert images.target.tolist() == [3, 0]
    indicator = load_image_list(
        path, check_files=False, target_type="indicator", allow_outside_root=True
    ).target
    np.testing.assert_array_equal(indicator, [[0, 0, 0, 1], [1, 0, 0, 0]])


@pytest.mark.parametrize(
    "text, error, match",
    [
        ("a.jpg\n", ValueError, "Line 1 .* has no label"),
        ("a.jpg 1 0\nb.jpg x 1\n", ValueError, "Line 2 .* integers"),
        ("a.jpg 1 0\nb.jpg 1 0 0\n", ValueError, "different numbers of labels"),
        ("a.jpg 1 2\nb.jpg 0 1\n", ValueError, "0/1 indicators"),
        ("a.jpg -1\n", ValueError, ">= 0"),
        ("\n\n", ValueError, "lists no image"),
    ],
)
def test_load_image_list_malformed(tmp_path, text, error, match):
    with pytest.raises(error, match=match):
        load_image_list(_write_list(tmp_path, text), check_files=False)


def test_load_image_list_missing_files(tmp_path):
    path = _write_list(tmp_path, "a.jpg 1\nb.jpg 0\n")
    with pytest.raises(FileNotFoundError, match="2 of the 2 images"):
        load_image_list(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image_list(tmp_path / "none.txt")
    with pytest.raises(ValueError, match="target_type"):
        load_image_list(path, target_type="onehot")


# -- image folders: paths without decoding, links -----------------------------------------------
def _classes(root, names=("cat", "dog"), n=3):
    for name in names:
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.new("L", (4, 4), 40 * i).save(root / name / f"{i}.png")
    return root


def test_load_image_folder_paths_without_decoding(tmp_path, monkeypatch):
    root = _classes(tmp_path / "root")
    from skhash.datasets import _images

    def refuse(*args, **kwargs):
        raise AssertionError("decode=False must not read any image")

    monkeypatch.setattr(_images, "load_images", refuse)
    folder = load_image_folder(root, decode=False)
    assert "images" not in folder
    assert folder.target.tolist() == [0, 0, 0, 1, 1, 1]
    assert [os.path.relpath(p, root) for p in folder.filenames] == [
        os.path.join(c, f"{i}.png") for c in ("cat", "dog") for i in range(3)
    ]
    filenames, target = load_image_folder(root, decode=False, return_X_y=True)
    assert filenames.tolist() == folder.filenames.tolist() and target.tolist() == [0] * 3 + [1] * 3


def test_load_image_folder_symlink_loops_and_links_out_of_root(tmp_path):
    # The fuzzing case: 6 files loaded as 126 images through a loop and links leaving root.
    root = _classes(tmp_path / "root")
    outside = _classes(tmp_path / "elsewhere", names=("more",), n=4)
    os.symlink(root, root / "cat" / "loop")  # the root, above the class folder
    os.symlink(root / "dog", root / "dog" / "self")  # the class folder itself
    os.symlink(outside / "more", root / "cat" / "outside")  # a folder out of the root
    os.symlink(outside / "more" / "0.png", root / "dog" / "linked.png")  # a file out of it
    os.symlink(outside, root / "bird")  # a whole class out of the root
    with pytest.warns(UserWarning, match=r"3 symbolic link\(s\) lead out of the root") as record:
        folder = load_image_folder(root, image_size=None, color_mode="grayscale")
    assert "2 link(s) to a folder already read" in str(record[0].message)
    assert len(folder.images) == 6
    assert folder.target_names.tolist() == ["cat", "dog"]
    # Links inside the root are followed, once.
    os.symlink(root / "cat", root / "dog" / "cats")
    with pytest.warns(UserWarning):
        folder = load_image_folder(root, decode=False)
    assert folder.target.tolist() == [0] * 3 + [1] * 6
    # Links out of the root only when asked; loops never.
    with pytest.warns(UserWarning, match="already read"):
        followed = load_image_folder(root, decode=False, symlinks="follow")
    assert followed.target_names.tolist() == ["bird", "cat", "dog"]
    # bird: 4; cat: 3 + outside 4; dog: 3 + linked.png + cats (3 + outside 4).
    assert len(followed.filenames) == 4 + (3 + 4) + (3 + 1 + 3 + 4)
    with pytest.warns(UserWarning, match="are not followed"):
        skipped = load_image_folder(root, decode=False, symlinks="skip")
    assert len(skipped.filenames) == 6
    with pytest.raises(ValueError, match="symlinks"):
        load_image_folder(root, symlinks="never")


def test_load_image_folder_docstring_says_sorted():
    assert "sorted by class" in load_image_folder.__doc__


def test_tar_members_are_read_not_extracted(tmp_path):
    # An archive member named with a path out of the folder is read by its base name only.
    folder, images, _ = _cifar10(tmp_path)
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(folder.iterdir()):
            data = path.read_bytes()
            info = tarfile.TarInfo(f"../../{path.name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    np.testing.assert_array_equal(load_cifar(archive).images, images)
    assert not (tmp_path.parent / "test_batch").exists()
