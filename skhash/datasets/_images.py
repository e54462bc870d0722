"""Loading image files (a list of files, or a class-per-subfolder tree) into arrays."""

import numbers
import os
import warnings
from collections.abc import Iterable

import numpy as np
from sklearn.utils import Bunch

__all__ = ["IMAGE_EXTENSIONS", "load_image_folder", "load_images"]

#: File extensions read by :func:`load_image_folder` by default (compared case-insensitively).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")

_COLOR_MODES = {"rgb": ("RGB", 3), "grayscale": ("L", 1)}
_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos")


def _check_image_size(image_size):
    """Return ``image_size`` as a ``(height, width)`` tuple of positive ints, or None."""
    if image_size is None:
        return None
    if isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    try:
        height, width = image_size
    except (TypeError, ValueError):
        raise ValueError(
            f"image_size must be an int, a (height, width) pair or None; got {image_size!r}."
        ) from None
    for value in (height, width):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(
                f"image_size must hold positive integers (height, width); got {image_size!r}."
            )
    return int(height), int(width)


def _check_color_mode(color_mode):
    if color_mode not in _COLOR_MODES:
        raise ValueError(f"color_mode must be 'rgb' or 'grayscale'; got {color_mode!r}.")
    return _COLOR_MODES[color_mode]


def _check_interpolation(interpolation):
    from PIL import Image

    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {_INTERPOLATIONS}; got {interpolation!r}.")
    return getattr(Image.Resampling, interpolation.upper())


def _read_image(path, pil_mode, size, resample):
    """Read one file as a float32 array of shape (C, H, W) in [0, 1]."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            if img.mode in ("I", "F") or img.mode.startswith("I;"):
                # 16/32-bit grey (e.g. 16-bit PNG or TIFF): scale in floating point, since a
                # direct conversion to 8 bits would clip everything above 255.
                scale = 1.0 if img.mode == "F" else 65535.0
                img = img.convert("F")
                if size is not None:
                    img = img.resize(size[::-1], resample=resample)
                array = np.clip(np.asarray(img, dtype=np.float32) / scale, 0.0, 1.0)
                array = array[np.newaxis]
                if pil_mode == "RGB":
                    array = np.repeat(array, 3, axis=0)
                return array
            if img.mode == "P" and "transparency" in img.info:
                img = img.convert("RGBA")
            if img.mode in ("RGBA", "LA", "PA"):
                # Composite transparent pixels on black, the value a missing pixel usually means.
                background = Image.new("RGBA", img.size, (0, 0, 0, 255))
                img = Image.alpha_composite(background, img.convert("RGBA"))
            img = img.convert(pil_mode)
            if size is not None and img.size != size[::-1]:
                img = img.resize(size[::-1], resample=resample)
            array = np.asarray(img, dtype=np.float32) / np.float32(255.0)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"Cannot read image file {os.fspath(path)!r}: {exc}") from exc
    if array.ndim == 2:
        return array[np.newaxis]
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def load_images(paths, *, image_size=(32, 32), color_mode="rgb", interpolation="bilinear"):
    """Load image files into one array of shape (n_images, C, H, W).

    Parameters
    ----------
    paths : sequence of str or path-like
        The image files, read in this order. A single path is read as a list of one.
    image_size : int, (height, width) or None, default=(32, 32)
        Size every image is resized to (an int means a square). None keeps the files' own
        size, which must then be the same for all of them.
    color_mode : {"rgb", "grayscale"}, default="rgb"
        ``"rgb"`` gives 3 channels, ``"grayscale"`` 1 channel (ITU-R 601-2 luma, Pillow's
        ``"L"`` conversion). Grey files are replicated to 3 channels in ``"rgb"``; transparent
        pixels are composited on black.
    interpolation : {"nearest", "bilinear", "bicubic", "lanczos"}, default="bilinear"
        Pillow resampling filter used by :meth:`PIL.Image.Image.resize`. Pillow's bilinear
        filter widens its support when shrinking, so it antialiases like torchvision's
        ``Resize(antialias=True)``.

    Returns
    -------
    images : ndarray of shape (n_images, C, H, W), dtype float32
        Pixel values in [0, 1] (8-bit files divided by 255, 16-bit ones by 65535), with C = 3
        for ``"rgb"`` and 1 for ``"grayscale"``.

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    ValueError
        If a file cannot be read as an image (the message names it), or if ``image_size`` is
        None and the images differ in size.

    See Also
    --------
    load_image_folder : load a class-per-subfolder tree of images with its labels.

    Notes
    -----
    EXIF orientation tags are applied (camera photos come out upright), and only the first
    frame of an animated GIF or multi-page TIFF is read.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skhash.datasets import load_images
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "red.png")
    >>> Image.new("RGB", (20, 10), (255, 0, 0)).save(path)
    >>> images = load_images([path, path], image_size=(8, 8))
    >>> images.shape, images.dtype
    ((2, 3, 8, 8), dtype('float32'))
    >>> images[0, :, 0, 0]
    array([1., 0., 0.], dtype=float32)
    >>> load_images([path], color_mode="grayscale", image_size=None).shape
    (1, 1, 10, 20)
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    if not isinstance(paths, Iterable):
        raise TypeError(
            f"paths must be a path or a sequence of paths to image files; got "
            f"{type(paths).__name__} {paths!r}."
        )
    paths = list(paths)
    for path in paths:
        if not isinstance(path, (str, bytes, os.PathLike)):
            raise TypeError(
                f"paths must hold paths to image files (str or path-like); got "
                f"{type(path).__name__} {path!r}."
            )
    size = _check_image_size(image_size)
    pil_mode, n_channels = _check_color_mode(color_mode)
    resample = _check_interpolation(interpolation)
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Image file {os.fspath(path)!r} does not exist.")
    if not paths:
        if size is None:
            raise ValueError("No image paths given (and image_size=None gives no shape).")
        return np.empty((0, n_channels, *size), dtype=np.float32)

    first = _read_image(paths[0], pil_mode, size, resample)
    images = np.empty((len(paths), *first.shape), dtype=np.float32)
    images[0] = first
    for i, path in enumerate(paths[1:], start=1):
        array = _read_image(path, pil_mode, size, resample)
        if array.shape != first.shape:
            raise ValueError(
                f"Image {os.fspath(path)!r} is {array.shape[2]}x{array.shape[1]} (width x "
                f"height) but {os.fspath(paths[0])!r} is {first.shape[2]}x{first.shape[1]}: "
                "pass an image_size to resize them all to one size."
            )
        images[i] = array
    return images


