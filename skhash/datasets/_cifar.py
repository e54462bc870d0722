"""CIFAR-10 and CIFAR-100 from their python pickle batches on local disk."""

import io
import os
import pickle
import tarfile

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_cifar"]

# The files of each python version of the data sets, as distributed by their authors.
_LAYOUTS = {
    10: {
        "folder": "cifar-10-batches-py",
        "train": [f"data_batch_{i}" for i in range(1, 6)],
        "test": ["test_batch"],
        "meta": "batches.meta",
    },
    100: {"folder": "cifar-100-python", "train": ["train"], "test": ["test"], "meta": "meta"},
}
_SUBSETS = ("all", "train", "test")
_LABEL_KINDS = ("fine", "coarse", "both")

# What the batches may contain: numpy arrays and plain Python values. Anything else in a
# pickle (which could run code when loaded) is refused.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"a CIFAR batch holds arrays, lists and strings only; this file refers to "
            f"{module}.{name}"
        )


def _unpickle(data, name):
    """A batch's dict, keys as str (the original batches were pickled by Python 2)."""
    try:
        batch = _BatchUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as exc:  # any malformed pickle: say which file
        raise ValueError(f"Cannot read the CIFAR batch {name!r}: {exc}") from exc
    if not isinstance(batch, dict):
        raise ValueError(f"The CIFAR batch {name!r} is not a dictionary.")
    return {key.decode("latin1") if isinstance(key, bytes) else key: v for key, v in batch.items()}


class _Source:
    """Reads the batch files from a folder or from the downloaded ``.tar.gz`` archive."""

    def __init__(self, path):
        self.path = path
        self._archive = None
        if os.path.isfile(path):
            try:
                self._archive = tarfile.open(path, "r:*")
            except tarfile.TarError as exc:
                raise ValueError(
                    f"{path!r} is a file but not a tar archive; pass the folder holding the "
                    "CIFAR batches or the downloaded cifar-*-python.tar.gz."
                ) from exc
            self._members = {
                os.path.basename(m.name): m for m in self._archive.getmembers() if m.isfile()
            }

    def has(self, name):
        if self._archive is not None:
            return name in self._members
        return os.path.isfile(os.path.join(self.path, name))

    def read(self, name):
        if self._archive is not None:
            return self._archive.extractfile(self._members[name]).read()
        with open(os.path.join(self.path, name), "rb") as file:
            return file.read()

    def close(self):
        if self._archive is not None:
            self._archive.close()


def _find_layout(path):
    """The ``(source, n_classes)`` of a CIFAR folder, its parent, or archive."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"CIFAR path {path!r} does not exist.")
    candidates = [path]
    if os.path.isdir(path):
        candidates += [os.path.join(path, layout["folder"]) for layout in _LAYOUTS.values()]
    partial = None  # (where, missing names) of a layout found in part
    for candidate in candidates:
        if not os.path.exists(candidate):
            continue
        source = _Source(candidate)
        for n_classes, layout in _LAYOUTS.items():
            names = (*layout["train"], *layout["test"])
            missing = [name for name in names if not source.has(name)]
            if not missing:
                return source, n_classes
            if len(missing) < len(names) and partial is None:
                partial = (candidate, missing)
        source.close()
    if partial is not None:
        where, missing = partial
        raise FileNotFoundError(
            f"The CIFAR batches at {where!r} are incomplete: missing {', '.join(missing)}."
        )
    raise FileNotFoundError(
        f"No CIFAR python batches found at {path!r}: expected the files of "
        "cifar-10-batches-py (data_batch_1 .. data_batch_5, test_batch, batches.meta) or of "
        "cifar-100-python (train, test, meta), in that folder, its parent, or the "
        "downloaded .tar.gz archive."
    )


def _read_batch(source, name, label_keys):
    """A batch's images, its labels under each of ``label_keys``, and its file names."""
    batch = _unpickle(source.read(name), name)
    for key in ("data", *label_keys):
        if key not in batch:
            raise ValueError(
                f"The CIFAR batch {name!r} has no {key!r} entry; its keys are {sorted(batch)}."
            )
    data = np.asarray(batch["data"])
    labels = [np.asarray(batch[key], dtype=np.int64) for key in label_keys]
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(
            f"The CIFAR batch {name!r} holds data of dtype {data.dtype} and shape "
            f"{data.shape}; expected uint8 rows of 3072 values (3 x 32 x 32)."
        )
    for column in labels:
        if column.shape != (len(data),):
            raise ValueError(
                f"The CIFAR batch {name!r} has {len(data)} images but {column.size} labels."
            )
    filenames = batch.get("filenames")
    if filenames is None or len(filenames) != len(data):
        filenames = [f"{name}/{i}" for i in range(len(data))]
    filenames = [f.decode("latin1") if isinstance(f, bytes) else str(f) for f in filenames]
    return data.reshape(-1, 3, 32, 32), labels, filenames


