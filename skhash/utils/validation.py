"""Input checks shared by hashers, metrics and the comparison tools."""

import warnings

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning

__all__ = ["check_labels", "relevance", "warn_if_nothing_relevant"]


def check_labels(y, *, n_samples, required=False, like=None, name="y"):
    """Validate retrieval labels.

    Two forms are accepted: a 1-D array of class labels (single-label; any numbers or strings)
    or a 2-D binary indicator matrix of shape (n_samples, n_classes) (multi-label). A column
    vector of shape (n_samples, 1) is read as 1-D class labels.

    Parameters
    ----------
    y : array-like or None
        The labels.
    n_samples : int
        The number of samples the labels must describe.
    required : bool, default=False
        Raise when ``y`` is None.
    like : ndarray, default=None
        Labels already held (a database's); ``y`` must have the same form.
    name : str, default="y"
        Name used in error messages.

    Returns
    -------
    y : ndarray or None
        1-D labels, or a 2-D uint8 indicator matrix.
    """
    if y is None:
        if required:
            raise ValueError(
                f"This hasher requires {name} to be passed, but the target {name} is None: it is "
                "supervised (give 1-D class labels or a 2-D label-indicator matrix)."
            )
        return None
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D class labels or a 2-D label-indicator matrix; got shape "
            f"{y.shape}."
        )
    if len(y) != n_samples:
        raise ValueError(f"{name} has {len(y)} labels, but there are {n_samples} samples.")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    if y.dtype.kind == "O" and any(v is None for v in y.ravel()):
        raise ValueError(f"{name} contains None.")
    if y.ndim == 2:
        if y.dtype.kind not in "biuf" or not np.isin(y, (0, 1)).all():
            raise ValueError(
                f"A 2-D {name} must be a binary label-indicator matrix (0/1 per class); got "
                "other values. Pass class labels as a 1-D array."
            )
        y = y.astype(np.uint8)
    if like is not None:
        if y.ndim != like.ndim or (y.ndim == 2 and y.shape[1] != like.shape[1]):
            raise ValueError(
                f"{name} has shape {y.shape[1:] or '1-D'} per sample, but the database labels "
                f"have {like.shape[1:] or '1-D'}: use the same label form for both."
            )
    return y


def relevance(y_query, y_database):
    """Relevance matrix: ``True`` where a database item shares a label with a query.

    Parameters
    ----------
    y_query : ndarray of shape (n_queries,) or (n_queries, n_classes)
    y_database : ndarray of shape (n_database,) or (n_database, n_classes)

    Returns
    -------
    relevant : ndarray of shape (n_queries, n_database), dtype bool
    """
    if y_query.ndim == 1:
        return y_query[:, None] == y_database[None, :]
    return (y_query.astype(np.float32) @ y_database.astype(np.float32).T) > 0


def warn_if_nothing_relevant(y_query, y_database):
    """Warn when queries share no label with any database item (their AP is then 0).

    The usual cause is a cross-validation split of data sorted by class without shuffling:
    a validation fold then holds classes that its training part (the database) lacks.
    """
    if y_query is None or y_database is None:
        return  # the metric itself says what is missing
    y_query, y_database = np.asarray(y_query), np.asarray(y_database)
    if y_query.ndim == 0 or len(y_query) == 0 or len(y_database) == 0:
        return
    if y_query.ndim == 1:
        alone = ~np.isin(y_query, y_database)
    else:
        alone = ~(y_query.astype(bool) & y_database.astype(bool).any(axis=0)).any(axis=1)
    if alone.any():
        warnings.warn(
            f"{alone.sum()} of the {len(y_query)} queries share no label with the database: "
            "their average precision is 0, and it counts in the mean. With GridSearchCV or "
            "cross_val_score on data sorted by class, split with shuffling: "
            "cv=StratifiedKFold(5, shuffle=True).",
            UndefinedMetricWarning,
            stacklevel=3,
        )
