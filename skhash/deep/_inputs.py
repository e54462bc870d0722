"""What deep hashers read: arrays, image files and torch Datasets, streamed in batches.

Every input becomes an :class:`ImageSource`: a map-style :class:`torch.utils.data.Dataset`
of ``n`` images of one shape ``(C, H, W)``, read in batches by a
:class:`~torch.utils.data.DataLoader` (decoding in ``num_workers`` processes when asked).
Nothing holds a float copy of the whole set: arrays stay in their own dtype (uint8 stays
uint8) until a batch is formed, files are decoded batch by batch, and a batch is converted to
float32, augmented and standardised on the device (:class:`Preprocessing`).

Array forms:

- ``(n, C, H, W)`` images, and ``(n, H, W, C)`` channels-last ones with C in 1, 3 or 4
  (detected when the second axis cannot be channels: transposed as a view, not copied);
- ``(n, H, W)`` one-channel images;
- flat ``(n, d)`` rows, reshaped to ``image_shape`` when given; with ``image_shape=None`` a
  perfect-square ``d = s * s`` is read as a one-channel ``s x s`` image, any other ``d`` as a
  ``1 x 1 x d`` strip (so tabular data flows through the networks).
"""

import math
import os

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..utils._image_input import (
    channels_first,
    infer_image_shape,
    is_path_list,
    split_item,
    to_image_shape,
)

__all__ = [
    "ImageFileDataset",
    "ImageSource",
    "Preprocessing",
    "channels_first",
    "image_to_tensor",
    "infer_image_shape",
    "is_path_list",
    "pixel_stats",
    "split_item",
    "to_image_shape",
]


# -- single images -------------------------------------------------------------------------
def image_to_tensor(image):
    """One image (PIL image, array or tensor; ``(H, W)``, ``(C, H, W)`` or ``(H, W, C)``) as a
    ``(C, H, W)`` tensor, uint8 kept as uint8 and anything else as float32."""
    if hasattr(image, "getbands"):  # a PIL image
        image = np.asarray(image)
        if image.ndim == 3:
            image = image.transpose(2, 0, 1)
    if isinstance(image, np.ndarray):
        if image.dtype.kind not in "biuf":
            raise TypeError(f"Images must hold numbers; got an array of dtype {image.dtype}.")
        tensor = torch.from_numpy(np.ascontiguousarray(image))
    elif torch.is_tensor(image):
        tensor = image.detach().cpu()
    else:
        raise TypeError(
            "Dataset items must be images (PIL images, arrays or tensors), or (image, label) "
            f"pairs; got {type(image).__name__}."
        )
    if tensor.ndim == 2:
        tensor = tensor[None]
    elif tensor.ndim == 3 and tensor.shape[0] not in (1, 3, 4) and tensor.shape[2] in (1, 3, 4):
        tensor = tensor.permute(2, 0, 1)
    if tensor.ndim != 3:
        raise ValueError(f"An image must be 2-D or 3-D; got shape {tuple(tensor.shape)}.")
    if tensor.dtype == torch.bool:
        return tensor.to(torch.uint8)
    return tensor if tensor.dtype == torch.uint8 else tensor.float()


def _label_value(label):
    if torch.is_tensor(label):
        label = label.detach().cpu().numpy()
    return np.asarray(label)


# -- datasets ------------------------------------------------------------------------------
class _ArrayImages(Dataset):
    """An ``(n, C, H, W)`` array (any numeric dtype) as a dataset of ``(image, index)``,
    fetched a batch at a time (``__getitems__``): one fancy index and one conversion."""

    def __init__(self, array):
        self.array = array

    def __len__(self):
        return len(self.array)

    def _convert(self, block):
        if block.dtype == np.uint8:
            return torch.from_numpy(np.ascontiguousarray(block))
        if block.dtype == np.bool_:
            return torch.from_numpy(block.astype(np.uint8))
        return torch.from_numpy(np.ascontiguousarray(block, dtype=np.float32))

    def __getitem__(self, i):
        return self._convert(self.array[i]), i

    def __getitems__(self, indices):
        index = np.asarray(indices, dtype=np.int64)
        return self._convert(self.array[index]), torch.from_numpy(index)


