"""The query / training / database protocol of a comparison: scaled to the data, or a
standard split of the hashing literature."""

import math
from dataclasses import dataclass, fields
from numbers import Integral, Real

import numpy as np

from ..datasets import make_retrieval_split

__all__ = ["RetrievalProtocol"]

# The CIFAR-10 protocol of learning-to-hash papers: 1,000 queries and 5,000 training images out
# of 60,000, the 59,000 non-query images as the retrieval database.
_CIFAR_QUERIES = 1000
_CIFAR_TRAIN = 5000
# Smallest database a comparison is meaningful on: below it, mAP says little.
MIN_DATABASE = 20
MIN_QUERIES = 5

# The standard splits, as the papers and their evaluation code (DeepHash-pytorch, HashNet,
# DPSH) draw them. ``n_classes`` is checked against the data the preset is applied to.
_PRESETS = {
    # 100 queries and 500 training images per class; the database is the other 54,000.
    "cifar10": dict(n_query=1000, n_train=5000, train_in_database=False, n_classes=10),
    # 1,000 queries; the other 59,000 images are both the training set and the database.
    "cifar10-59k": dict(n_query=1000, n_train=None, n_classes=10),
    # The official test set as queries (10,000), the 50,000 training images as database.
    "cifar10-50k": dict(n_query=10000, n_train=None, n_classes=10),
    # NUS-WIDE, 21 most frequent concepts (multi-label): 100 queries and 500 training images
    # per concept, the rest as database; mAP of the top 5,000.
    "nuswide21": dict(n_query=2100, n_train=10500, map_k=5000, n_classes=21),
    # ImageNet, 100 classes (HashNet): 5,000 queries, 10,000 training images (100 per class)
    # drawn from the database; mAP of the top 1,000.
    "imagenet100": dict(n_query=5000, n_train=10000, map_k=1000, n_classes=100),
    # MS-COCO, 80 categories (multi-label): 5,000 queries, 10,000 training images drawn from
    # the database; mAP of the top 5,000.
    "coco": dict(n_query=5000, n_train=10000, map_k=5000, n_classes=80),
}
PRESET_NAMES = tuple(_PRESETS)


def _check_size(name, value, *, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, Real) or value <= 0:
        raise ValueError(f"{name} must be a positive number; got {value!r}.")
    if not isinstance(value, Integral) and value >= 1:
        raise ValueError(
            f"{name}={value!r}: a float is a fraction of the samples, in (0, 1); pass an int "
            "for a number of samples."
        )


def _check_count(name, value, *, allow_none=True):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer or None; got {value!r}.")


