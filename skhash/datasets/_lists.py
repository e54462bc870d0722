"""Image list files: one ``path label ...`` line per image, as DeepHash-pytorch keeps them."""

import os

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_image_list"]

_TARGET_TYPES = ("auto", "class_ids", "indicator")


def _parse_line(line, number, list_file):
    tokens = line.split()
    if len(tokens) < 2:
        raise ValueError(
            f"Line {number} of {list_file!r} has no label: expected 'path label ...', e.g. "
            f"'img/1.jpg 0 1 0' (one-hot or multi-hot) or 'img/1.jpg 3' (class id); got "
            f"{line.strip()!r}."
        )
    try:
        labels = [int(token) for token in tokens[1:]]
    except ValueError:
        raise ValueError(
            f"Line {number} of {list_file!r}: labels must be integers; got "
            f"{' '.join(tokens[1:])!r}. (Paths with spaces are not supported by this format.)"
        ) from None
    if min(labels) < 0:
        raise ValueError(f"Line {number} of {list_file!r}: labels must be >= 0; got {labels}.")
    return tokens[0], labels


def _targets(rows, list_file, target_type):
    """1-D class ids or a 2-D indicator matrix from the parsed label rows."""
    lengths = {len(labels) for labels in rows}
    if lengths == {1}:
        ids = np.asarray([labels[0] for labels in rows], dtype=np.int64)
        if target_type == "indicator":
            return (ids[:, None] == np.arange(ids.max() + 1)).astype(np.uint8)
        return ids
    if len(lengths) > 1:
        raise ValueError(
            f"The lines of {list_file!r} have different numbers of labels ({sorted(lengths)}): "
            "expected one class id per line, or one 0/1 indicator per class on every line."
        )
    matrix = np.asarray(rows, dtype=np.int64)
    if matrix.max() > 1:
        raise ValueError(
            f"The label rows of {list_file!r} must be 0/1 indicators (one column per class); "
            f"got the value {matrix.max()}."
        )
    matrix = matrix.astype(np.uint8)
    if target_type != "class_ids":
        return matrix
    n_labels = matrix.sum(axis=1)
    if (n_labels != 1).any():
        line = int(np.flatnonzero(n_labels != 1)[0]) + 1
        raise ValueError(
            f"target_type='class_ids' needs one label per image, but image {line} of "
            f"{list_file!r} has {n_labels[line - 1]}: it is a multi-label list; use "
            "target_type='indicator'."
        )
    return matrix.argmax(axis=1).astype(np.int64)


