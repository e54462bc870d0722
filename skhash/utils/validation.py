"""Input checks shared by hashers, metrics and the comparison tools."""

import warnings
from numbers import Integral

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils._param_validation import Interval, Options

__all__ = ["Count", "NJobs", "check_labels", "relevance", "warn_if_nothing_relevant"]


class Count(Interval):
    """``Interval(Integral, left, right)`` for counts, refusing booleans.

    ``True`` is an ``int`` in Python, so scikit-learn's ``Interval(Integral, ...)`` takes
    ``n_bits=True`` as 1; a boolean given for a count is a mistake, refused here.
    """

    def __init__(self, left=1, right=None, *, closed="left"):
        super().__init__(Integral, left, right, closed=closed)

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


class NJobs(Options):
    """joblib's ``n_jobs`` (None, or an int other than 0: ``-1`` is all cores), not a bool.

    (An ``Options`` subclass only because scikit-learn's validation takes constraint
    objects of its own classes.)
    """

    def __init__(self):
        super().__init__(Integral, set())

    def is_satisfied_by(self, val):
        return isinstance(val, Integral) and not isinstance(val, (bool, np.bool_)) and val != 0

    def __str__(self):
        return "None or a nonzero int (-1: all cores, as joblib counts them)"


def check_labels(y, *, n_samples, required=False, like=None, name="y"):
    """Validate retrieval labels.

    Three forms are accepted:

    - a 1-D array of class labels (single-label; any numbers or strings); a column vector of
      shape (n_samples, 1) is read as such;
    - a 2-D binary indicator matrix of shape (n_samples, n_classes) (multi-label), with at
      least one column;
    - a sequence of label sets, one per sample, each a tuple, set, frozenset or list of
      integer class ids ``0 .. n_classes - 1``, e.g. ``[(0, 3), (1,), ()]`` (multi-label).
      It is read as the indicator matrix whose column ``c`` marks class ``c``, as
      ``MultiLabelBinarizer(classes=range(n_classes))`` gives, so that queries and database
      agree on the columns without sharing an encoder; ``n_classes`` is the largest id plus
      one, or the number of columns of ``like``. Samples are read as label sets when they
      are tuples or sets, or when their lengths differ; equal-length lists are the rows of
      an indicator matrix. For labels that are not integer ids (e.g. strings), binarize them
      first with :class:`~sklearn.preprocessing.MultiLabelBinarizer` fitted on every label.

    Parameters
    ----------
    y : array-like, sequence of label sets, or None
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

    Examples
    --------
    >>> from skhash.utils.validation import check_labels
    >>> check_labels([(0, 2), (1,), ()], n_samples=3)
    array([[1, 0, 1],
           [0, 1, 0],
           [0, 0, 0]], dtype=uint8)
    """
    if y is None:
        if required:
            raise ValueError(
                f"This hasher requires {name} to be passed, but the target {name} is None: it is "
                "supervised (give 1-D class labels or a 2-D label-indicator matrix)."
            )
        return None
    if _is_label_sets(y):
        y = _binarize_label_sets(y, like=like, name=name)
    else:
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
        if y.shape[1] == 0:
            raise ValueError(
                f"{name} is a label-indicator matrix with no column: every sample would have "
                "no label, and nothing would be relevant to anything."
            )
        if y.dtype.kind not in "biuf" or not np.isin(y, (0, 1)).all():
            raise ValueError(
                f"A 2-D {name} must be a binary label-indicator matrix (0/1 per class); got "
                "other values. Pass class labels as a 1-D array, and label sets as tuples or "
                "sets of class ids, e.g. [(0, 3), (1,)]."
            )
        y = y.astype(np.uint8)
    if like is not None:
        if y.ndim != like.ndim or (y.ndim == 2 and y.shape[1] != like.shape[1]):
            raise ValueError(
                f"{name} has shape {y.shape[1:] or '1-D'} per sample, but the database labels "
                f"have {like.shape[1:] or '1-D'}: use the same label form for both."
            )
        y = _as_kind_of(y, like, name)
    return y


