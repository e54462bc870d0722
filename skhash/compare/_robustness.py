"""Robustness of hashers to perturbed queries: the edits a copy of an image goes through.

:func:`perturb` is the one implementation of these edits in skhash: the robustness part of
``compare`` and the near-duplicate benchmark (``benchmarks/robust_retrieval.py``) both use it.
"""

from numbers import Real

import numpy as np
import pandas as pd
from scipy import ndimage
from sklearn.utils import check_random_state

from ..metrics import mean_average_precision
from ._methods import resolve_methods
from ._result import KEYS
from ._runner import check_n_bits, check_protocol, prepare_data, run_protocol

__all__ = ["PERTURBATIONS", "perturb", "robustness"]

#: Default strengths of each perturbation: noise and brightness as a fraction of the pixel
#: range, rotation in degrees, crop as the fraction of each side cut away, JPEG as
#: ``100 - quality``, scale as the fraction of the resolution lost, gain and contrast as the
#: relative change, blur as the Gaussian's standard deviation in pixels, hflip as the
#: probability of a flip (see :func:`perturb`).
PERTURBATIONS = {
    "noise": (0.05, 0.1, 0.2),
    "rotation": (5.0, 15.0, 30.0),
    "crop": (0.1, 0.2, 0.3),
    "brightness": (0.1, 0.2, 0.4),
    "jpeg": (50.0, 70.0, 90.0),
    "scale": (0.25, 0.5, 0.75),
    "gain": (0.1, 0.3, 0.5),
    "contrast": (0.2, 0.4, 0.6),
    "blur": (0.5, 1.0, 2.0),
    "hflip": (1.0,),
}


def _as_images(X, image_shape):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim in (3, 4):
        return X, X.shape
    if X.ndim != 2:
        raise ValueError(f"X must be images or flat vectors; got shape {X.shape}.")
    if image_shape is None:
        side = int(round(np.sqrt(X.shape[1])))
        if side * side != X.shape[1]:
            raise ValueError(
                f"Cannot tell the image shape of {X.shape[1]} features: pass image_shape."
            )
        image_shape = (side, side)
    return X.reshape(len(X), *image_shape), X.shape


def _crop_resize(image, strength, rng):
    """Keep a random window ``1 - strength`` of each side, resampled to the full size.

    The window has a continuous size and position (bilinear sampling), so that every strength
    gives a different crop even on 8x8 images.
    """
    height, width = image.shape[-2:]
    grids = []
    for size in (height, width):
        window = size * (1.0 - strength)
        start = rng.uniform(0.0, size - window)
        grids.append(start + (np.arange(size) + 0.5) * window / size - 0.5)
    rows, cols = np.meshgrid(*grids, indexing="ij")
    planes = image.reshape(-1, height, width)
    out = [ndimage.map_coordinates(p, [rows, cols], order=1, mode="nearest") for p in planes]
    return np.reshape(out, image.shape)


def _planes_to_pil(planes, low, span):
    """``(C, H, W)`` float pixels as an 8-bit Pillow image ("L" or "RGB") and back."""
    from PIL import Image

    pixels = np.clip(np.rint((planes - low) * (255.0 / span)), 0, 255).astype(np.uint8)
    if len(pixels) == 3:
        return Image.fromarray(np.ascontiguousarray(pixels.transpose(1, 2, 0)), mode="RGB")
    return [Image.fromarray(p, mode="L") for p in pixels]


def _jpeg(image, quality, low, span):
    """JPEG-compress one ``(..., H, W)`` image at ``quality`` with Pillow, as a file would be
    (colour images as RGB, 4:2:0 chroma subsampling; other channels one by one, grey)."""
    import io

    from PIL import Image

    planes = image.reshape(-1, *image.shape[-2:])
    pil = _planes_to_pil(planes, low, span)
    out = []
    for one in pil if isinstance(pil, list) else [pil]:
        buffer = io.BytesIO()
        one.save(buffer, format="JPEG", quality=int(quality))
        with Image.open(buffer) as decoded:
            pixels = np.asarray(decoded, dtype=np.float64)
        out.append(pixels.transpose(2, 0, 1) if pixels.ndim == 3 else pixels[None])
    return (np.concatenate(out) * (span / 255.0) + low).reshape(image.shape)