class _DatasetImages(Dataset):
    """A user's map-style dataset as a dataset of ``(image tensor, index)``."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        return image_to_tensor(split_item(self.dataset[i])[0]), i


class ImageFileDataset(Dataset):
    """Image files as a map-style :class:`torch.utils.data.Dataset`, decoded one at a time.

    Give it to any deep hasher's ``fit``, ``transform``, ``add``, ``kneighbors`` or ``score``
    to stream a collection that does not fit in memory; lists of paths are read through it.
    Items are ``(image, label)`` when ``labels`` is given, else the image alone, each image a
    float32 tensor ``(C, H, W)`` with values in [0, 1]
    (see :func:`skhash.datasets.load_images` for how files are read).

    Parameters
    ----------
    paths : sequence of str or path-like
        The image files.
    labels : array-like of shape (n_images,) or (n_images, n_classes), default=None
        Their labels.
    image_size : int or (height, width), default=(32, 32)
        Size every image is resized to.
    color_mode : {"rgb", "grayscale"}, default="rgb"
    interpolation : {"nearest", "bilinear", "bicubic", "lanczos"}, default="bilinear"

    Attributes
    ----------
    targets : ndarray or None
        The labels (torchvision's name, which deep hashers read instead of decoding images).

    Examples
    --------
    >>> import os, tempfile
    >>> from PIL import Image
    >>> from skhash.deep import ImageFileDataset
    >>> folder = tempfile.mkdtemp()
    >>> paths = [os.path.join(folder, f"{i}.png") for i in range(3)]
    >>> for i, path in enumerate(paths):
    ...     Image.new("RGB", (20, 10), (80 * i, 0, 0)).save(path)
    >>> data = ImageFileDataset(paths, labels=[0, 1, 1], image_size=8)
    >>> image, label = data[2]
    >>> tuple(image.shape), int(label)
    ((3, 8, 8), 1)
    """

    def __init__(
        self,
        paths,
        labels=None,
        *,
        image_size=(32, 32),
        color_mode="rgb",
        interpolation="bilinear",
    ):
        from ..datasets._images import _check_color_mode, _check_image_size, _check_interpolation

        if isinstance(paths, (str, bytes, os.PathLike)):
            paths = [paths]
        self.paths = [os.fspath(p) for p in paths]
        self.image_size = _check_image_size(image_size)
        if self.image_size is None:
            raise ValueError("ImageFileDataset needs an image_size: batches need one shape.")
        self.color_mode = color_mode
        self.interpolation = interpolation
        self._pil_mode, self.n_channels = _check_color_mode(color_mode)
        self._resample = _check_interpolation(interpolation)
        self.targets = None if labels is None else np.asarray(labels)
        if self.targets is not None and len(self.targets) != len(self.paths):
            raise ValueError(f"{len(self.paths)} paths but {len(self.targets)} labels were given.")
        for path in self.paths:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"Image file {path!r} does not exist.")

    @classmethod
    def from_folder(cls, path, **kwargs):
        """The images of a class-per-subfolder tree (torchvision's ``ImageFolder`` layout),
        labelled by subfolder, found with :func:`skhash.datasets.load_image_folder` (nothing
        decoded until read). Keyword arguments go to the constructor.

        Returns
        -------
        dataset : ImageFileDataset
            With ``classes``, the subfolder names in label order.
        """
        from ..datasets import load_image_folder

        found = load_image_folder(path, decode=False)
        dataset = cls(found.filenames, labels=found.target, **kwargs)
        dataset.classes = list(found.target_names)
        return dataset

    @classmethod
    def from_list(cls, list_file, *, root=None, **kwargs):
        """The images of a DeepHash-pytorch list file (``path label ...`` lines, one-hot rows
        or class ids), read with :func:`skhash.datasets.load_image_list`."""
        from ..datasets import load_image_list

        found = load_image_list(list_file, root=root)
        return cls(found.filenames, labels=found.target, **kwargs)

    @property
    def image_shape(self):
        return (self.n_channels, *self.image_size)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        from ..datasets._images import _read_image

        image = torch.from_numpy(
            _read_image(self.paths[i], self._pil_mode, self.image_size, self._resample)
        )
        return image if self.targets is None else (image, self.targets[i])


def _collate(batch):
    """Stack ``(image, index)`` items; a batch already formed by ``__getitems__`` passes."""
    if isinstance(batch, tuple):
        return batch
    images, index = zip(*batch, strict=True)
    shapes = {tuple(im.shape) for im in images}
    if len(shapes) > 1:
        raise ValueError(
            f"Images of different shapes {sorted(shapes)[:3]} in one batch: resize them to "
            "one size (e.g. in the dataset's transform, or with image_shape for files)."
        )
    dtypes = {im.dtype for im in images}
    if len(dtypes) > 1:
        images = [im.float() for im in images]
    return torch.stack(images), torch.as_tensor(index)


class _BatchIndices:
    """Batches of ``indices`` (shuffled every epoch when a generator is given); a last
    batch of one item joins the previous one, as batch-norm cannot train on one item."""

    def __init__(self, indices, batch_size, generator=None):
        self.indices = torch.as_tensor(indices, dtype=torch.int64)
        self.batch_size = batch_size
        self.generator = generator

    def __len__(self):
        return len(batch_bounds(len(self.indices), self.batch_size))

    def __iter__(self):
        order = self.indices
        if self.generator is not None:
            order = order[torch.randperm(len(order), generator=self.generator)]
        for start, stop in batch_bounds(len(order), self.batch_size):
            yield order[start:stop].tolist()


def batch_bounds(n, batch_size):
    """Batch boundaries over ``n`` items; a last batch of one item joins the previous one."""
    edges = list(range(0, n, batch_size)) + [n]
    if len(edges) > 2 and edges[-1] - edges[-2] == 1:
        del edges[-2]
    return list(zip(edges[:-1], edges[1:], strict=True))


class ImageSource:
    """``n`` images of one shape, read in batches: what the trainer and the encoder read.

    Parameters
    ----------
    dataset : Dataset
        Items ``(image tensor (C, H, W), index)``, or whole batches through ``__getitems__``.
    image_shape : tuple of 3 ints
    labels : ndarray or None
        Labels the input carries (a dataset's ``targets``, or read from its items).
    in_memory : bool
        Whether items are cheap to fetch (arrays): statistics then use every item.
    """

    def __init__(self, dataset, image_shape, labels=None, in_memory=False, label_reader=None):
        self.dataset = dataset
        self.image_shape = tuple(image_shape)
        self._labels = labels
        self._label_reader = label_reader
        self.in_memory = in_memory

    def __len__(self):
        return len(self.dataset)

    @property
    def labels(self):
        """Labels carried by the input, read on first use (None when there are none)."""
        if self._labels is None and self._label_reader is not None:
            self._labels, self._label_reader = self._label_reader(), None
        return self._labels

    def batches(
        self, batch_size, *, indices=None, generator=None, num_workers=0, pin_memory=False
    ):
        """A :class:`~torch.utils.data.DataLoader` of ``(images, index)`` batches over
        ``indices`` (all items by default), reshuffled each epoch when ``generator`` is
        given. Its batches hold the images as stored (uint8 or float32), on the CPU."""
        if indices is None:
            indices = torch.arange(len(self))
        return DataLoader(
            self.dataset,
            batch_sampler=_BatchIndices(indices, batch_size, generator),
            collate_fn=_collate,
            num_workers=num_workers,
            pin_memory=pin_memory,
            persistent_workers=num_workers > 0,
            # The loader draws a base seed for its workers at every epoch: from a generator of
            # its own, not torch's global one (workers draw nothing random here).
            generator=torch.Generator(),
        )


def array_source(X):
    """An :class:`ImageSource` over an ``(n, C, H, W)`` array (no copy)."""
    return ImageSource(_ArrayImages(X), X.shape[1:], in_memory=True)


def dataset_source(dataset):
    """An :class:`ImageSource` over a user's map-style dataset, its shape read from the first
    item; labels come from its ``targets`` (or ``labels``) attribute, else from its items."""
    try:
        n = len(dataset)
    except TypeError:
        raise TypeError(
            "Deep hashers read map-style datasets (with __len__ and __getitem__); an "
            f"iterable-style {type(dataset).__name__} cannot be indexed."
        ) from None
    if n == 0:
        raise ValueError("The dataset is empty: found 0 samples.")
    image, label = split_item(dataset[0])
    shape = tuple(image_to_tensor(image).shape)
    labels = getattr(dataset, "targets", None)
    if labels is None:
        labels = getattr(dataset, "labels", None)
    if labels is not None:
        labels = _label_value(labels)
        if len(labels) != n:
            raise ValueError(f"The dataset has {n} items but {len(labels)} targets.")
    reader = None
    if labels is None and label is not None:

        def reader():
            return np.stack([_label_value(split_item(dataset[i])[1]) for i in range(n)])

    return ImageSource(_DatasetImages(dataset), shape, labels=labels, label_reader=reader)


# -- statistics and preprocessing ----------------------------------------------------------
def pixel_stats(source, batch_size, *, per_feature=False, max_items=4096, generator=None):
    """Mean, standard deviation and range of the pixels, streamed over the source.

    Every item of an in-memory source is used; a random sample of ``max_items`` otherwise
    (decoding files twice for exact statistics costs more than it changes). Statistics are per
    channel, or per feature (each ``(c, h, w)`` position) when ``per_feature``. Each batch's
    mean and sum of squared deviations are merged into the running ones in float64 (Chan et
    al.'s parallel update), so no float64 copy of a batch is made and precision holds.

    Returns
    -------
    mean, std : ndarray of shape (C,) or (C, H, W), float32
        ``std`` floored at 1e-6 (constant channels are left unscaled).
    value_range : (float, float)
        The smallest and largest pixel value seen.
    """
    n = len(source)
    indices = None
    if not source.in_memory and n > max_items:
        indices = torch.randperm(n, generator=generator)[:max_items].sort().values
    axes = (0,) if per_feature else (0, 2, 3)
    count, mean, m2 = 0, 0.0, 0.0
    low, high = math.inf, -math.inf
    for images, _ in source.batches(batch_size, indices=indices):
        x = images.float()
        size = x.numel() // (x[0].numel() if per_feature else x.shape[1])
        batch_mean = x.mean(dim=axes, keepdim=True)
        batch_m2 = (x - batch_mean).square_().sum(dim=axes, keepdim=True).double()
        batch_mean = batch_mean.double()
        delta = batch_mean - mean
        total = count + size
        mean = mean + delta * (size / total)
        m2 = m2 + batch_m2 + delta * delta * (count * size / total)
        count = total
        low, high = min(low, float(x.min())), max(high, float(x.max()))
    mean = mean.squeeze(0)
    std = (m2 / count).sqrt().squeeze(0)
    std = torch.where(std < 1e-6, torch.ones_like(std), std)
    if not per_feature:
        mean, std = mean.flatten(), std.flatten()
    return mean.float().numpy(), std.float().numpy(), (low, high)


class Preprocessing:
    """Raw batches to network input on the device: float32, augmentation (training only, on
    pixel values), per-channel (or per-feature) standardisation, channels-last memory for
    convolutional networks (see :func:`~skhash.deep._device.channels_last_on`)."""

    def __init__(self, mean, std, value_range, augmentation=None, channels_last=False):
        self.mean, self.std = np.asarray(mean), np.asarray(std)
        self.value_range = value_range
        self.augmentation = augmentation
        self.channels_last = channels_last
        self._tensors = {}

    def _stats_on(self, device):
        if device not in self._tensors:
            shape = (1, -1, 1, 1) if self.mean.ndim == 1 else (1, *self.mean.shape)
            self._tensors[device] = tuple(
                torch.as_tensor(v, dtype=torch.float32, device=device).view(shape)
                for v in (self.mean, self.std)
            )
        return self._tensors[device]

    def __call__(self, images, device, *, generator=None):
        """``images`` (CPU, as stored) to a standardised float32 batch on ``device``;
        augmented when a ``generator`` is given (training)."""
        x = images.to(device, non_blocking=True).float()
        if generator is not None and self.augmentation is not None:
            x = self.augmentation(x, generator, self.value_range)
        mean, std = self._stats_on(x.device)
        x = (x - mean) / std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def __getstate__(self):
        return {**self.__dict__, "_tensors": {}}