def _is_hidden(name):
    return name.startswith(".")


def _inside(path, folder):
    """Whether the real ``path`` lies in the real ``folder`` (or is it)."""
    return os.path.commonpath([path, folder]) == folder


class _ImageWalk:
    """Finds the image files of a class folder without leaving the root or looping.

    Symbolic links are followed only where ``symlinks`` allows (``"inside"``: when they point
    inside the root); a link to a folder already being walked (or to one above the class
    folder) would loop, and is skipped. Skipped links are remembered for one warning.
    """

    def __init__(self, root, extensions, symlinks):
        self.root_path = root
        self.root = os.path.realpath(root)
        self.extensions = extensions
        self.symlinks = symlinks
        self.outside, self.loops = [], []

    def _may_follow(self, entry):
        if not entry.is_symlink():
            return True
        if self.symlinks == "skip":
            self.outside.append(entry.path)
            return False
        if self.symlinks == "inside" and not _inside(os.path.realpath(entry.path), self.root):
            self.outside.append(entry.path)
            return False
        return True

    def class_folders(self):
        """Sorted names of the class subfolders of the root."""
        with os.scandir(self.root_path) as entries:
            return sorted(
                entry.name
                for entry in entries
                if not _is_hidden(entry.name) and entry.is_dir() and self._may_follow(entry)
            )

    def images(self, class_dir):
        """Sorted paths of the image files under ``class_dir``: files first, then folders."""
        found = []
        class_real = os.path.realpath(class_dir)
        visited = set()

        def visit(folder, real):
            visited.add(real)
            with os.scandir(folder) as scan:
                entries = sorted(
                    (e for e in scan if not _is_hidden(e.name) and self._may_follow(e)),
                    key=lambda e: e.name,
                )
            for entry in entries:
                if entry.is_file() and entry.name.lower().endswith(self.extensions):
                    found.append(entry.path)
            for entry in entries:
                if not entry.is_dir():
                    continue
                target = os.path.realpath(entry.path)
                if target in visited or _inside(class_real, target):
                    self.loops.append(entry.path)
                    continue
                visit(entry.path, target)

        visit(class_dir, class_real)
        return found

    def warn_if_skipped(self):
        messages = []
        if self.outside:
            where = "are not followed" if self.symlinks == "skip" else "lead out of the root"
            messages.append(
                f"{len(self.outside)} symbolic link(s) {where} (e.g. {self.outside[0]!r}); "
                "pass symlinks='follow' to read them"
            )
        if self.loops:
            messages.append(
                f"{len(self.loops)} link(s) to a folder already read, which would loop or "
                f"repeat images (e.g. {self.loops[0]!r})"
            )
        if messages:
            warnings.warn(
                "load_image_folder skipped " + "; ".join(messages) + ".", UserWarning, stacklevel=3
            )