def _rescale(image, factor):
    """Shrink one image to ``factor`` of its size (antialiased bilinear) and enlarge it back:
    a rescaled copy compared at the original's size."""
    from PIL import Image

    height, width = image.shape[-2:]
    small = (max(1, round(width * factor)), max(1, round(height * factor)))
    planes = image.reshape(-1, height, width)
    out = []
    for plane in planes:
        pil = Image.fromarray(plane.astype(np.float32), mode="F")
        pil = pil.resize(small, Image.Resampling.BILINEAR).resize(
            (width, height), Image.Resampling.BILINEAR
        )
        out.append(np.asarray(pil, dtype=np.float64))
    return np.reshape(out, image.shape)


def _luminance(image):
    """Mean grey level of one ``(..., H, W)`` image (ITU-R 601-2 luma for 3 channels)."""
    if image.ndim == 3 and image.shape[0] == 3:
        return float(np.tensordot([0.299, 0.587, 0.114], image, axes=1).mean())
    return float(image.mean())


def perturb(X, kind, strength, *, image_shape=None, value_range=None, random_state=None):
    """Perturb images as a query might be in the wild.

    Parameters
    ----------
    X : array-like of shape (n, H, W), (n, C, H, W) or (n, H * W)
        Images (flat vectors are reshaped with ``image_shape``, or to a square).
    kind : {"noise", "rotation", "crop", "brightness", "jpeg", "scale", "gain", \
"contrast", "blur", "hflip"}
        ``"noise"``: add Gaussian noise of standard deviation ``strength`` times the pixel
        range. ``"rotation"``: rotate by ``strength`` degrees, clockwise or not at random.
        ``"crop"``: cut a random window ``1 - strength`` of each side and resize it back.
        ``"brightness"``: add ``strength`` times the pixel range.
        ``"jpeg"``: compress with Pillow's JPEG encoder at quality ``100 - strength`` (the
        pixels as 8-bit values of the range). ``"scale"``: shrink to ``1 - strength`` of the
        size (antialiased) and enlarge back. ``"gain"``: multiply the pixels (above the
        range's low end) by ``1 + strength`` or ``1 - strength``, at random.
        ``"contrast"``: scale each image's deviation from its mean grey level by
        ``1 + strength`` or ``1 - strength``, at random. ``"blur"``: Gaussian blur of
        standard deviation ``strength`` pixels. ``"hflip"``: flip left-right, each image with
        probability ``strength``.
    strength : float
        Non-negative; 0 returns an unchanged copy. At most 99 for ``"jpeg"``, below 1 for
        ``"crop"`` and ``"scale"``, at most 1 for ``"hflip"``.
    image_shape : tuple of int, default=None
        Shape of one image when ``X`` holds flat vectors.
    value_range : (float, float), default=None
        Pixel range ``(low, high)``; results are clipped to it. Default: the min and max of
        ``X``.
    random_state : int, RandomState instance or None, default=None
        Draws the noise, rotation signs and crop windows.

    Returns
    -------
    X_perturbed : ndarray of the shape of ``X``, dtype float64

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.compare import perturb
    >>> images = np.zeros((2, 8, 8))
    >>> images[:, 2:6, 2:6] = 1.0
    >>> perturb(images, "brightness", 0.25).max()
    np.float64(1.0)
    >>> bool(np.array_equal(perturb(images, "rotation", 0.0), images))
    True
    >>> perturb(images, "crop", 0.25, random_state=0).shape
    (2, 8, 8)
    """
    if kind not in PERTURBATIONS:
        raise ValueError(f"kind must be one of {sorted(PERTURBATIONS)}; got {kind!r}.")
    if isinstance(strength, bool) or not isinstance(strength, Real) or strength < 0:
        raise ValueError(f"strength must be a non-negative number; got {strength!r}.")
    if kind in ("crop", "scale") and strength >= 1:
        raise ValueError(f"{kind} strength is the fraction cut away, in [0, 1); got {strength}.")
    if kind == "jpeg" and strength > 99:
        raise ValueError(f"jpeg strength is 100 - quality, in [0, 99]; got {strength}.")
    if kind == "hflip" and strength > 1:
        raise ValueError(f"hflip strength is a probability, in [0, 1]; got {strength}.")
    images, shape = _as_images(X, image_shape)
    low, high = (images.min(), images.max()) if value_range is None else value_range
    span = float(high - low) or 1.0
    if strength == 0:
        return images.reshape(shape).copy()
    rng = np.random.default_rng(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    if kind == "noise":
        out = images + rng.normal(0.0, strength * span, size=images.shape)
    elif kind == "brightness":
        out = images + strength * span
    elif kind == "rotation":
        out = np.empty_like(images)
        signs = rng.choice([-1.0, 1.0], size=len(images))
        for i, (image, sign) in enumerate(zip(images, signs, strict=True)):
            out[i] = ndimage.rotate(
                image, sign * strength, axes=(-2, -1), reshape=False, order=1, cval=low
            )
    elif kind == "crop":
        out = np.stack([_crop_resize(image, strength, rng) for image in images])
    elif kind == "jpeg":
        out = np.stack([_jpeg(image, 100 - strength, low, span) for image in images])
    elif kind == "scale":
        out = np.stack([_rescale(image, 1.0 - strength) for image in images])
    elif kind == "gain":
        signs = rng.choice([-1.0, 1.0], size=len(images))
        factors = (1.0 + signs * strength).reshape(-1, *([1] * (images.ndim - 1)))
        out = low + (images - low) * factors
    elif kind == "contrast":
        signs = rng.choice([-1.0, 1.0], size=len(images))
        out = np.empty_like(images)
        for i, (image, sign) in enumerate(zip(images, signs, strict=True)):
            grey = _luminance(image)
            out[i] = grey + (1.0 + sign * strength) * (image - grey)
    elif kind == "blur":
        sigma = [0.0] * (images.ndim - 2) + [strength, strength]
        out = ndimage.gaussian_filter(images, sigma=sigma, mode="reflect")
    else:  # hflip
        flip = rng.random(len(images)) < strength
        out = images.copy()
        out[flip] = images[flip][..., ::-1]
    return np.clip(out, low, high).reshape(shape)


def _check_perturbations(perturbations):
    if perturbations is None:
        return {kind: tuple(values) for kind, values in PERTURBATIONS.items()}
    out = {}
    for kind, values in dict(perturbations).items():
        if kind not in PERTURBATIONS:
            raise ValueError(f"Unknown perturbation {kind!r}; known: {sorted(PERTURBATIONS)}.")
        out[kind] = tuple(np.atleast_1d(values).tolist())
    return out


def _perturbed_map(cell, y, perturbed, map_k):
    """robustness's rows of one fitted setting: the mAP of each perturbed set of queries."""
    q, db = cell.split.query_indices, cell.split.database_indices
    k = None if map_k is None else min(map_k, len(db))
    rows = []
    for (kind, strength), queries in perturbed(cell).items():
        if cell.family != "deep":
            queries = queries.reshape(len(queries), -1)
        distances = cell.index.distances(cell.hasher.transform(queries))
        value = mean_average_precision(y[q], y[db], distances, k=k, tie_aware=True)
        clean = cell.row["mAP"]
        rows.append(
            {
                "perturbation": kind,
                "strength": float(strength),
                "clean_mAP": clean,
                "mAP": value,
                "mAP_drop": clean - value,
                "relative_drop": (clean - value) / clean if clean else 0.0,
            }
        )
    return rows


def robustness(
    methods="classic",
    X=None,
    y=None,
    *,
    n_bits=32,
    perturbations=None,
    protocol="auto",
    image_shape=None,
    quick=False,
    device=None,
    validation_fraction=0.1,
    random_state=None,
    verbose=None,
):
    """mAP of each method when the queries are perturbed, and its drop from the clean mAP.

    Each method learns from clean training images and indexes the clean database, under the
    same protocol runner as :func:`compare`; the same perturbed queries are then ranked by
    every method. The drop is ``clean mAP - perturbed mAP`` (positive when the perturbation
    hurts). A collapsed model (``status="degenerate"``, see :func:`compare`) barely drops
    because it had nothing to lose: do not read its small drop as robustness.

    Parameters
    ----------
    methods : "all", "classic", "deep", list or dict, default="classic"
        As in :func:`compare`.
    X : array-like of shape (n, H, W), (n, C, H, W) or (n, H * W)
        Images (flat vectors are reshaped with ``image_shape``, or to a square).
    y : array-like of shape (n_samples,) or (n_samples, n_classes)
        Labels.
    n_bits : int or sequence of int, default=32
        Code lengths.
    perturbations : dict of str to sequence of float, default=None
        Perturbation kinds (see :func:`perturb`) and their strengths; None uses
        :data:`PERTURBATIONS`.
    protocol : "auto", str or RetrievalProtocol, default="auto"
        Query / training / database split, as in :func:`compare`.
    image_shape : tuple of int, default=None
        Shape of one image when ``X`` holds flat vectors.
    quick, device, validation_fraction : see :func:`compare`.
    random_state : int, RandomState instance or None, default=None
        Seeds the splits, the hashers and the perturbations.
    verbose : int or None, default=None
        As in :func:`compare`: None shows a progress bar in a notebook only.

    Returns
    -------
    drops : pandas.DataFrame
        One row per (method, bits, repeat, perturbation, strength): ``method``, ``family``,
        ``bits``, ``repeat``, ``status``, ``note``, ``perturbation``, ``strength``,
        ``clean_mAP``, ``mAP``, ``mAP_drop`` and ``relative_drop`` (drop / clean mAP); a
        failed setting has one row with ``status="failed"`` and no scores.

    See Also
    --------
    perturb : The perturbations.
    compare : Clean retrieval quality, times and curves.

    Examples
    --------
    >>> from skhash.compare import robustness
    >>> from skhash.datasets import load_digits
    >>> X, y = load_digits(as_images=True, return_X_y=True)
    >>> drops = robustness(["ITQ"], X, y, n_bits=16, perturbations={"noise": [0.0, 0.3]},
    ...                    random_state=0)
    >>> drops[["perturbation", "strength", "status"]].values.tolist()
    [['noise', 0.0, 'ok'], ['noise', 0.3, 'ok']]
    >>> float(drops["mAP_drop"].iloc[0])
    0.0
    """
    n_bits = check_n_bits(n_bits)
    perturbations = _check_perturbations(perturbations)
    if X is None:
        raise ValueError("robustness() needs images X (and labels y).")
    resolved = resolve_methods(methods, quick=quick, device=device)
    images, _ = _as_images(X, image_shape)
    vectors, images, y = prepare_data(images, y)
    value_range = (float(images.min()), float(images.max()))
    protocol = check_protocol(protocol, len(y))

    cache = {}

    def perturbed(cell):
        # The same perturbed queries for every method of a repeat, seeded by its split.
        if cell.repeat not in cache:
            queries = images[cell.split.query_indices]
            cache.clear()
            cache[cell.repeat] = {
                (kind, s): perturb(
                    queries, kind, s, value_range=value_range, random_state=cell.seed + j
                )
                for j, (kind, values) in enumerate(perturbations.items())
                for s in values
            }
        return cache[cell.repeat]

    rows = run_protocol(
        resolved,
        vectors,
        images,
        y,
        n_bits=n_bits,
        protocol=protocol,
        evaluate=lambda cell: _perturbed_map(cell, y, perturbed, protocol.map_k),
        random_state=random_state,
        validation_fraction=validation_fraction,
        verbose=verbose,
        desc="robustness",
    )
    columns = [
        *KEYS,
        "status",
        "note",
        "perturbation",
        "strength",
        "clean_mAP",
        "mAP",
        "mAP_drop",
        "relative_drop",
    ]
    return pd.DataFrame(rows).reindex(columns=columns)
