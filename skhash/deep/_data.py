"""Input conversion, preprocessing and augmentation of image batches (torch, no torchvision).

Every deep hasher reads its input as a float32 array of shape ``(n, C, H, W)``:

- ``(n, C, H, W)`` arrays are taken as they are and ``(n, H, W)`` arrays get one channel;
- flat ``(n, d)`` arrays are reshaped to ``image_shape`` (``(C, H, W)`` or ``(H, W)``) when
  given; with ``image_shape=None`` a perfect-square ``d = s * s`` is read as a one-channel
  ``s x s`` image, any other ``d`` as a ``1 x 1 x d`` strip (so any tabular data can flow
  through the networks, as scikit-learn's checks require);
- a list or 1-D array of image file paths is read with :func:`skhash.datasets.load_images`.
"""

import math
import os
from numbers import Real

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["Augmentation", "is_path_list", "resize", "to_image_shape"]


def is_path_list(X):
    """True when ``X`` is a sequence (or 1-D array) of file paths."""
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
    shape = tuple(int(s) for s in image_shape)
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


def channel_stats(X):
    """Per-channel mean and standard deviation of ``(n, C, H, W)`` data (std floored)."""
    mean = X.mean(axis=(0, 2, 3), dtype=np.float64)
    std = X.std(axis=(0, 2, 3), dtype=np.float64)
    std = np.where(std < 1e-6, 1.0, std)
    return mean.astype(np.float32), std.astype(np.float32)


def standardize(X, mean, std):
    """``(X - mean) / std`` per channel, as a new float32 array."""
    return ((X - mean[None, :, None, None]) / std[None, :, None, None]).astype(np.float32)


def resize(x, size, mode="bilinear"):
    """Resize a ``(n, C, H, W)`` tensor to ``size = (H', W')`` (antialiased when shrinking)."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(x.shape[-2:]) == size:
        return x
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    antialias = mode in ("bilinear", "bicubic") and shrink
    kwargs = {} if mode == "nearest" else {"align_corners": False}
    return F.interpolate(x, size=size, mode=mode, antialias=antialias, **kwargs)


class Augmentation:
    """Random image augmentation of training batches, in torch (no torchvision).

    All transforms are drawn per image from a :class:`torch.Generator`, so they are
    reproducible and never touch torch's global random state. Translation (the random crop),
    flip and rotation form one affine warp applied with :func:`torch.nn.functional.grid_sample`
    (zero padding, i.e. the channel mean after standardisation).

    Parameters
    ----------
    crop_padding : int, default=0
        Random crop with padding: shift each image by up to this many pixels in each
        direction (the ``RandomCrop(size, padding)`` of torchvision).
    hflip : float, default=0.0
        Probability of a horizontal flip (off by default: it hurts on digits and text).
    rotation : float, default=0.0
        Largest rotation angle, in degrees (uniform in ``[-rotation, rotation]``).
    brightness : float, default=0.0
        Largest brightness shift, added uniformly in ``[-brightness, brightness]`` (in units
        of standardised pixel values).
    grayscale : float, default=0.0
        Probability of replacing a colour image by its luminance (3-channel input only).

    Examples
    --------
    >>> import torch
    >>> from skhash.deep import Augmentation
    >>> aug = Augmentation(crop_padding=2, rotation=10)
    >>> x = torch.zeros(4, 1, 28, 28)
    >>> aug(x, torch.Generator().manual_seed(0)).shape
    torch.Size([4, 1, 28, 28])
    """

    def __init__(self, crop_padding=0, hflip=0.0, rotation=0.0, brightness=0.0, grayscale=0.0):
        self.crop_padding = crop_padding
        self.hflip = hflip
        self.rotation = rotation
        self.brightness = brightness
        self.grayscale = grayscale

    @classmethod
    def auto(cls, image_shape):
        """Mild defaults by image size: nothing below 16 pixels, where it hurts."""
        c, h, w = image_shape
        if min(h, w) < 16:
            return None
        return cls(crop_padding=max(1, min(h, w) // 14), rotation=10.0)

    def get_params(self, deep=True):
        return {
            k: getattr(self, k)
            for k in ("crop_padding", "hflip", "rotation", "brightness", "grayscale")
        }

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"Augmentation({args})"

    def __eq__(self, other):
        return isinstance(other, Augmentation) and self.get_params() == other.get_params()

    def check(self):
        """Validate the settings; returns self."""
        for name, value in self.get_params().items():
            if not isinstance(value, Real) or value < 0:
                raise ValueError(f"Augmentation {name} must be a number >= 0; got {value!r}.")
        for name in ("hflip", "grayscale"):
            if getattr(self, name) > 1:
                raise ValueError(
                    f"Augmentation {name} is a probability; got {getattr(self, name)}."
                )
        return self

    @property
    def is_identity(self):
        return not any(self.get_params().values())

    def __call__(self, x, generator):
        """Augment a ``(n, C, H, W)`` batch; ``generator`` lives on ``x``'s device."""
        if self.is_identity:
            return x
        n, c, h, w = x.shape
        dev = x.device

        def uniform(low, high, size=(n,)):
            return low + (high - low) * torch.rand(size, generator=generator, device=dev)

        if self.crop_padding or self.hflip or self.rotation:
            angle = uniform(-self.rotation, self.rotation) * (math.pi / 180)
            flip = torch.where(uniform(0, 1) < self.hflip, -1.0, 1.0)
            p = int(self.crop_padding)
            shifts = torch.randint(-p, p + 1, (2, n), generator=generator, device=dev).float()
            cos, sin = torch.cos(angle), torch.sin(angle)
            theta = torch.zeros(n, 2, 3, device=dev)
            theta[:, 0, 0], theta[:, 0, 1] = cos * flip, -sin * h / w
            theta[:, 1, 0], theta[:, 1, 1] = sin * flip * w / h, cos
            # Integer pixel shifts in normalised coordinates (align_corners=False).
            theta[:, 0, 2], theta[:, 1, 2] = 2 * shifts[0] / w, 2 * shifts[1] / h
            grid = F.affine_grid(theta, list(x.shape), align_corners=False)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        if self.brightness:
            x = x + uniform(-self.brightness, self.brightness).view(n, 1, 1, 1)
        if self.grayscale and c == 3:
            weights = torch.tensor([0.299, 0.587, 0.114], device=dev).view(1, 3, 1, 1)
            grey = (x * weights).sum(dim=1, keepdim=True).expand_as(x)
            pick = (uniform(0, 1) < self.grayscale).view(n, 1, 1, 1)
            x = torch.where(pick, grey, x)
        return x


def check_augmentation(augmentation, image_shape):
    """Resolve the ``augmentation`` parameter to an :class:`Augmentation` or None."""
    if augmentation is None:
        return None
    message = 'augmentation must be None, "auto", a dict or an Augmentation; got {!r}.'
    if isinstance(augmentation, str):
        if augmentation != "auto":
            raise ValueError(message.format(augmentation))
        return Augmentation.auto(image_shape)
    if isinstance(augmentation, dict):
        augmentation = Augmentation(**augmentation)
    if not isinstance(augmentation, Augmentation):
        raise ValueError(message.format(augmentation))
    augmentation.check()
    return None if augmentation.is_identity else augmentation
