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
    zoom : float, default=0.0
        Random re-crop: keep a window of each side's length times a factor drawn in
        ``[1 - zoom, 1]``, at a random position, resized to the full image (part of the
        affine warp).
    scale : float, default=0.0
        Resolution loss: shrink (antialiased) by a factor drawn in ``[1 - scale, 1]`` and
        enlarge back, as a rescaled copy of an image compared at the original's size.
    blur : float, default=0.0
        Gaussian blur of standard deviation drawn in ``[0, blur]`` pixels.
    noise : float, default=0.0
        Gaussian noise of standard deviation drawn in ``[0, noise]`` times the pixel range.
    jpeg : float, default=0.0
        Probability of a JPEG-like compression: the 8x8 block DCT of the YCbCr image (the
        luminance alone for grey images) quantised with the standard JPEG tables at a
        quality drawn in ``[jpeg_quality, 95]`` (no chroma subsampling).
    jpeg_quality : int, default=30
        Lowest JPEG quality drawn.

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
        self,
        crop_padding=0,
        hflip=0.0,
        rotation=0.0,
        brightness=0.0,
        contrast=0.0,
        grayscale=0.0,
        *,
        zoom=0.0,
        scale=0.0,
        blur=0.0,
        noise=0.0,
        jpeg=0.0,
        jpeg_quality=30,
    ):
        self.crop_padding = crop_padding
        self.hflip = hflip
        self.rotation = rotation
        self.brightness = brightness
        self.contrast = contrast
        self.grayscale = grayscale
        self.zoom = zoom
        self.scale = scale
        self.blur = blur
        self.noise = noise
        self.jpeg = jpeg
        self.jpeg_quality = jpeg_quality

    @classmethod
    def near_duplicates(cls):
        """The edits a copy of an image goes through (what near-duplicate search must
        survive): JPEG compression, rescaling, brightness and contrast, a small rotation, a
        re-crop, blur, noise and a horizontal flip."""
        return cls(
            hflip=0.5,
            rotation=7.0,
            brightness=0.4,
            contrast=0.4,
            zoom=0.15,
            scale=0.6,
            blur=1.5,
            noise=0.06,
            jpeg=0.5,
            jpeg_quality=25,
        )

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
        if not 1 <= self.jpeg_quality <= 95:
            raise ValueError(
                f"Augmentation jpeg_quality must be in [1, 95]; got {self.jpeg_quality!r}."
            )
        for name in ("hflip", "grayscale", "jpeg", "zoom", "scale"):
            if getattr(self, name) > 1:
                raise ValueError(
                    f"Augmentation {name} is a probability; got {getattr(self, name)}."
                )
        return self

    @property
    def is_identity(self):
        return not any(v for k, v in self.get_params().items() if k != "jpeg_quality")

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

        if self.scale:
            x = _rescale(x, uniform(1 - self.scale, 1.0))
        if self.crop_padding or self.hflip or self.rotation or self.zoom:
            angle = uniform(-self.rotation, self.rotation) * (math.pi / 180)
            flip = torch.where(uniform(0, 1) < self.hflip, -1.0, 1.0)
            p = int(self.crop_padding)
            shifts = torch.randint(-p, p + 1, (2, n), generator=generator, device=dev).float()
            # The window kept by the re-crop (its side a fraction of the image's), anywhere
            # inside the image: an offset of up to (1 - side) in normalised coordinates.
            side = uniform(1 - self.zoom, 1.0)
            offset = (2 * torch.rand(2, n, generator=generator, device=dev) - 1) * (1 - side)
            cos, sin = torch.cos(angle) * side, torch.sin(angle) * side
            theta = torch.zeros(n, 2, 3, device=dev)
            theta[:, 0, 0], theta[:, 0, 1] = cos * flip, -sin * h / w
            theta[:, 1, 0], theta[:, 1, 1] = sin * flip * w / h, cos
            # Integer pixel shifts in normalised coordinates (align_corners=False).
            theta[:, 0, 2] = 2 * shifts[0] / w + offset[0]
            theta[:, 1, 2] = 2 * shifts[1] / h + offset[1]
            grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
            x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        if self.blur:
            x = _gaussian_blur(x, uniform(0.0, self.blur))
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
        if self.noise or self.jpeg:
            low, high = (x.min(), x.max()) if value_range is None else value_range
            span = float(high - low) or 1.0
            if self.noise:
                sigma = uniform(0.0, self.noise).view(n, 1, 1, 1) * span
                noise = torch.randn(x.shape, generator=generator, device=dev, dtype=x.dtype)
                x = x + sigma * noise
            if self.jpeg:
                pick = (uniform(0, 1) < self.jpeg).view(n, 1, 1, 1)
                quality = uniform(float(self.jpeg_quality), 95.0)
                x = torch.where(pick, _jpeg_like(x, quality, float(low), span), x)
        if value_range is not None:
            x = x.clamp(float(value_range[0]), float(value_range[1]))
        return x


