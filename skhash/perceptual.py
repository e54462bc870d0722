"""Perceptual image hashes (average, difference, DCT and wavelet hashes) as hashers.

Each hash is computed from its published definition on the 8-bit image Pillow sees, so the
codes are those of the ImageHash library bit for bit: the image is converted to grey
(Pillow's ``"L"``, ITU-R 601-2 luma), shrunk with Pillow's Lanczos filter, and each bit
compares a value with a threshold:

- ``"ahash"`` (average hash, Krawetz 2011): each pixel of the ``s x s`` thumbnail against the
  thumbnail's mean;
- ``"dhash"`` / ``"dhash_vertical"`` (difference hash, Krawetz 2013): each pixel of an
  ``(s + 1) x s`` thumbnail against its left (upper) neighbour, so ``s x s`` bits;
- ``"phash"`` (DCT hash, Zauner 2010): the ``s x s`` lowest frequencies of the 2-D DCT-II of
  a ``4s x 4s`` thumbnail against their median; ``"phash_simple"``: the row-wise DCT only,
  frequencies 1 to ``s`` of the first ``s`` rows against their mean;
- ``"whash"`` (Haar wavelet hash, Petrov 2016): the approximation coefficients of a Haar
  wavelet decomposition down to ``s x s`` against their median, after removing the coarsest
  approximation (the image's mean) from a power-of-two thumbnail.

The bit of each value is ``value > threshold``, row-major: the same bit order as ImageHash's
``hash.flatten()`` and its hex strings (:func:`skhash.index.codes_to_hex`).
"""

import os
import sys
import warnings
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .base import BaseHasher, validate_image_array
from .reranking import RERANK_MODES
from .utils._image_input import (
    infer_image_shape,
    is_path_list,
    split_item,
)
from .utils.docstrings import fill_doc

__all__ = ["PERCEPTUAL_METHODS", "PerceptualHash"]

#: The hash functions of :class:`PerceptualHash`.
PERCEPTUAL_METHODS = ("ahash", "dhash", "dhash_vertical", "phash", "phash_simple", "whash")


# -- images as Pillow sees them -------------------------------------------------------------
def _to_uint8(image):
    """An array image as the 8-bit image Pillow holds: integers clipped to [0, 255], floats
    (and booleans) read on the [0, 1] scale, times 255, rounded and clipped."""
    if image.dtype == np.uint8:
        return image
    if image.dtype.kind in "iu":
        return np.clip(image, 0, 255).astype(np.uint8)
    return np.clip(np.rint(image.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)


def _array_to_pil(image):
    """A ``(C, H, W)`` array (C in 1, 3 or 4) as a Pillow image ("L", "RGB" or "RGBA")."""
    from PIL import Image

    channels = image.shape[0]
    if channels == 1:
        return Image.fromarray(np.ascontiguousarray(_to_uint8(image[0])), mode="L")
    if channels in (3, 4):
        pixels = np.ascontiguousarray(_to_uint8(image).transpose(1, 2, 0))
        return Image.fromarray(pixels, mode="RGB" if channels == 3 else "RGBA")
    raise ValueError(f"Images must have 1, 3 or 4 channels to be hashed; got {channels} channels.")


def _item_to_pil(image):
    """One dataset item's image (Pillow image, array or tensor) as a Pillow image."""
    if hasattr(image, "getbands"):
        return image
    if hasattr(image, "detach"):  # a torch tensor, already (C, H, W)
        image = image.detach().cpu().numpy()
    image = np.asarray(image)
    if image.dtype.kind not in "biuf":
        raise TypeError(f"Images must hold numbers; got an array of dtype {image.dtype}.")
    if image.ndim == 2:
        image = image[None]
    elif image.ndim == 3 and image.shape[0] not in (1, 3, 4) and image.shape[2] in (1, 3, 4):
        image = image.transpose(2, 0, 1)
    if image.ndim != 3:
        raise ValueError(f"An image must be 2-D or 3-D; got shape {image.shape}.")
    return _array_to_pil(image)


def _open_image(path):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            return img
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"Cannot read image file {os.fspath(path)!r}: {exc}") from exc


class _Images:
    """Validated input of :class:`PerceptualHash`: ``n`` images fetched one at a time as
    Pillow images (any sizes), with the labels the input carries (or None)."""

    def __init__(self, n, fetch, labels=None):
        self._n = n
        self._fetch = fetch
        self.labels = labels

    def __len__(self):
        return self._n

    def __iter__(self):
        for i in range(self._n):
            yield self._fetch(i)