def load_image_list(
    list_file,
    *,
    root=None,
    target_type="auto",
    check_files=True,
    allow_outside_root=False,
    return_X_y=False,
):
    """Read an image list file: the paths of the images and their labels, nothing decoded.

    Each non-empty line holds an image path and its labels, separated by whitespace, in the
    format of the DeepHash-pytorch data lists::

        train/cat/001.jpg 0 1 0 0
        train/dog/002.jpg 0 0 1 1

    with one 0/1 indicator per class (one-hot for single-label data, multi-hot for
    multi-label data), or a single class id per line (``train/cat/001.jpg 1``). Only the
    list is read: the images stay on disk, and the paths can be given to the deep hashers,
    which read the images as they train (``hasher.fit(bunch.filenames, bunch.target)``).

    Parameters
    ----------
    list_file : str or path-like
        The list file.
    root : str or path-like, default=None
        Folder the relative paths of the list start from; None means the list file's own
        folder. (DeepHash-pytorch prefixes its ``data_path``, e.g. ``/dataset/cifar/``.)
        Every listed path must stay inside ``root``: an absolute path, or one whose
        ``..`` leads out of it, is refused unless ``allow_outside_root=True`` (a list from
        elsewhere cannot then make a program read, or hand a model, other files).
    target_type : {"auto", "class_ids", "indicator"}, default="auto"
        The form of ``target``. ``"auto"``: as written in the file (class ids give a 1-D
        array, indicator rows a 2-D matrix). ``"class_ids"``: 1-D class ids, also from
        one-hot rows (an error if a row has several labels). ``"indicator"``: always the
        2-D 0/1 matrix. Load the query and database lists of one data set with the same
        setting, so that their labels have the same form.
    check_files : bool, default=True
        Check that every listed file exists (the error names the missing ones).
    allow_outside_root : bool, default=False
        Accept absolute paths (kept as they are) and relative paths that leave ``root``
        with ``..``. The check is on the path as written (symbolic links inside ``root``
        are followed as usual).
    return_X_y : bool, default=False
        If True, return ``(filenames, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        filenames : ndarray of shape (n_images,), dtype str
            Path of each image (joined to ``root``), in the order of the list.
        target : ndarray of shape (n_images,) or (n_images, n_classes)
            Class ids (int64) or the label-indicator matrix (uint8).
        target_names : ndarray of shape (n_classes,)
            The class indices ``0 .. n_classes - 1`` (the list format has no names).
        DESCR : str
            Where the list came from.

    (filenames, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        If the list file, or (with ``check_files``) a listed image, does not exist.
    ValueError
        If a line is malformed (the message gives its number), the lines disagree on the
        number of labels, or a path leaves ``root`` (unless ``allow_outside_root``).

    See Also
    --------
    load_image_folder : Paths and labels from a class-per-subfolder tree.
    load_images : Decode a list of image files into an array.

    Examples
    --------
    >>> import os, tempfile
    >>> from skhash.datasets import load_image_list
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "test.txt"), "w") as f:
    ...     _ = f.write("img/a.jpg 1 0 0\\nimg/b.jpg 0 1 1\\n")
    >>> images = load_image_list(os.path.join(folder, "test.txt"), check_files=False)
    >>> [os.path.relpath(p, folder) for p in images.filenames]
    ['img/a.jpg', 'img/b.jpg']
    >>> images.target
    array([[1, 0, 0],
           [0, 1, 1]], dtype=uint8)
    """
    list_file = os.fspath(list_file)
    if target_type not in _TARGET_TYPES:
        raise ValueError(f"target_type must be one of {list(_TARGET_TYPES)}; got {target_type!r}.")
    if not os.path.isfile(list_file):
        raise FileNotFoundError(f"Image list file {list_file!r} does not exist.")
    if not isinstance(allow_outside_root, (bool, np.bool_)):
        raise TypeError(f"allow_outside_root must be a bool; got {allow_outside_root!r}.")
    root = os.path.dirname(os.path.abspath(list_file)) if root is None else os.fspath(root)
    inside = os.path.abspath(root)
    paths, rows = [], []
    with open(list_file, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                path, labels = _parse_line(line, number, list_file)
                joined = os.path.join(root, path)
                if not allow_outside_root:
                    resolved = os.path.normpath(os.path.join(inside, path))
                    if os.path.isabs(path) or os.path.commonpath([inside, resolved]) != inside:
                        raise ValueError(
                            f"Line {number} of {list_file!r} lists {path!r}, which is outside "
                            f"root={root!r}. Pass allow_outside_root=True to accept absolute "
                            "paths and paths leading out of root."
                        )
                paths.append(joined)
                rows.append(labels)
    if not paths:
        raise ValueError(f"Image list file {list_file!r} lists no image.")
    target = _targets(rows, list_file, target_type)
    if check_files:
        missing = [path for path in paths if not os.path.isfile(path)]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} of the {len(paths)} images listed in {list_file!r} do not "
                f"exist, e.g. {missing[:3]} (relative paths start from root={root!r})."
            )
    filenames = np.asarray(paths, dtype=str)
    if return_X_y:
        return filenames, target
    n_classes = int(target.max()) + 1 if target.ndim == 1 else target.shape[1]
    return Bunch(
        filenames=filenames,
        target=target,
        target_names=np.arange(n_classes),
        DESCR=f"{len(paths)} image paths and labels listed in {list_file!r}.",
    )