def _class_names(source, n_classes, label_type):
    name = _LAYOUTS[n_classes]["meta"]
    if not source.has(name):
        return None
    meta = _unpickle(source.read(name), name)
    key = "label_names" if n_classes == 10 else f"{label_type}_label_names"
    names = meta.get(key)
    if names is None:
        return None
    return np.asarray([n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names])


def load_cifar(path, *, subset="all", label_type="fine", return_X_y=False):
    """Load CIFAR-10 or CIFAR-100 from the python version of the data set on local disk.

    Nothing is downloaded. ``path`` is the folder of the batches (``cifar-10-batches-py`` or
    ``cifar-100-python``, as extracted from the authors' archive), the folder holding it, or
    the ``.tar.gz`` archive itself. Which of the two data sets it is comes from the file
    names. The batches are pickles; only arrays, lists and strings are accepted in them, so
    a file that would run code when unpickled is refused.

    =================   ==================   ===================
    Data set            CIFAR-10             CIFAR-100
    =================   ==================   ===================
    Classes             10                   100 fine, 20 coarse
    Images              50,000 + 10,000      50,000 + 10,000
    Image shape         3 x 32 x 32          3 x 32 x 32
    Pixel values        0 to 255 (uint8)     0 to 255 (uint8)
    =================   ==================   ===================

    The rows come in the order of the files (train batches, then test), which is not sorted
    by class. The hashing protocols (e.g. ``RetrievalProtocol.preset("cifar10")``) pool the
    60,000 images and draw their own query, training and database sets: hence
    ``subset="all"`` by default.

    Parameters
    ----------
    path : str or path-like
        The batches' folder, its parent folder, or the downloaded ``.tar.gz`` archive.
    subset : {"all", "train", "test"}, default="all"
        Which batches: the 50,000 training images, the 10,000 test images, or both (train
        first).
    label_type : {"fine", "coarse", "both"}, default="fine"
        CIFAR-100 only: the 100 fine classes, the 20 superclasses, or both: ``target`` then
        holds the fine classes and the Bunch adds ``target_coarse``, ``coarse_names`` and
        ``hierarchy``, the superclass of each fine class, which the graded metrics
        (:func:`skhash.metrics.ndcg_at_k`, ...), ``granularity="coarse"`` and the deep
        hashers' ``hierarchy`` take as it is.
    return_X_y : bool, default=False
        If True, return ``(images, target)`` instead of a Bunch; with ``label_type="both"``,
        ``(images, target, hierarchy)``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        images : ndarray of shape (n_images, 3, 32, 32), dtype uint8
            The images, channels first (RGB).
        target : ndarray of shape (n_images,), dtype int64
            Class index of each image, into ``target_names``.
        target_names : ndarray of str
            The class names from the ``meta`` file (class indices as strings without it).
        filenames : ndarray of str
            The file name each batch records for its images.
        subset : ndarray of str
            ``"train"`` or ``"test"`` for each image.
        DESCR : str
            Which data set and files were read.
        target_coarse : ndarray of shape (n_images,), dtype int64
            With ``label_type="both"``: the superclass of each image.
        coarse_names : ndarray of str
            With ``label_type="both"``: the superclass names.
        hierarchy : ndarray of shape (100,), dtype int64
            With ``label_type="both"``: entry ``f`` is the superclass of fine class ``f``,
            read from the labels themselves (an inconsistent file is refused).

    (images, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or holds no CIFAR batches.
    ValueError
        If a batch cannot be read (the message names it), or for an invalid argument.

    Examples
    --------
    A tiny batch in the CIFAR-10 format (the real files hold 10,000 images each):

    >>> import os, pickle, tempfile
    >>> import numpy as np
    >>> from skhash.datasets import load_cifar
    >>> folder = os.path.join(tempfile.mkdtemp(), "cifar-10-batches-py")
    >>> os.mkdir(folder)
    >>> rng = np.random.default_rng(0)
    >>> names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    >>> for name in names:
    ...     batch = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
    ...              b"labels": [0, 1, 2, 3]}
    ...     with open(os.path.join(folder, name), "wb") as f:
    ...         pickle.dump(batch, f)
    >>> cifar = load_cifar(folder)
    >>> cifar.images.shape, cifar.images.dtype
    ((24, 3, 32, 32), dtype('uint8'))
    >>> load_cifar(folder, subset="test").target.tolist()
    [0, 1, 2, 3]

    CIFAR-100's fine classes and superclasses together (a tiny batch again):

    >>> folder = os.path.join(tempfile.mkdtemp(), "cifar-100-python")
    >>> os.mkdir(folder)
    >>> for name in ("train", "test"):
    ...     fine = np.arange(100)
    ...     batch = {b"data": rng.integers(0, 256, (100, 3072), dtype=np.uint8),
    ...              b"fine_labels": fine.tolist(), b"coarse_labels": (fine // 5).tolist()}
    ...     with open(os.path.join(folder, name), "wb") as f:
    ...         pickle.dump(batch, f)
    >>> cifar = load_cifar(folder, label_type="both")
    >>> cifar.target[:7].tolist(), cifar.target_coarse[:7].tolist()
    ([0, 1, 2, 3, 4, 5, 6], [0, 0, 0, 0, 0, 1, 1])
    >>> cifar.hierarchy[:7].tolist()
    [0, 0, 0, 0, 0, 1, 1]
    """
    if subset not in _SUBSETS:
        raise ValueError(f"subset must be one of {list(_SUBSETS)}; got {subset!r}.")
    if label_type not in _LABEL_KINDS:
        raise ValueError(f"label_type must be one of {list(_LABEL_KINDS)}; got {label_type!r}.")
    source, n_classes = _find_layout(os.fspath(path))
    try:
        if n_classes == 10 and label_type != "fine":
            raise ValueError(
                f"CIFAR-10 has one kind of labels: label_type={label_type!r} is CIFAR-100's."
            )
        kinds = ("fine", "coarse") if label_type == "both" else (label_type,)
        label_keys = ["labels"] if n_classes == 10 else [f"{kind}_labels" for kind in kinds]
        layout = _LAYOUTS[n_classes]
        parts = ("train", "test") if subset == "all" else (subset,)
        images, targets, filenames, origin = [], [[] for _ in label_keys], [], []
        for part in parts:
            for name in layout[part]:
                data, labels, names = _read_batch(source, name, label_keys)
                images.append(data)
                for target, column in zip(targets, labels, strict=True):
                    target.append(column)
                filenames.extend(names)
                origin.extend([part] * len(data))
        names_of = {kind: _class_names(source, n_classes, kind) for kind in kinds}
    finally:
        source.close()
    images = np.concatenate(images)
    targets = [np.concatenate(target) for target in targets]
    for kind, target in zip(kinds, targets, strict=True):
        n_labels = n_classes if kind == "fine" else 20
        if target.min() < 0 or target.max() >= n_labels:
            raise ValueError(
                f"The CIFAR-{n_classes} {kind} labels must lie in 0..{n_labels - 1}; got "
                f"values from {target.min()} to {target.max()}."
            )
        if names_of[kind] is None or len(names_of[kind]) != n_labels:
            names_of[kind] = np.asarray([str(i) for i in range(n_labels)])
    target = targets[0]
    hierarchy = _hierarchy(*targets) if label_type == "both" else None
    if return_X_y:
        return (images, target) if hierarchy is None else (images, target, hierarchy)
    bunch = Bunch(
        images=images,
        target=target,
        target_names=names_of[kinds[0]],
        filenames=np.asarray(filenames, dtype=str),
        subset=np.asarray(origin, dtype=str),
        DESCR=(
            f"CIFAR-{n_classes} ({label_type} labels), {subset} images: {len(target)} uint8 "
            f"images of 3 x 32 x 32 read from {os.fspath(path)!r}."
        ),
    )
    if hierarchy is not None:
        bunch.update(
            target_coarse=targets[1], coarse_names=names_of["coarse"], hierarchy=hierarchy
        )
    return bunch


def _hierarchy(fine, coarse):
    """The superclass of each of the 100 fine classes, read from the labels of the images.

    A fine class seen with two superclasses is refused; one absent from the images (possible
    in a partial copy) gets -1.
    """
    hierarchy = np.full(100, -1, dtype=np.int64)
    pairs = np.unique(np.stack([fine, coarse], axis=1), axis=0)
    classes, counts = np.unique(pairs[:, 0], return_counts=True)
    if (counts > 1).any():
        raise ValueError(
            "The CIFAR-100 labels give several superclasses to the fine classes "
            f"{classes[counts > 1][:5].tolist()}: the coarse and fine labels do not agree."
        )
    hierarchy[pairs[:, 0]] = pairs[:, 1]
    return hierarchy
