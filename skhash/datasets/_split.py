"""Query / training / database splits for hashing-based retrieval experiments."""

import numbers

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch, _safe_indexing, check_random_state

__all__ = ["make_retrieval_split"]


def _n_samples(X):
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    return len(X)


def _resolve_size(size, n_samples, name, *, allow_none=False):
    """Turn an int or a fraction of ``n_samples`` into a count."""
    if size is None and allow_none:
        return None
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        if size < 1:
            raise ValueError(f"{name} must be at least 1; got {size}.")
        return int(size)
    if isinstance(size, numbers.Real) and not isinstance(size, bool):
        if not 0.0 < size < 1.0:
            raise ValueError(
                f"{name} as a float is a fraction of the samples and must lie in (0, 1); "
                f"got {size}."
            )
        return max(1, int(round(size * n_samples)))
    raise ValueError(
        f"{name} must be an int (a count) or a float in (0, 1) (a fraction of the samples)"
        + (" or None" if allow_none else "")
        + f"; got {size!r}."
    )


def _draw(indices, n_draw, y, rng, name):
    """Split ``indices`` into ``n_draw`` drawn ones and the rest (stratified on ``y`` if given).

    Both parts come back in random order. ``name`` names ``n_draw`` in error messages.
    """
    if n_draw == len(indices):
        return rng.permutation(indices), indices[:0]
    strata = None if y is None else y[indices]
    if strata is not None:
        classes, counts = np.unique(strata, return_counts=True)
        n_rest = len(indices) - n_draw
        if min(n_draw, n_rest) < len(classes):
            raise ValueError(
                f"stratify=True puts every class on both sides of the split, but {name}="
                f"{n_draw} leaves {min(n_draw, n_rest)} samples on one side for "
                f"{len(classes)} classes. Change {name}, or pass stratify=False."
            )
        if counts.min() < 2:
            raise ValueError(
                f"stratify=True needs at least 2 samples of each class, and class "
                f"{classes[counts.argmin()].tolist()!r} has 1 here. Pass stratify=False."
            )
    drawn, rest = train_test_split(
        indices, train_size=n_draw, stratify=strata, random_state=rng, shuffle=True
    )
    return drawn, rest


