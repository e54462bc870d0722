"""Deep hashers' inputs: arrays in their own dtype, image files, torch Datasets, streamed."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from PIL import Image  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from torch.utils.data import Dataset, TensorDataset  # noqa: E402

from skhash.deep import DSBH, Augmentation, ImageFileDataset  # noqa: E402
from skhash.deep._inputs import pixel_stats  # noqa: E402

TINY = dict(
    channels=(4, 4, 4), hidden=8, max_epochs=1, batch_size=16, device="cpu", random_state=0
)


def tiny(**kwargs):
    return DSBH(n_bits=8, **{**TINY, **kwargs})


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:120] * 15).astype(np.uint8).reshape(-1, 8, 8), y[:120]


@pytest.fixture(scope="module")
def rgb_images():
    rng = np.random.default_rng(0)
    y = np.arange(48) % 3
    base = rng.integers(0, 256, size=(3, 12, 12, 3))
    noise = rng.integers(-20, 21, size=(48, 12, 12, 3))
    return np.clip(base[y] + noise, 0, 255).astype(np.uint8), y  # channels last, uint8


def test_uint8_arrays_are_not_copied_and_match_float_input(digits):
    X, y = digits
    hasher = tiny()
    source = hasher._validate_input(X, reset=True)
    assert source.dataset.array.dtype == np.uint8 and np.shares_memory(source.dataset.array, X)
    a = tiny().fit(X, y)
    b = tiny().fit(X.astype(np.float64), y)  # same pixels: same statistics and codes
    np.testing.assert_allclose(a.channel_mean_, b.channel_mean_, rtol=1e-6)
    np.testing.assert_array_equal(a.transform(X), b.transform(X.astype(np.float32)))


def test_channels_last_images_are_read_as_channels_first(rgb_images):
    X, y = rgb_images
    hasher = tiny().fit(X, y)
    assert hasher.image_shape_ == (3, 12, 12) and hasher.n_features_in_ == 432
    first = np.ascontiguousarray(X.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(hasher.transform(X), hasher.transform(first))
    source = hasher._validate_input(X, reset=False)
    assert np.shares_memory(source.dataset.array, X)  # a transposed view, not a copy


def test_pixel_stats_streamed_equal_numpy(rgb_images):
    X, _ = rgb_images
    source = tiny()._validate_input(X, reset=True)
    mean, std, value_range = pixel_stats(source, batch_size=7)
    pixels = X.transpose(0, 3, 1, 2).astype(np.float64)
    np.testing.assert_allclose(mean, pixels.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(std, pixels.std(axis=(0, 2, 3)), rtol=1e-5)
    assert value_range == (float(X.min()), float(X.max()))
    per_feature, _, _ = pixel_stats(source, batch_size=7, per_feature=True)
    np.testing.assert_allclose(per_feature, pixels.mean(axis=0), rtol=1e-6)


class PairDataset(Dataset):
    """A map-style dataset of (PIL image, label) pairs without a ``targets`` attribute."""

    def __init__(self, images, labels):
        self.images, self.labels_ = images, labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return Image.fromarray(self.images[i]), int(self.labels_[i])


def test_torch_datasets_stream_and_carry_their_labels(rgb_images):
    X, y = rgb_images
    reference = tiny().fit(X, y)
    data = PairDataset(X, y)
    hasher = tiny().fit(data)  # labels read from the items
    np.testing.assert_array_equal(hasher.database_labels_, y)
    np.testing.assert_array_equal(hasher.transform(data), reference.transform(X))
    tensors = TensorDataset(torch.from_numpy(X.transpose(0, 3, 1, 2).copy()), torch.tensor(y))
    np.testing.assert_array_equal(hasher.transform(tensors), hasher.transform(X))
    dist, ind = hasher.kneighbors(data, n_neighbors=3)
    np.testing.assert_array_equal(ind, hasher.kneighbors(X, n_neighbors=3)[1])
    assert hasher.radius_neighbors(data, radius=1)[1].shape == (48,)
    assert hasher.score(data, y) == pytest.approx(hasher.score(X, y))
    assert hasher.score(data) == hasher.score(data, y)  # its own labels
    hasher.add(data)  # labels of the added items come from the dataset too
    assert hasher.index_.n_indexed_ == 96
    np.testing.assert_array_equal(hasher.database_labels_[48:], y)


def test_dict_items_and_targets_attribute(rgb_images):
    X, y = rgb_images

    class HFStyle(Dataset):
        targets = y

        def __len__(self):
            return len(X)

        def __getitem__(self, i):
            return {"image": X[i], "label": y[i]}

    hasher = tiny().fit(HFStyle())
    np.testing.assert_array_equal(hasher.database_labels_, y)
    assert hasher.image_shape_ == (3, 12, 12)


def test_num_workers_give_the_same_model(rgb_images):
    X, y = rgb_images
    a = tiny().fit(PairDataset(X, y))
    b = tiny(num_workers=2).fit(PairDataset(X, y))
    assert [r["train_loss"] for r in a.history_] == [r["train_loss"] for r in b.history_]
    np.testing.assert_array_equal(a.transform(X), b.transform(PairDataset(X, y)))


def test_image_file_dataset_and_path_lists(tmp_path, rgb_images):
    X, y = rgb_images
    paths = []
    for i, image in enumerate(X):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(image).save(paths[-1])
    files = ImageFileDataset(paths, labels=y, image_size=12)
    assert len(files) == 48 and files.image_shape == (3, 12, 12)
    hasher = tiny().fit(files)  # labels from its targets, images decoded batch by batch
    np.testing.assert_array_equal(hasher.database_labels_, y)
    # the files hold the array's pixels: codes equal those of the array, in [0, 1]
    np.testing.assert_array_equal(hasher.transform(paths), hasher.transform(X / 255.0))
    for i in range(12):  # a class-per-subfolder tree of the same files
        (tmp_path / "tree" / f"c{y[i]}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(X[i]).save(tmp_path / "tree" / f"c{y[i]}" / f"{i}.png")
    folder = ImageFileDataset.from_folder(tmp_path / "tree", image_size=12)
    assert folder.classes == ["c0", "c1", "c2"] and len(folder) == 12
    np.testing.assert_array_equal(np.sort(hasher.fit(folder).database_labels_), np.sort(y[:12]))
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{i}.png {y[i]}\n" for i in range(5)))
    listed = ImageFileDataset.from_list(listing, root=tmp_path, image_size=12)
    np.testing.assert_array_equal(listed.targets, y[:5])
    with pytest.raises(FileNotFoundError, match="missing.png"):
        ImageFileDataset([str(tmp_path / "missing.png")])
    with pytest.raises(ValueError, match="2 labels"):
        ImageFileDataset(paths[:3], labels=[0, 1])


def test_dataset_errors_are_clear(rgb_images):
    X, y = rgb_images

    class Ragged(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return torch.zeros(3, 8 + i, 8)

    with pytest.raises(ValueError, match="different shapes"):
        tiny(batch_size=4).fit(Ragged(), [0, 1, 0, 1])

    class Empty(Dataset):
        def __len__(self):
            return 0

    with pytest.raises(ValueError, match="empty"):
        tiny().fit(Empty(), [])

    class Strings(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return "not an image"

    with pytest.raises(TypeError, match="must be images"):
        tiny().fit(Strings(), [0, 1])
    hasher = tiny().fit(X, y)
    with pytest.raises(ValueError, match=r"shape \(3, 8, 8\).*\(3, 12, 12\)"):
        hasher.transform(TensorDataset(torch.zeros(4, 3, 8, 8)))


def test_dates_are_not_numbers():
    X = np.arange(64 * 4).reshape(4, 64).astype("datetime64[s]")
    with pytest.raises(TypeError, match="must hold numbers"):
        tiny().fit(X, [0, 1, 0, 1])


def test_augmentation_acts_on_pixels_before_standardisation():
    g = torch.Generator().manual_seed(0)
    colour = torch.rand(8, 3, 6, 6) * 255
    grey = Augmentation(grayscale=1.0)(colour, g)
    assert torch.allclose(grey[:, 0], grey[:, 1]) and torch.allclose(grey[:, 1], grey[:, 2])
    luma = 0.299 * colour[:, 0] + 0.587 * colour[:, 1] + 0.114 * colour[:, 2]
    assert torch.allclose(grey[:, 0], luma, atol=1e-4)
    bright = Augmentation(brightness=0.5)(colour, g)
    ratio = bright / colour  # one factor per image, the same for every colour
    per_image = ratio.flatten(1)
    assert torch.allclose(per_image, per_image[:, :1].expand_as(per_image), rtol=1e-4)
    assert ((per_image[:, 0] >= 0.5) & (per_image[:, 0] <= 1.5)).all()
    clipped = Augmentation(brightness=0.9)(colour, g, (0.0, 255.0))
    assert clipped.max() <= 255 and clipped.min() >= 0
    flat = torch.full((2, 3, 4, 4), 7.0)
    assert torch.allclose(Augmentation(contrast=0.9)(flat, g), flat)  # contrast keeps the mean


def test_augmentation_changes_training(digits):
    X, y = digits
    plain = tiny(augmentation=None).fit(X, y)
    shifted = tiny(augmentation=Augmentation(crop_padding=2)).fit(X, y)
    assert plain.history_[0]["train_loss"] != shifted.history_[0]["train_loss"]
    assert shifted.augmentation_.crop_padding == 2
