"""PerceptualHash: ImageHash's hashes bit for bit, on every image input, searchable."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from skhash import PerceptualHash
from skhash.index import codes_to_hex

imagehash = pytest.importorskip("imagehash")
skimage_data = pytest.importorskip("skimage.data")
Image = pytest.importorskip("PIL.Image")

_IMAGEHASH = {
    "ahash": imagehash.average_hash,
    "dhash": imagehash.dhash,
    "dhash_vertical": imagehash.dhash_vertical,
    "phash": imagehash.phash,
    "phash_simple": imagehash.phash_simple,
    "whash": imagehash.whash,
}


def _photos():
    """Real 8-bit photos shipped with scikit-image and scikit-learn, grey and colour, of
    various sizes."""
    from sklearn.datasets import load_sample_images

    names = ("astronaut", "camera", "chelsea", "coffee", "coins", "horse", "moon", "page")
    names += ("rocket", "text", "grass", "gravel", "brick", "colorwheel", "cat", "retina")
    photos = []
    for name in names:
        image = getattr(skimage_data, name)()
        if image.dtype != np.uint8:  # horse is boolean
            image = image.astype(np.uint8) * 255
        photos.append(image)
    return photos + list(load_sample_images().images)


PHOTOS = _photos()


def _reference(method, image, size):
    return _IMAGEHASH[method](Image.fromarray(image), hash_size=size).hash.ravel()


@pytest.mark.parametrize("method", sorted(_IMAGEHASH))
@pytest.mark.parametrize("size", [4, 8, 16])
def test_bit_identical_to_imagehash_on_photos(method, size):
    hasher = PerceptualHash(method, hash_size=size).fit([Image.fromarray(p) for p in PHOTOS])
    codes = hasher.transform(PHOTOS)  # a list of arrays of different sizes
    expected = np.array([_reference(method, p, size) for p in PHOTOS], dtype=np.uint8)
    np.testing.assert_array_equal(codes, expected)
    # and as ImageHash's hex strings
    assert list(codes_to_hex(codes)) == [
        str(_IMAGEHASH[method](Image.fromarray(p), hash_size=size)) for p in PHOTOS
    ]


@pytest.mark.parametrize("method", sorted(_IMAGEHASH))
def test_array_forms_give_imagehash_codes(method):
    """(n, H, W, C), (n, C, H, W), (n, H, W) and flat rows all read as the same images."""
    rgb = np.stack([p[:96, :128] for p in PHOTOS if p.ndim == 3 and p.shape[2] == 3])
    grey = np.stack([p[:64, :64] for p in PHOTOS if p.ndim == 2])
    hasher = PerceptualHash(method).fit(rgb)
    expected_rgb = np.array([_reference(method, p, 8) for p in rgb])
    np.testing.assert_array_equal(hasher.transform(rgb), expected_rgb)
    np.testing.assert_array_equal(hasher.transform(rgb.transpose(0, 3, 1, 2)), expected_rgb)
    expected_grey = np.array([_reference(method, p, 8) for p in grey])
    np.testing.assert_array_equal(hasher.transform(grey), expected_grey)
    flat = PerceptualHash(method).fit(grey.reshape(len(grey), -1))
    np.testing.assert_array_equal(flat.transform(grey.reshape(len(grey), -1)), expected_grey)
    # floats on the [0, 1] scale are the same 8-bit images
    np.testing.assert_array_equal(hasher.transform(rgb / 255.0), expected_rgb)


def test_files_and_folders(tmp_path):
    paths = []
    for label, name in enumerate(("cats", "coffee")):
        folder = tmp_path / name
        folder.mkdir()
        photo = skimage_data.chelsea() if label == 0 else skimage_data.coffee()
        for j, crop in enumerate((photo[:200, :300], photo[50:250, 40:300])):
            path = folder / f"{j}.png"
            Image.fromarray(crop).save(path)
            paths.append(str(path))
    expected = np.array([imagehash.phash(Image.open(p)).hash.ravel() for p in paths])
    hasher = PerceptualHash().fit(paths)
    np.testing.assert_array_equal(hasher.transform(paths), expected)
    assert hasher.database_labels_ is None
    by_folder = PerceptualHash().fit(str(tmp_path))
    np.testing.assert_array_equal(by_folder.transform(paths), expected)
    np.testing.assert_array_equal(by_folder.database_labels_, [0, 0, 1, 1])
    # the folder carries its labels to score, as y would
    assert by_folder.score(str(tmp_path)) == by_folder.score(paths, y=[0, 0, 1, 1]) > 0.5
    with pytest.raises(FileNotFoundError, match="missing.png"):
        hasher.transform([os.path.join(tmp_path, "missing.png")])


def test_torch_dataset():
    torch = pytest.importorskip("torch")

    class Photos(torch.utils.data.Dataset):
        def __init__(self):
            self.images = [p[:64, :64] for p in PHOTOS[:6]]
            self.targets = list(range(6))

        def __len__(self):
            return 6

        def __getitem__(self, i):
            image = self.images[i]
            tensor = torch.from_numpy(image if image.ndim == 2 else image.transpose(2, 0, 1))
            return tensor, self.targets[i]

    data = Photos()
    hasher = PerceptualHash("dhash").fit(data)
    expected = np.array([_reference("dhash", p, 8) for p in data.images])
    np.testing.assert_array_equal(hasher.transform(data), expected)
    np.testing.assert_array_equal(hasher.database_labels_, np.arange(6))


def test_import_needs_no_torch():
    code = (
        "import sys, numpy as np, skhash\n"
        "skhash.PerceptualHash().fit(np.zeros((2, 16, 16), np.uint8))\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_search_finds_perturbed_copies():
    """Darker, JPEG-compressed copies find their originals by Hamming search."""
    import io

    crops = np.stack([p[:128, :128] for p in PHOTOS if p.ndim == 3 and p.shape[2] == 3])
    hasher = PerceptualHash("phash", n_jobs=1).fit(crops, y=np.arange(len(crops)))
    queries = []
    for crop in crops:
        buffer = io.BytesIO()
        Image.fromarray((crop * 0.8).astype(np.uint8)).save(buffer, "JPEG", quality=40)
        queries.append(np.asarray(Image.open(buffer)))
    queries = np.stack(queries)
    distances = hasher.hamming_distances(queries)
    own = distances.diagonal()
    assert np.median(own) <= 8 and (own == distances.min(axis=1)).mean() >= 0.75
    nearest, _ = hasher.kneighbors(queries, n_neighbors=1)
    np.testing.assert_array_equal(nearest.ravel(), distances.min(axis=1))
    radius = hasher.radius_neighbors(queries, radius=0, return_distance=False)
    assert all(len(r) <= len(crops) for r in radius)
    assert hasher.score(queries, y=np.arange(len(crops))) > 0.7
    # the embedding's signs are the codes
    np.testing.assert_array_equal(hasher.embed(crops) > 0, hasher.transform(crops) == 1)


def test_invalid_parameters():
    with pytest.raises(ValueError, match="power of two"):
        PerceptualHash("whash", hash_size=6).fit(PHOTOS[:2])
    with pytest.raises(ValueError, match="method"):
        PerceptualHash("md5").fit(np.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match="hash_size"):
        PerceptualHash(hash_size=1).fit(np.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match="channels"):
        PerceptualHash().fit(np.zeros((2, 2, 8, 8)))
    with pytest.raises(ValueError, match="shape"):
        PerceptualHash().fit(np.zeros((2, 2, 8, 8, 8)))


def test_floats_out_of_range_warn():
    with pytest.warns(UserWarning, match=r"\[0, 1\] scale"):
        PerceptualHash().fit(np.random.default_rng(0).uniform(0, 255, (2, 8, 8)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PerceptualHash().fit(np.random.default_rng(0).uniform(0, 1, (2, 8, 8)))


@parametrize_with_checks([PerceptualHash(), PerceptualHash("dhash", hash_size=4)])
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Float images are read")
        check(estimator)