def _is_torch_dataset(X):
    # Only a torch Dataset needs torch, and one exists only when torch is imported already.
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(X, torch.utils.data.Dataset)


def _is_image_list(X):
    """A list of Pillow images or of 2-D / 3-D arrays (images, of any sizes)."""
    return (
        isinstance(X, (list, tuple))
        and len(X) > 0
        and all(
            hasattr(x, "getbands") or (isinstance(x, np.ndarray) and x.ndim in (2, 3)) for x in X
        )
    )


# -- the hash functions -----------------------------------------------------------------
def _grey_thumbnail(image, width, height):
    """Grey ``height x width`` thumbnail (Lanczos), as ImageHash shrinks before hashing."""
    from PIL import Image

    grey = image.convert("L").resize((width, height), Image.Resampling.LANCZOS)
    return np.asarray(grey)


def _ahash(image, size, options):
    pixels = _grey_thumbnail(image, size, size).astype(np.float64)
    return pixels - pixels.mean()


def _dhash(image, size, options):
    pixels = _grey_thumbnail(image, size + 1, size).astype(np.float64)
    return pixels[:, 1:] - pixels[:, :-1]


def _dhash_vertical(image, size, options):
    pixels = _grey_thumbnail(image, size, size + 1).astype(np.float64)
    return pixels[1:, :] - pixels[:-1, :]


def _phash(image, size, options):
    # scipy.fftpack's unnormalised DCT-II, as the definition is computed by ImageHash: the
    # low frequencies of a flat image are rounding noise, whose signs then set the bits.
    from scipy.fftpack import dct

    side = size * options["highfreq_factor"]
    pixels = _grey_thumbnail(image, side, side)
    low = dct(dct(pixels, axis=0), axis=1)[:size, :size]
    return low - np.median(low)


def _phash_simple(image, size, options):
    from scipy.fftpack import dct

    side = size * options["highfreq_factor"]
    pixels = _grey_thumbnail(image, side, side)
    low = dct(pixels)[:size, 1 : size + 1]
    return low - low.mean()


def _whash(image, size, options):
    try:
        import pywt
    except ImportError as exc:
        raise ImportError(
            'method="whash" computes its Haar wavelet transform with PyWavelets: '
            "pip install PyWavelets"
        ) from exc
    scale = options["image_scale"]
    if scale is None:
        natural = 2 ** int(np.log2(min(image.size)))
        scale = max(natural, size)
    max_level = int(np.log2(scale))
    level = int(np.log2(size))
    if level > max_level:
        raise ValueError(
            f"hash_size={size} is larger than image_scale={scale}: whash cannot take more "
            "bits than the thumbnail has pixels."
        )
    pixels = _grey_thumbnail(image, scale, scale) / 255.0
    # Remove the coarsest approximation (the image's mean), then decompose down to s x s.
    coeffs = list(pywt.wavedec2(pixels, "haar", level=max_level))
    coeffs[0] = coeffs[0] * 0
    pixels = pywt.waverec2(coeffs, "haar")
    low = pywt.wavedec2(pixels, "haar", level=max_level - level)[0]
    return low - np.median(low)


_HASHES = {
    "ahash": _ahash,
    "dhash": _dhash,
    "dhash_vertical": _dhash_vertical,
    "phash": _phash,
    "phash_simple": _phash_simple,
    "whash": _whash,
}