def _as_kind_of(y, like, name):
    """``y`` in the dtype of the labels ``like`` (numbers stay numbers, strings strings), so
    that joining them never turns every label into a string: a clear error otherwise."""
    check_same_label_kind(y, like)
    if like.dtype.kind in "biu" and y.dtype.kind == "f":
        if not np.equal(np.mod(y, 1), 0).all():
            raise ValueError(
                f"{name} holds fractional values, but the database labels are integers "
                f"({like.dtype})."
            )
        return y.astype(like.dtype)
    return y


def check_same_label_kind(y_query, y_database):
    """Refuse 1-D query and database labels of different kinds (numbers against strings)."""
    if y_query.ndim == 1:
        kinds = {_label_kind(y_query), _label_kind(y_database)}
        if len(kinds) > 1:
            raise TypeError(
                f"The query and database labels are of different types ({y_query.dtype} and "
                f"{y_database.dtype}): no query could share a label with a database item."
            )


def _label_kind(y):
    if y.dtype.kind in "biuf":
        return "number"
    if y.dtype.kind == "O":
        return "number" if all(isinstance(v, int | float | np.number) for v in y) else "object"
    return "string"


_SET_TYPES = (tuple, set, frozenset)


def _is_label_sets(y):
    """Whether ``y`` is a sequence of per-sample label collections (see ``check_labels``)."""
    if isinstance(y, list | tuple):
        samples = y
    else:
        samples = np.asarray(y)  # e.g. a pandas Series of tuples: a 1-D object array
        if samples.dtype.kind != "O" or samples.ndim != 1:
            return False
    if len(samples) == 0:
        return False
    if all(isinstance(s, _SET_TYPES) for s in samples):
        return True
    if not all(isinstance(s, (*_SET_TYPES, list, np.ndarray)) for s in samples):
        return False
    return len({len(s) for s in samples}) > 1  # ragged: cannot be a matrix


def _binarize_label_sets(samples, *, like, name):
    """Indicator matrix of a sequence of label sets of integer class ids."""
    ids = [list(s) for s in samples]
    flat = [label for labels in ids for label in labels]
    for label in flat:
        if isinstance(label, bool | np.bool_) or not isinstance(label, int | np.integer):
            raise ValueError(
                f"{name} is a sequence of label sets, whose labels must be integer class ids "
                f"0, 1, ...; got {label!r}. Binarize other labels with "
                "sklearn.preprocessing.MultiLabelBinarizer fitted on every label (queries and "
                "database together), and pass the indicator matrix."
            )
        if label < 0:
            raise ValueError(f"{name} holds the class id {label}; class ids must be >= 0.")
    if like is not None and like.ndim == 2:
        n_classes = like.shape[1]
        if flat and max(flat) >= n_classes:
            raise ValueError(
                f"{name} holds the class id {max(flat)}, but the database labels have "
                f"{n_classes} columns (ids 0 to {n_classes - 1}). Binarize both with "
                f"MultiLabelBinarizer(classes=range(n_classes)) to fix the number of classes."
            )
    else:
        n_classes = max(flat) + 1 if flat else 0
    matrix = np.zeros((len(ids), n_classes), dtype=np.uint8)
    for row, labels in enumerate(ids):
        matrix[row, labels] = 1
    return matrix


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
        splitter = (
            "cv=StratifiedKFold(5, shuffle=True)"
            if y_query.ndim == 1
            else "cv=KFold(5, shuffle=True) (StratifiedKFold does not take multi-label y)"
        )
        warnings.warn(
            f"{alone.sum()} of the {len(y_query)} queries share no label with the database: "
            "their average precision is 0, and it counts in the mean (unless "
            "empty_queries='skip'). With GridSearchCV or "
            f"cross_val_score on data sorted by class, split with shuffling: {splitter}.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
