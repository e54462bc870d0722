"""Random augmentation of training batches, on pixel values, in torch (no torchvision)."""

import math
from numbers import Real

import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator

__all__ = ["Augmentation", "check_augmentation"]

_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, as Pillow's "L" and torchvision's rgb_to_grayscale


def luminance(x):
    """``(n, 1, H, W)`` luminance of ``(n, C, H, W)`` pixels (the channel itself when C != 3)."""
    if x.shape[1] != 3:
        return x.mean(dim=1, keepdim=True)
    weights = torch.tensor(_LUMA, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)


class Augmentation(BaseEstimator):
    """Random image augmentation of training batches, applied to pixel values.

    Transforms act on the images as given (pixel values: 0-255 for uint8 arrays and image
    files read as such, 0-1 for float images), before the per-channel standardisation, so a
    "greyscale" image looks like a grey query and a brightness change scales every colour
    alike. Each transform is drawn per image from a :class:`torch.Generator` (the fit's), so
    augmentation is reproducible and never touches torch's global random state. Translation
    (the random crop), flip and rotation form one affine warp with black (zero) fill, as
    torchvision's ``RandomCrop(padding=...)`` and ``RandomRotation`` do. It is a
    scikit-learn estimator of its own, so ``set_params(augmentation__rotation=10)``,
    ``clone`` and grid search over its settings work.

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
        Pixels are multiplied by a factor drawn uniformly in ``[max(0, 1 - brightness),
        1 + brightness]`` (torchvision's ``ColorJitter(brightness=...)``).
    contrast : float, default=0.0
        Each image is blended with its mean grey level by a factor drawn uniformly in
        ``[max(0, 1 - contrast), 1 + contrast]`` (``ColorJitter(contrast=...)``).
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
    >>> aug.set_params(rotation=5).rotation
    5
    """

    def __init__(
        self, crop_padding=0, hflip=0.0, rotation=0.0, brightness=0.0, contrast=0.0, grayscale=0.0
    ):
        self.crop_padding = crop_padding
        self.hflip = hflip
        self.rotation = rotation
        self.brightness = brightness
        self.contrast = contrast
        self.grayscale = grayscale

    @classmethod
    def auto(cls, image_shape):
        """Mild defaults by image size: nothing below 16 pixels, where it hurts."""
        c, h, w = image_shape
        if min(h, w) < 16:
            return None
        return cls(crop_padding=max(1, min(h, w) // 14), rotation=10.0)

    def check(self):
        """Validate the settings (finite numbers, probabilities in [0, 1]); returns self."""
        for name, value in self.get_params().items():
            if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
                raise ValueError(f"Augmentation {name} must be a finite number; got {value!r}.")
            if value < 0:
                raise ValueError(f"Augmentation {name} must be >= 0; got {value!r}.")
        if int(self.crop_padding) != self.crop_padding:
            raise ValueError(
                f"Augmentation crop_padding is a number of pixels; got {self.crop_padding!r}."
            )
        for name in ("hflip", "grayscale"):
            if getattr(self, name) > 1:
                raise ValueError(
                    f"Augmentation {name} is a probability; got {getattr(self, name)}."
                )
        return self

    @property
    def is_identity(self):
        return not any(self.get_params().values())

    def __call__(self, x, generator, value_range=None):
        """Augment a float ``(n, C, H, W)`` batch of pixels.

        ``generator`` lives on ``x``'s device; ``value_range`` ``(low, high)``, when given,
        clips the result (brightness and contrast can leave the pixels' range).
        """
        if self.is_identity:
            return x
        n, c, h, w = x.shape
        dev = x.device

        def uniform(low, high):
            return low + (high - low) * torch.rand(n, generator=generator, device=dev)

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
            grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        if self.brightness:
            factor = uniform(max(0.0, 1 - self.brightness), 1 + self.brightness)
            x = x * factor.view(n, 1, 1, 1)
        if self.contrast:
            factor = uniform(max(0.0, 1 - self.contrast), 1 + self.contrast).view(n, 1, 1, 1)
            grey = luminance(x).mean(dim=(1, 2, 3), keepdim=True)
            x = grey + factor * (x - grey)
        if self.grayscale and c == 3:
            pick = (uniform(0, 1) < self.grayscale).view(n, 1, 1, 1)
            x = torch.where(pick, luminance(x).expand_as(x), x)
        if value_range is not None:
            x = x.clamp(float(value_range[0]), float(value_range[1]))
        return x


def check_augmentation(augmentation, image_shape):
    """Resolve the ``augmentation`` parameter to a validated :class:`Augmentation` or None
    (a copy: the user's object is never changed)."""
    if augmentation is None:
        return None
    message = 'augmentation must be None, "auto", a dict or an Augmentation; got {!r}.'
    if isinstance(augmentation, str):
        if augmentation != "auto":
            raise ValueError(message.format(augmentation))
        return Augmentation.auto(image_shape)
    if isinstance(augmentation, dict):
        try:
            augmentation = Augmentation(**augmentation)
        except TypeError as exc:
            raise ValueError(f"Invalid augmentation settings {augmentation!r}: {exc}") from None
    elif isinstance(augmentation, Augmentation):
        augmentation = Augmentation(**augmentation.get_params())
    else:
        raise ValueError(message.format(augmentation))
    augmentation.check()
    return None if augmentation.is_identity else augmentation