@fill_doc
class PerceptualHash(BaseHasher):
    """Perceptual image hashes (aHash, dHash, pHash, wHash), searchable like every hasher.

    The hashes of the ImageHash library, bit for bit, computed from their published
    definitions: the image is converted to grey and shrunk to a thumbnail, and each bit
    compares a value of the thumbnail (or of its DCT or wavelet transform) with a threshold
    (see :mod:`skhash.perceptual`). Nothing is learnt: ``fit`` only hashes the images and
    indexes them as the database, which ``kneighbors``, ``radius_neighbors`` and ``score``
    search as for every hasher (in a :class:`~skhash.index.HammingIndex`, with multi-index
    hashing for radius searches over millions of codes). Codes are ``hash_size ** 2`` bits,
    in ImageHash's order (row-major), so :func:`skhash.index.codes_to_hex` gives ImageHash's
    hex strings and :func:`skhash.index.codes_from_hex` reads them back.

    It takes the images the deep hashers take: arrays ``(n, H, W)``, ``(n, H, W, C)`` or
    ``(n, C, H, W)`` (C in 1, 3, 4), flat rows ``(n, d)`` (read as in the deep hashers:
    ``image_shape``, else square grey images), lists of Pillow images, of 2-D or 3-D arrays
    or of image files (any sizes: each image is hashed at its own size), a folder of class
    subfolders (labelled by subfolder), or a map-style torch ``Dataset`` (torch is imported
    only then). Arrays are read as the 8-bit images Pillow holds: unsigned bytes as they
    are, other integers clipped to [0, 255], floats on the [0, 1] scale (times 255,
    rounded; values outside [0, 1] are clipped, with a warning). Files are opened with
    Pillow as ImageHash users open them (``Image.open``).

    Parameters
    ----------
    method : {"phash", "dhash", "ahash", "whash", "phash_simple", "dhash_vertical"}, \
default="phash"
        The hash function: ImageHash's ``phash``, ``dhash``, ``average_hash``, ``whash``,
        ``phash_simple`` and ``dhash_vertical``.
    hash_size : int, default=8
        Side of the hash: codes have ``hash_size ** 2`` bits. At least 2; a power of two
        for ``"whash"``.
    highfreq_factor : int, default=4
        ``"phash"`` and ``"phash_simple"``: the DCT is taken of a thumbnail
        ``hash_size * highfreq_factor`` pixels wide.
    image_scale : int or None, default=None
        ``"whash"``: side of the (power-of-two) thumbnail; None takes the largest power of
        two not above the image's smaller side (at least ``hash_size``).
    image_shape : tuple of int or None, default=None
        ``(C, H, W)`` or ``(H, W)`` of flat ``(n, d)`` rows; None reads rows as square grey
        images (a ``1 x d`` strip when ``d`` is not a square).
    n_jobs : int, default=None
        Threads of the Hamming search; ``None`` means 1, ``-1`` all cores.
    {search_parameters}

    Attributes
    ----------
    n_bits_ : int
        Length of the codes, ``hash_size ** 2``.
    n_features_in_ : int
        Number of features of flat ``(n, d)`` rows seen during fit (only for such input).
    index_ : HammingIndex
        The database of codes.
    database_labels_ : ndarray or None
        Labels of the database items, when fitted with ``y`` (or a labelled folder or
        dataset).

    See Also
    --------
    skhash.index.codes_from_hex : Load stored ImageHash hex strings into codes.
    skhash.LSH : Random hyperplanes on pixels (no invariance to photometric changes).

    Notes
    -----
    The embedding (:meth:`embed`) is the value minus its threshold, whose signs are the bits:
    ``rerank="embedding"`` or ``"asymmetric"`` re-rank by it.

    References
    ----------
    N. Krawetz. Looks like it; Kind of like that. The Hacker Factor Blog, 2011 and 2013.

    C. Zauner. Implementation and benchmarking of perceptual image hash functions. Master's
    thesis, Upper Austria University of Applied Sciences, 2010.

    J. Buchner. ImageHash: a Python perceptual image hashing module.
    https://github.com/JohannesBuchner/imagehash

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_sample_images
    >>> from skhash import PerceptualHash
    >>> china, flower = load_sample_images().images
    >>> crops = np.stack([china[:256, :256], china[150:406, 350:606],
    ...                   flower[:256, :256], flower[150:406, 350:606]])  # (4, 256, 256, 3)
    >>> hasher = PerceptualHash(method="phash").fit(crops)
    >>> hasher.transform(crops).shape
    (4, 64)
    >>> darker = (crops * 0.8).astype(np.uint8)
    >>> hasher.kneighbors(darker, n_neighbors=1, return_distance=False).ravel()
    array([0, 1, 2, 3])
    """

    _parameter_constraints: dict = {
        "method": [StrOptions(set(PERCEPTUAL_METHODS))],
        "hash_size": [Interval(Integral, 2, None, closed="left")],
        "highfreq_factor": [Interval(Integral, 1, None, closed="left")],
        "image_scale": [None, Interval(Integral, 2, None, closed="left")],
        "image_shape": [None, tuple, list],
        "n_jobs": [None, Integral],
        "rerank": [None, StrOptions(set(RERANK_MODES))],
        "rerank_factor": [None, Interval(Integral, 1, None, closed="left")],
        "bit_weights": [None, StrOptions({"learn"}), "array-like"],
    }

    # Nothing here is random; bit_weights="learn" reads this to sample its pairs.
    random_state = None

    def __init__(
        self,
        method="phash",
        hash_size=8,
        *,
        highfreq_factor=4,
        image_scale=None,
        image_shape=None,
        n_jobs=None,
        rerank=None,
        rerank_factor=10,
        bit_weights=None,
    ):
        self.method = method
        self.hash_size = hash_size
        self.highfreq_factor = highfreq_factor
        self.image_scale = image_scale
        self.image_shape = image_shape
        self.n_jobs = n_jobs
        self.rerank = rerank
        self.rerank_factor = rerank_factor
        self.bit_weights = bit_weights

    # -- inputs -----------------------------------------------------------------------
    def _validate_input(self, X, *, reset):
        if _is_torch_dataset(X):
            return self._dataset_images(X, reset=reset)
        if _is_image_list(X):
            self._forget_features(reset)
            return _Images(len(X), lambda i: _item_to_pil(X[i]))
        if is_path_list(X):
            return self._file_images(X, reset=reset)
        return self._array_images(X, reset=reset)

    def _forget_features(self, reset):
        # n_features_in_ describes flat rows only: images of any size can be hashed.
        if reset and hasattr(self, "n_features_in_"):
            del self.n_features_in_

    def _dataset_images(self, dataset, *, reset):
        try:
            n = len(dataset)
        except TypeError:
            raise TypeError(
                "PerceptualHash reads map-style datasets (with __len__ and __getitem__); an "
                f"iterable-style {type(dataset).__name__} cannot be indexed."
            ) from None
        if n == 0:
            raise ValueError("The dataset is empty: found 0 samples.")
        self._forget_features(reset)
        labels = getattr(dataset, "targets", None)
        if labels is None:
            labels = getattr(dataset, "labels", None)
        if labels is not None:
            labels = np.asarray(labels)
        return _Images(n, lambda i: _item_to_pil(split_item(dataset[i])[0]), labels)

    def _file_images(self, paths, *, reset):
        labels = None
        if isinstance(paths, (str, os.PathLike)):
            if os.path.isdir(paths):
                from .datasets import load_image_folder

                found = load_image_folder(paths, decode=False)
                paths, labels = list(found.filenames), np.asarray(found.target)
            else:
                paths = [paths]
        paths = [os.fspath(p) for p in paths]
        for path in paths:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"Image file {path!r} does not exist.")
        self._forget_features(reset)
        return _Images(len(paths), lambda i: _open_image(paths[i]), labels)

    def _array_images(self, X, *, reset):
        def flat_shape(n_features):
            return infer_image_shape(n_features, self.image_shape)

        X, flat = validate_image_array(self, X, reset=reset, flat_shape=flat_shape)
        if not flat:
            self._forget_features(reset)
        if X.shape[1] not in (1, 3, 4):
            raise ValueError(
                f"Images must have 1, 3 or 4 channels to be hashed; got {X.shape[1]} channels "
                f"(images of shape {X.shape[1:]})."
            )
        if X.dtype.kind == "f" and X.size and (X.min() < 0 or X.max() > 1):
            warnings.warn(
                "Float images are read on the [0, 1] scale: values outside it are clipped. "
                "Pass uint8 arrays for images in [0, 255].",
                UserWarning,
                stacklevel=4,
            )
        return _Images(len(X), lambda i: _array_to_pil(X[i]))

    def _labels_of(self, X):
        return X.labels if isinstance(X, _Images) else None

    def _check_enough_samples(self, n_samples):
        """Nothing is learnt: one image is a database too."""

    # -- hashing ----------------------------------------------------------------------
    def _fit(self, X, y):
        if self.method == "whash" and self.hash_size & (self.hash_size - 1):
            raise ValueError(
                f'method="whash" needs a power of two for hash_size; got {self.hash_size}.'
            )
        if self.image_scale is not None and self.image_scale & (self.image_scale - 1):
            raise ValueError(f"image_scale must be a power of two; got {self.image_scale}.")
        if self.image_shape is not None:
            from .utils._image_input import to_image_shape

            to_image_shape(self.image_shape)
        self.n_bits_ = self.hash_size**2

    def _embed(self, X, layer="hash"):
        hash_function = _HASHES[self.method]
        options = {"highfreq_factor": self.highfreq_factor, "image_scale": self.image_scale}
        size = self.hash_size
        out = np.empty((len(X), size * size), dtype=np.float64)
        for i, image in enumerate(X):
            out[i] = hash_function(image, size, options).ravel()
        return out

    def _embedding_width(self, layer):
        return self.n_bits_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = False
        return tags