def _rescale(x, factors):
    """Shrink each image by its factor (antialiased bilinear) and enlarge it back."""
    n, c, h, w = x.shape
    out = torch.empty_like(x)
    # Images of one batch share a few sizes: factors are rounded to whole pixels.
    sizes = torch.stack([(factors * h).round().clamp(min=1), (factors * w).round().clamp(min=1)])
    for size in torch.unique(sizes.T, dim=0):
        rows = (sizes.T == size).all(dim=1)
        small = F.interpolate(
            x[rows], size=tuple(int(v) for v in size), mode="bilinear", antialias=True
        )
        out[rows] = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    return out


def _gaussian_blur(x, sigmas):
    """Blur each image with its own Gaussian (standard deviation ``sigmas``, in pixels)."""
    n, c, h, w = x.shape
    radius = max(1, int(math.ceil(3 * float(sigmas.max()))))
    radius = min(radius, (min(h, w) - 1) // 2) or 1
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    sig = sigmas.to(x.dtype).clamp(min=1e-3).view(n, 1)
    kernel = torch.exp(-0.5 * (t / sig) ** 2)
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)
    planes = x.reshape(1, n * c, h, w)
    pad = (radius, radius, radius, radius)
    planes = F.pad(planes, pad, mode="reflect" if min(h, w) > radius else "replicate")
    planes = F.conv2d(planes, kernel.view(n * c, 1, 1, -1), groups=n * c)
    planes = F.conv2d(planes, kernel.view(n * c, 1, -1, 1), groups=n * c)
    return planes.reshape(n, c, h, w)


# The quantisation tables of the JPEG standard (ITU-T T.81, Annex K), at quality 50.
_JPEG_LUMA = (
    (16, 11, 10, 16, 24, 40, 51, 61),
    (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77),
    (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101),
    (72, 92, 95, 98, 112, 100, 103, 99),
)
_JPEG_CHROMA = (
    tuple(tuple(v) for v in [[17, 18, 24, 47] + [99] * 4, [18, 21, 26, 66] + [99] * 4])
    + ((24, 26, 56, 99, 99, 99, 99, 99), (47, 66, 99, 99, 99, 99, 99, 99))
    + ((99,) * 8,) * 4
)


def _dct_matrix(device, dtype):
    k = torch.arange(8, device=device, dtype=dtype)
    basis = torch.cos((2 * k[None, :] + 1) * k[:, None] * math.pi / 16)
    basis[0] *= 1 / math.sqrt(2)
    return basis * 0.5  # orthonormal 8-point DCT-II


def _jpeg_like(x, quality, low, span):
    """JPEG's lossy step on each image: 8x8 block DCT of YCbCr (or grey) pixels, quantised
    with the standard tables scaled to ``quality`` (IJG's rule), rounded to 8 bits."""
    n, c, h, w = x.shape
    pixels = (x - low) * (255.0 / span)
    if c == 3:
        r, g, b = pixels.unbind(1)
        y = 0.299 * r + 0.587 * g + 0.114 * b
        planes = torch.stack([y, 0.564 * (b - y), 0.713 * (r - y)], dim=1)
        tables = (_JPEG_LUMA, _JPEG_CHROMA, _JPEG_CHROMA)
    else:
        planes = pixels
        tables = (_JPEG_LUMA,) * c
    planes = planes - 128 * (torch.arange(planes.shape[1], device=x.device) == 0).view(1, -1, 1, 1)
    ph, pw = -h % 8, -w % 8
    planes = F.pad(planes, (0, pw, 0, ph), mode="replicate")
    H, W = h + ph, w + pw
    blocks = planes.reshape(n, c, H // 8, 8, W // 8, 8).transpose(3, 4)
    d = _dct_matrix(x.device, x.dtype)
    coeffs = d @ blocks @ d.T
    scale = torch.where(quality < 50, 5000 / quality, 200 - 2 * quality).view(n, 1, 1, 1, 1, 1)
    base = torch.tensor(tables, device=x.device, dtype=x.dtype).view(1, c, 1, 1, 8, 8)
    step = torch.floor((base * scale + 50) / 100).clamp(min=1)
    blocks = d.T @ (torch.round(coeffs / step) * step) @ d
    planes = blocks.transpose(3, 4).reshape(n, c, H, W)[:, :, :h, :w]
    planes = planes + 128 * (torch.arange(c, device=x.device) == 0).view(1, -1, 1, 1)
    if c == 3:
        y, cb, cr = planes.unbind(1)
        r, b = y + cr / 0.713, y + cb / 0.564
        g = (y - 0.299 * r - 0.114 * b) / 0.587
        planes = torch.stack([r, g, b], dim=1)
    pixels = torch.round(planes.clamp(0, 255))
    return pixels * (span / 255.0) + low


def check_augmentation(augmentation, image_shape):
    """Resolve the ``augmentation`` parameter to a validated :class:`Augmentation` or None
    (a copy: the user's object is never changed)."""
    if augmentation is None:
        return None
    message = (
        'augmentation must be None, "auto", "near_duplicates", a dict or an Augmentation; '
        "got {!r}."
    )
    if isinstance(augmentation, str):
        if augmentation == "near_duplicates":
            c, h, w = image_shape
            if min(h, w) < 8:  # vectors (precomputed embeddings): no geometry to edit
                return Augmentation(brightness=0.2, noise=0.05)
            return Augmentation.near_duplicates()
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