def make_retrieval_split(
    X,
    y=None,
    *,
    n_query=0.1,
    n_train=None,
    train_in_database=True,
    stratify=True,
    random_state=None,
):
    """Split a data set into queries, a training set and a retrieval database.

    This follows the protocol of most learning-to-hash papers. For CIFAR-10 (60,000 images)
    the usual setting draws 1,000 queries (100 per class) and keeps the other 59,000 images as
    the database; the hash function is learnt on 5,000 images (500 per class) drawn from the
    database, and the queries are then ranked against the whole database by Hamming distance
    (``n_query=1000, n_train=5000``). The queries never appear in the training set nor in the
    database. Some papers instead keep the training images out of the database
    (``train_in_database=False``); unsupervised protocols often train on the whole database
    (``n_train=None``).

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Samples: vectors, images of any shape, a list of file paths or a DataFrame. Only the
        first axis is split.
    y : array-like of shape (n_samples,) or (n_samples, n_classes), default=None
        Labels (class labels, or a label-indicator matrix for multi-label data). None for
        unlabelled data: the ``y_*`` fields are then None.
    n_query : int or float, default=0.1
        Number of queries, or the fraction of all samples to use as queries.
    n_train : int, float or None, default=None
        Number of training samples, or their fraction of all samples. None takes the whole
        database as training set (``train_in_database=True`` only).
    train_in_database : bool, default=True
        If True, the training samples are drawn from the database (the database is everything
        but the queries). If False, the three parts are disjoint: the database is everything
        but the queries and the training samples.
    stratify : bool, default=True
        Draw the queries and the training samples with the class proportions of ``y``, so that
        each class gets its share (e.g. 100 queries per CIFAR-10 class). Needs 1-D class
        labels; ignored when ``y`` is None.
    random_state : int, RandomState instance or None, default=None
        Controls the random draws; pass an int for reproducible splits.

    Returns
    -------
    split : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        X_query, y_query
            The queries.
        X_train, y_train
            The training set, to fit the hasher.
        X_database, y_database
            The retrieval database, indexed (e.g. with ``hasher.fit(X_train).add(...)`` or by
            fitting on it) and searched with the queries.
        query_indices, train_indices, database_indices : ndarray of int
            Positions of each part in ``X``, in the order of the part.

        Each part is in random order; ``y_*`` are None when ``y`` is None.

    Raises
    ------
    ValueError
        If the sizes do not fit the data: ``n_query`` leaves an empty database, or ``n_train``
        is larger than the database (``train_in_database=True``) or than the samples left
        after the queries (``train_in_database=False``), or stratification is asked for with
        a 2-D ``y``.

    See Also
    --------
    sklearn.model_selection.train_test_split : the two-way split this one builds on.

    Examples
    --------
    CIFAR-10-like protocol on the digits, with fewer queries and training images:

    >>> import numpy as np
    >>> from skhash.datasets import load_digits, make_retrieval_split
    >>> X, y = load_digits(return_X_y=True)
    >>> split = make_retrieval_split(X, y, n_query=100, n_train=500, random_state=0)
    >>> split.X_query.shape, split.X_train.shape, split.X_database.shape
    ((100, 64), (500, 64), (1697, 64))
    >>> np.bincount(split.y_query).tolist()  # stratified: about 10 queries per class
    [10, 10, 10, 10, 10, 10, 10, 10, 10, 10]
    >>> bool(np.isin(split.train_indices, split.database_indices).all())
    True
    >>> len(np.intersect1d(split.query_indices, split.database_indices))
    0
    """
    n_samples = _n_samples(X)
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 0 or y.shape[0] != n_samples:
            raise ValueError(
                f"X has {n_samples} samples but y has "
                f"{'no' if y.ndim == 0 else y.shape[0]} labels."
            )
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
    n_query = _resolve_size(n_query, n_samples, "n_query")
    n_train = _resolve_size(n_train, n_samples, "n_train", allow_none=True)
    if n_query >= n_samples:
        raise ValueError(
            f"n_query={n_query} leaves no database out of {n_samples} samples; ask for fewer "
            "queries."
        )
    if n_train is None and not train_in_database:
        raise ValueError("n_train=None (the whole database) needs train_in_database=True.")
    n_rest = n_samples - n_query
    if n_train is not None:
        if train_in_database and n_train > n_rest:
            raise ValueError(
                f"n_train={n_train} is larger than the database ({n_samples} samples - "
                f"{n_query} queries = {n_rest})."
            )
        if not train_in_database and n_train >= n_rest:
            raise ValueError(
                f"n_train={n_train} leaves no database: {n_samples} samples - {n_query} queries "
                f"= {n_rest}, and train_in_database=False keeps the training samples out of the "
                "database."
            )

    strata = None
    if stratify and y is not None:
        if y.ndim != 1:
            raise ValueError(
                "stratify=True needs 1-D class labels; y has shape "
                f"{y.shape}. Pass stratify=False for multi-label data."
            )
        strata = y

    rng = check_random_state(random_state)
    indices = np.arange(n_samples)
    query_indices, rest = _draw(indices, n_query, strata, rng, "n_query")
    if n_train is None:
        train_indices, database_indices = rng.permutation(rest), rest
    elif train_in_database:
        database_indices = rest
        train_indices, _ = _draw(rest, n_train, strata, rng, "n_train")
    else:
        train_indices, database_indices = _draw(rest, n_train, strata, rng, "n_train")

    def take(values, idx):
        return None if values is None else _safe_indexing(values, idx)

    return Bunch(
        X_query=take(X, query_indices),
        y_query=take(y, query_indices),
        X_train=take(X, train_indices),
        y_train=take(y, train_indices),
        X_database=take(X, database_indices),
        y_database=take(y, database_indices),
        query_indices=query_indices,
        train_indices=train_indices,
        database_indices=database_indices,
    )