def load_image_folder(
    path,
    *,
    image_size=(32, 32),
    color_mode="rgb",
    extensions=IMAGE_EXTENSIONS,
    interpolation="bilinear",
    return_paths=True,
    return_X_y=False,
    decode=True,
    symlinks="inside",
):
    """Load a folder of images laid out one subfolder per class.

    The layout is that of torchvision's ``ImageFolder``::

        path/
            cat/
                001.png
                002.jpg
            dog/
                a.png
                more/b.png

    Class names are the subfolder names, sorted; the label of an image is the position of its
    class in that list. Images are found recursively inside each class folder and read in
    sorted order, so the result does not depend on the file system. Files and folders whose
    name starts with a dot are skipped, as are files with another extension.

    **The rows come sorted by class** (all images of the first class, then the second, ...).
    Shuffle them, or split with stratification
    (:func:`~skhash.datasets.make_retrieval_split`, ``StratifiedKFold(shuffle=True)``),
    before taking any contiguous part; and score with tie-aware metrics (the default of
    ``score`` and the scorers), since ties in Hamming distance broken in database order
    favour the classes stored first.

    Symbolic links are followed only inside ``path`` by default: a link leading out of it,
    or to a folder already read (a loop), is skipped with a warning.

    Parameters
    ----------
    path : str or path-like
        The root folder.
    image_size : int, (height, width) or None, default=(32, 32)
        Size every image is resized to (an int means a square). None keeps the files' own
        size, which must then be the same for all of them.
    color_mode : {"rgb", "grayscale"}, default="rgb"
        ``"rgb"`` gives 3 channels, ``"grayscale"`` 1 channel.
    extensions : tuple of str, default=IMAGE_EXTENSIONS
        File extensions read, compared case-insensitively:
        ``(".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")`` by default.
    interpolation : {"nearest", "bilinear", "bicubic", "lanczos"}, default="bilinear"
        Pillow resampling filter used to resize (see :func:`load_images`).
    return_paths : bool, default=True
        Include the ``filenames`` of the images in the Bunch.
    return_X_y : bool, default=False
        If True, return ``(images, target)`` (``(filenames, target)`` when ``decode`` is
        False) instead of a Bunch.
    decode : bool, default=True
        If False, no image is read: the Bunch holds the ``filenames`` and ``target`` only,
        for the deep hashers, which read the paths as they train
        (``hasher.fit(folder.filenames, folder.target)``).
    symlinks : {"inside", "follow", "skip"}, default="inside"
        Which symbolic links are followed: those pointing inside ``path``, all of them, or
        none. Links to a folder already read are never followed (they would loop).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        images : ndarray of shape (n_images, C, H, W), dtype float32
            Pixel values in [0, 1]; C is 3 for ``"rgb"`` and 1 for ``"grayscale"``. Only
            when ``decode`` is True.
        target : ndarray of shape (n_images,), dtype int64
            Class index of each image, into ``target_names``.
        target_names : ndarray of shape (n_classes,), dtype str
            The class subfolder names, sorted.
        filenames : ndarray of shape (n_images,), dtype str
            Path of each image (when ``return_paths`` is True, or ``decode`` False).
        DESCR : str
            A one-line description of where the images came from.

    (images, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    NotADirectoryError
        If ``path`` is not a folder.
    ValueError
        If there is no class subfolder, a class subfolder holds no image, or an image cannot
        be read (the message names the file).

    See Also
    --------
    load_images : load a list of image files, without labels.

    Examples
    --------
    >>> import os, tempfile
    >>> from PIL import Image
    >>> from skhash.datasets import load_image_folder
    >>> root = tempfile.mkdtemp()
    >>> for name, colour in [("dark", 30), ("light", 220)]:
    ...     os.mkdir(os.path.join(root, name))
    ...     for i in range(3):
    ...         Image.new("L", (12, 12), colour).save(os.path.join(root, name, f"{i}.png"))
    >>> folder = load_image_folder(root, image_size=(16, 16), color_mode="grayscale")
    >>> folder.images.shape, folder.images.dtype
    ((6, 1, 16, 16), dtype('float32'))
    >>> folder.target.tolist(), folder.target_names.tolist()  # sorted by class
    ([0, 0, 0, 1, 1, 1], ['dark', 'light'])
    >>> paths = load_image_folder(root, decode=False)  # nothing read: paths and labels
    >>> sorted(paths), [os.path.basename(p) for p in paths.filenames[:2]]
    (['DESCR', 'filenames', 'target', 'target_names'], ['0.png', '1.png'])
    """
    root = os.fspath(path)
    if not os.path.exists(root):
        raise FileNotFoundError(f"Image folder {root!r} does not exist.")
    if not os.path.isdir(root):
        raise NotADirectoryError(f"{root!r} is not a folder; expected one subfolder per class.")
    if isinstance(extensions, str):
        extensions = (extensions,)
    extensions = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions)
    if not extensions:
        raise ValueError("extensions must name at least one file extension.")
    # Check the other arguments before reading any file.
    _check_image_size(image_size)
    _check_color_mode(color_mode)
    _check_interpolation(interpolation)
    if symlinks not in ("inside", "follow", "skip"):
        raise ValueError(
            f"symlinks must be one of ['inside', 'follow', 'skip']; got {symlinks!r}."
        )

    walk = _ImageWalk(root, extensions, symlinks)
    classes = walk.class_folders()
    if not classes:
        raise ValueError(
            f"Image folder {root!r} has no class subfolders; expected one subfolder per class "
            "(path/<class name>/<image file>)."
        )

    filenames, target, empty = [], [], []
    for label, name in enumerate(classes):
        files = walk.images(os.path.join(root, name))
        if not files:
            empty.append(name)
        filenames.extend(files)
        target.extend([label] * len(files))
    walk.warn_if_skipped()
    if empty:
        raise ValueError(
            f"No image files with extensions {extensions} in the class folder(s) {empty} of "
            f"{root!r}; remove the folder(s) or pass other extensions."
        )

    target = np.asarray(target, dtype=np.int64)
    if not decode:
        filenames = np.asarray(filenames, dtype=str)
        if return_X_y:
            return filenames, target
        return Bunch(
            filenames=filenames,
            target=target,
            target_names=np.asarray(classes, dtype=str),
            DESCR=(
                f"{len(filenames)} image paths in {len(classes)} classes found in {root!r} "
                "(not decoded)."
            ),
        )
    images = load_images(
        filenames, image_size=image_size, color_mode=color_mode, interpolation=interpolation
    )
    if return_X_y:
        return images, target
    bunch = Bunch(
        images=images,
        target=target,
        target_names=np.asarray(classes, dtype=str),
        DESCR=(
            f"{len(filenames)} images in {len(classes)} classes loaded from {root!r}, resized "
            f"to {image_size} (height, width) with {interpolation} interpolation, "
            f"{color_mode}, float32 in [0, 1]."
        ),
    )
    if return_paths:
        bunch.filenames = np.asarray(filenames, dtype=str)
    return bunch