@dataclass(frozen=True, repr=False)
class RetrievalProtocol:
    """Sizes of the query, training and database parts of a retrieval comparison.

    Each repeat draws a fresh random split with :func:`skhash.datasets.make_retrieval_split`
    (stratified by class for 1-D labels): ``n_query`` queries, ``n_train`` training samples,
    and the database. Every hasher learns from the training samples; the queries are then
    ranked against the whole database by Hamming distance.

    Parameters
    ----------
    n_query : int or float, default=1000
        Number of queries, or their fraction of the samples.
    n_train : int, float or None, default=5000
        Number of training samples, or their fraction of the samples; None trains on the
        whole database.
    n_repeats : int, default=1
        Number of random splits; the summary reports the mean and standard deviation.
    train_in_database : bool, default=True
        Draw the training samples from the database (the database is every non-query
        sample). False keeps them out of it: the three parts are disjoint.
    map_k : int or None, default=None
        Cut-off of the protocol's mAP (``mAP@map_k``); None ranks the whole database.
    n_classes : int or None, default=None
        Number of classes (columns of a multi-label ``y``) the data must have; None accepts
        any.
    name : str or None, default=None
        Name of a standard protocol (set by :meth:`preset`).

    See Also
    --------
    RetrievalProtocol.auto : The CIFAR-10 protocol scaled to a data set's size.
    RetrievalProtocol.preset : The standard splits of the literature, by name.

    Examples
    --------
    >>> from skhash.compare import RetrievalProtocol
    >>> RetrievalProtocol.auto(60000)
    RetrievalProtocol(n_query=1000, n_train=5000)
    >>> RetrievalProtocol.auto(1797, n_repeats=3)
    RetrievalProtocol(n_query=180, n_train=1617, n_repeats=3)
    >>> RetrievalProtocol(n_query=100, n_train=500).resolve(1797)
    (100, 500)
    >>> RetrievalProtocol.preset("nuswide21")
    RetrievalProtocol.preset('nuswide21')
    """

    n_query: int | float = _CIFAR_QUERIES
    n_train: int | float | None = _CIFAR_TRAIN
    n_repeats: int = 1
    train_in_database: bool = True
    map_k: int | None = None
    n_classes: int | None = None
    name: str | None = None

    def __post_init__(self):
        if not isinstance(self.n_repeats, Integral) or self.n_repeats < 1:
            raise ValueError(f"n_repeats must be a positive integer; got {self.n_repeats!r}.")
        _check_size("n_query", self.n_query)
        _check_size("n_train", self.n_train, allow_none=True)
        if self.n_train is None and not self.train_in_database:
            raise ValueError("n_train=None (the whole database) needs train_in_database=True.")
        _check_count("map_k", self.map_k)
        _check_count("n_classes", self.n_classes)

    def __repr__(self):
        if self.name is not None and self == self.preset(self.name, n_repeats=self.n_repeats):
            repeats = f", n_repeats={self.n_repeats}" if self.n_repeats != 1 else ""
            return f"RetrievalProtocol.preset({self.name!r}{repeats})"
        changed = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if f.name in ("n_query", "n_train") or getattr(self, f.name) != f.default
        ]
        return f"RetrievalProtocol({', '.join(changed)})"

    @classmethod
    def auto(cls, n_samples, *, n_repeats=1):
        """The CIFAR-10 protocol (1,000 queries, 5,000 training) scaled to ``n_samples``.

        Queries are 10% of the samples, at most 1,000; the training set is the whole database
        up to 5,000 samples. On CIFAR-10 (60,000 images) this gives the usual protocol; on the
        1,797 digits, 180 queries and a 1,617-image database that is also the training set.

        Parameters
        ----------
        n_samples : int
            Size of the data set.
        n_repeats : int, default=1
            Number of random splits.

        Returns
        -------
        protocol : RetrievalProtocol
        """
        n_query = min(_CIFAR_QUERIES, max(MIN_QUERIES, round(0.1 * n_samples)))
        n_train = min(_CIFAR_TRAIN, n_samples - n_query)
        protocol = cls(n_query=n_query, n_train=n_train, n_repeats=n_repeats)
        protocol.resolve(n_samples)
        return protocol

    @classmethod
    def preset(cls, name, *, n_repeats=1):
        """A standard split of the learning-to-hash literature, to apply to your data.

        ==============  =======  ========  ================================  ========
        name            queries  training  database                          mAP
        ==============  =======  ========  ================================  ========
        "cifar10"       1,000    5,000     the other 54,000 (no training)    all
        "cifar10-59k"   1,000    database  the other 59,000                  all
        "cifar10-50k"   10,000   database  the other 50,000                  all
        "nuswide21"     2,100    10,500    every non-query image             @5,000
        "imagenet100"   5,000    10,000    every non-query image             @1,000
        "coco"          5,000    10,000    every non-query image             @5,000
        ==============  =======  ========  ================================  ========

        The sizes are those of the papers; the database is whatever the data leaves. Queries
        and training samples are drawn per class in proportion (e.g. 100 queries and 500
        training images of each CIFAR-10 class), at random for multi-label data. The data
        must have the preset's number of classes (10, 21, 100, 80; the columns of a
        multi-label ``y``), and each class enough samples to give its share: checked when the
        protocol is applied (:meth:`split`, :func:`compare`).

        Parameters
        ----------
        name : str
            One of the names above.
        n_repeats : int, default=1
            Number of random splits.

        Returns
        -------
        protocol : RetrievalProtocol

        Examples
        --------
        >>> from skhash.compare import RetrievalProtocol
        >>> p = RetrievalProtocol.preset("cifar10")
        >>> p.n_query, p.n_train, p.train_in_database, p.map_k
        (1000, 5000, False, None)
        >>> RetrievalProtocol.preset("imagenet100").map_k
        1000
        """
        if name not in _PRESETS:
            raise ValueError(
                f"Unknown protocol preset {name!r}; known presets are {', '.join(_PRESETS)}."
            )
        return cls(**_PRESETS[name], n_repeats=n_repeats, name=name)

    def resolve(self, n_samples):
        """Numbers of queries and training samples for ``n_samples`` samples.

        Parameters
        ----------
        n_samples : int
            Size of the data set.

        Returns
        -------
        n_query, n_train : int
            ``n_train`` is the database size when the protocol's ``n_train`` is None.

        Raises
        ------
        ValueError
            If the data set is too small for the protocol.
        """
        n_query = self._count(self.n_query, n_samples)
        n_rest = n_samples - n_query
        n_train = n_rest if self.n_train is None else self._count(self.n_train, n_samples)
        n_database = n_rest if self.train_in_database else n_rest - n_train
        if n_query < MIN_QUERIES or n_database < MIN_DATABASE:
            raise ValueError(
                f"Too few samples for the {self._label()}: {n_samples} samples give "
                f"{n_query} queries and a database of {n_database}; a comparison needs at "
                f"least {MIN_QUERIES} queries and {MIN_DATABASE} database items."
            )
        if self.train_in_database and n_train > n_rest:
            raise ValueError(
                f"Too few samples for the {self._label()}: n_train={n_train} is larger than "
                f"the database ({n_samples} samples - {n_query} queries = {n_rest})."
            )
        if n_train < 2:
            raise ValueError(f"The protocol leaves {n_train} training sample(s); need >= 2.")
        return n_query, n_train

    def check_labels(self, y):
        """Check that labels ``y`` can fill the protocol's split.

        Parameters
        ----------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Class labels or a label-indicator matrix.

        Returns
        -------
        n_query, n_train : int
            As :meth:`resolve`.

        Raises
        ------
        ValueError
            If the data has another number of classes than the protocol asks for, if a class
            has too few samples for its share of queries and training samples, or if the data
            is too small.
        """
        y = np.asarray(y)
        n_query, n_train = self.resolve(len(y))
        if y.ndim == 2:
            n_classes = y.shape[1]
        else:
            classes, counts = np.unique(y, return_counts=True)
            n_classes = len(classes)
        if self.n_classes is not None and n_classes != self.n_classes:
            kind = "label columns" if y.ndim == 2 else "classes"
            raise ValueError(
                f"The {self._label()} is for data with {self.n_classes} {kind}; y has {n_classes}."
            )
        if y.ndim == 1 and self.n_classes is not None:
            # Stratified draws give each class its share; a class must hold its share of
            # queries and training samples, and leave at least one database item.
            per_class = math.ceil(n_query / n_classes)
            per_class += 0 if self.train_in_database else math.ceil(n_train / n_classes)
            short = counts < per_class + 1
            if short.any():
                worst = int(np.argmin(counts))
                raise ValueError(
                    f"The data cannot fill the {self._label()}: it draws about {per_class} "
                    f"queries{'' if self.train_in_database else ' and training samples'} per "
                    f"class and keeps database items of each, but class "
                    f"{classes[worst].tolist()!r} has {counts[worst]} samples "
                    f"({int(short.sum())} class(es) fall short)."
                )
        return n_query, n_train

    def split(self, y, *, random_state=None):
        """Draw one split of the samples: query, training and database indices.

        Parameters
        ----------
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Labels (stratified draws for 1-D labels).
        random_state : int, RandomState instance or None, default=None
            Controls the draw.

        Returns
        -------
        split : :class:`~sklearn.utils.Bunch`
            As :func:`~skhash.datasets.make_retrieval_split` of the sample indices:
            ``query_indices``, ``train_indices``, ``database_indices`` (and the same as
            ``X_*``), with the labels ``y_query``, ``y_train``, ``y_database``.

        Examples
        --------
        >>> import numpy as np
        >>> from skhash.compare import RetrievalProtocol
        >>> y = np.repeat(np.arange(10), 6000)  # CIFAR-10's labels
        >>> split = RetrievalProtocol.preset("cifar10").split(y, random_state=0)
        >>> len(split.query_indices), len(split.train_indices), len(split.database_indices)
        (1000, 5000, 54000)
        >>> np.bincount(y[split.query_indices]).tolist()
        [100, 100, 100, 100, 100, 100, 100, 100, 100, 100]
        """
        y = np.asarray(y)
        n_query, n_train = self.check_labels(y)
        return make_retrieval_split(
            np.arange(len(y)),
            y,
            n_query=n_query,
            n_train=None if self.n_train is None else n_train,
            train_in_database=self.train_in_database,
            stratify=y.ndim == 1,
            random_state=random_state,
        )

    def describe(self, n_query, n_train, n_database):
        """One sentence saying how the protocol splits the data (for reports)."""
        name = f"{self.name} protocol: " if self.name else "Protocol: "
        if self.n_train is None:
            train = "trained on the whole database"
        elif self.train_in_database:
            train = f"{n_train} training samples drawn from the database"
        else:
            train = f"{n_train} training samples kept out of the database"
        scope = "the whole database" if self.map_k is None else f"the top {self.map_k}"
        return (
            f"{name}{n_query} queries, a database of {n_database}, {train}; mAP over "
            f"{scope}; {self.n_repeats} random split(s)"
        )

    def _label(self):
        return f"{self.name!r} protocol" if self.name else "protocol"

    @staticmethod
    def _count(size, n_samples):
        if isinstance(size, Integral):
            return int(size)
        return max(1, round(size * n_samples))
