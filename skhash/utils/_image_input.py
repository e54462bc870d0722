"""Reading image inputs without torch: what deep hashers and the perceptual hashes share.

The shape rules for arrays of images, and the layout of dataset items, are written once here;
:mod:`skhash.deep._inputs` builds its torch datasets on them and
:class:`skhash.PerceptualHash` reads images with them without importing torch.
"""

import math
import os
from numbers import Integral

import numpy as np

__all__ = [
    "channels_first",
    "infer_image_shape",
    "is_path_list",
    "split_item",
    "to_image_shape",
]


def is_path_list(X):
    """True when ``X`` is a path, or a sequence (or 1-D array) of file paths."""
    if isinstance(X, (str, os.PathLike)):
        return True
    if isinstance(X, np.ndarray):
        return X.ndim == 1 and X.dtype.kind in "OUS" and len(X) > 0 and _is_path(X[0])
    if isinstance(X, (list, tuple)) and len(X) > 0:
        return all(_is_path(p) for p in X)
    return False


def _is_path(p):
    return isinstance(p, (str, bytes, os.PathLike))


def to_image_shape(image_shape):
    """Normalise an ``image_shape`` parameter to a ``(C, H, W)`` tuple of ints."""
    try:
        values = tuple(image_shape)
    except TypeError:
        values = None
    if values is None or not all(
        isinstance(s, Integral) and not isinstance(s, bool) for s in values
    ):
        raise ValueError(
            f"image_shape must be a tuple of integers (C, H, W) or (H, W); got {image_shape!r}."
        )
    shape = tuple(int(s) for s in values)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            f"image_shape must be (C, H, W) or (H, W) with positive sizes; got {image_shape!r}."
        )
    return shape


def infer_image_shape(n_features, image_shape=None):
    """The ``(C, H, W)`` shape that flat rows of ``n_features`` values are read as."""
    if image_shape is not None:
        shape = to_image_shape(image_shape)
        if math.prod(shape) != n_features:
            raise ValueError(
                f"image_shape={tuple(image_shape)} has {math.prod(shape)} values, but X has "
                f"{n_features} features per sample."
            )
        return shape
    side = math.isqrt(n_features)
    if side * side == n_features:
        return (1, side, side)
    return (1, 1, n_features)


def channels_first(X):
    """View of 4-D ``X`` with channels second: ``(n, H, W, C)`` is transposed when its second
    axis cannot be channels (not 1, 3 or 4) and its last one can."""
    if X.ndim == 4 and X.shape[1] not in (1, 3, 4) and X.shape[3] in (1, 3, 4):
        return X.transpose(0, 3, 1, 2)
    return X


_IMAGE_KEYS = ("image", "img", "pixel_values")
_LABEL_KEYS = ("label", "labels", "target")


def split_item(item):
    """``(image, label)`` of a dataset item: an image, an ``(image, label, ...)`` sequence,
    or a dict with an ``image`` and a ``label`` entry (Hugging Face style). ``label`` is None
    when the item has none."""
    if isinstance(item, dict):
        image = next((item[k] for k in _IMAGE_KEYS if k in item), None)
        if image is None:
            raise ValueError(
                f"A dataset item that is a dict needs one of the keys {_IMAGE_KEYS}; got "
                f"{sorted(item)}."
            )
        return image, next((item[k] for k in _LABEL_KEYS if k in item), None)
    if isinstance(item, (tuple, list)):
        if not item:
            raise ValueError("A dataset item is empty.")
        return item[0], (item[1] if len(item) > 1 else None)
    return item, None
