"""The base class shared by every hasher, classic and deep."""

import threading
import warnings
from abc import abstractmethod
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from .index import HammingIndex
from .utils.validation import check_labels, warn_if_nothing_relevant

__all__ = ["BaseHasher", "check_numeric_dtype"]


def check_numeric_dtype(X):
    """Refuse dates and durations with a clear error: scikit-learn's validation would cast
    datetime64 and timedelta64 silently to nanoseconds (strings and complex numbers it
    refuses itself)."""
    kind = getattr(getattr(X, "dtype", None), "kind", "f")
    if kind in "Mm":
        raise TypeError(f"X must hold numbers; got an array of dtype {X.dtype}.")
    return X


def _warn_if_one_code(hasher, codes):
    if len(codes) > 1 and not (codes != codes[0]).any():
        warnings.warn(
            f"{type(hasher).__name__} gives every training sample the same code: the model "
            "cannot tell items apart (untrained, diverged, or features too small to split).",
            ConvergenceWarning,
            stacklevel=4,
        )


class BaseHasher(TransformerMixin, BaseEstimator):
    """Base class for hashers: learn binary codes, index a database, search it.

    Subclasses implement two methods and nothing else:

    - ``_fit(X, y)`` learns the hash function from validated data (``y`` may be None);
    - ``_embed(X, layer="hash")`` maps validated data to the real values behind the codes,
      ``(n_samples, n_bits)`` floats whose signs are the bits: ``_encode(X)`` is
      ``_embed(X) > 0`` as uint8 unless a subclass overrides it (and keeps that identity).
      Hashers with more than one embedding (deep hashers: ``"backbone"``) list their layers
      in ``_embedding_layers``.

    ``fit`` validates the input, calls ``_fit``, then indexes the codes of ``X`` as the
    database in a :class:`~skhash.index.HammingIndex` (as ``NearestNeighbors.fit`` does).
    ``kneighbors``, ``radius_neighbors``, ``add`` and ``score`` are shared by every hasher.
    Subclasses that take other inputs than 2-D float arrays (images) override
    ``_validate_input``.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during fit.
    index_ : HammingIndex
        The database of packed codes.
    database_labels_ : ndarray or None
        Labels of the database items when ``y`` was given, else None.
    """

    _parameter_constraints: dict = {
        "n_bits": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [None, Integral],
    }

    # -- what subclasses implement ----------------------------------------------------
    @abstractmethod
    def _fit(self, X, y):
        """Learn the hash function from validated ``X`` (and ``y`` when supervised)."""

    @abstractmethod
    def _embed(self, X, layer="hash"):
        """Return the real-valued embedding of validated ``X`` at ``layer``; at ``"hash"``,
        ``(n_samples, n_bits)`` values whose signs are the codes."""

    _embedding_layers = ("hash",)

    def _encode(self, X):
        """Return the uint8 {0, 1} codes of validated ``X``: the signs of its embedding."""
        return self._sign_bits(self._embed(X, layer="hash"))

    def _validate_input(self, X, *, reset):
        """Validate ``X`` (and set ``n_features_in_`` when ``reset``); 2-D floats by default."""
        check_numeric_dtype(X)
        return validate_data(
            self, X, reset=reset, dtype=[np.float64, np.float32], ensure_min_samples=1
        )

    def _labels_of(self, X):
        """Labels carried by validated input ``X`` itself (a labelled dataset), else None."""
        return None

    def _check_enough_samples(self, n_samples):
        if n_samples < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 samples to fit; got n_samples=1."
            )

    @staticmethod
    def _sign_bits(projections):
        """Binary codes from real projections: 1 where positive, 0 elsewhere."""
        return (projections > 0).astype(np.uint8)

    # -- fitting ----------------------------------------------------------------------
    def fit(self, X, y=None):
        """Learn the hash function and index the codes of ``X`` as the database.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; it also becomes the searchable database.
        y : array-like of shape (n_samples,) or (n_samples, n_classes), default=None
            Class labels (1-D) or a binary label-indicator matrix (multi-label). Stored as
            ``database_labels_`` for :meth:`score`; supervised hashers learn from them.

        Returns
        -------
        self : object
            The fitted hasher.
        """
        self._fit_and_index(X, y)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """Fit, then return the codes of ``X`` (computed once)."""
        return self._fit_and_index(X, y)

    def _fit_and_index(self, X, y):
        self._validate_params()
        # Atomic: a failed or interrupted fit (KeyboardInterrupt too) restores every attribute,
        # so a fitted hasher never ends up with a new model over its old database. Fitting
        # replaces attributes rather than changing them in place, so a shallow copy suffices.
        saved = self.__dict__.copy()
        try:
            X = self._validate_input(X, reset=True)
            self._check_enough_samples(len(X))
            if y is None:
                y = self._labels_of(X)
            y = check_labels(y, n_samples=len(X), required=self._requires_y())
            self._fit(X, y)
            codes = self._encode(X)
            _warn_if_one_code(self, codes)
            self.index_ = HammingIndex(n_jobs=self.n_jobs).fit(codes)
            self.database_labels_ = y
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise
        return codes

    def _requires_y(self):
        return self.__sklearn_tags__().target_tags.required

    # -- encoding ---------------------------------------------------------------------
    def transform(self, X):
        """Binary codes of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_bits), dtype uint8
            Codes in {0, 1}.
        """
        check_is_fitted(self, "index_")
        return self._encode(self._validate_input(X, reset=False))

    def embed(self, X, layer="hash"):
        """Real-valued embedding of ``X``: the values whose signs are the codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to embed.
        layer : str, default="hash"
            ``"hash"``: the ``(n_samples, n_bits)`` values behind the codes, so that
            ``(embed(X) > 0) == transform(X)``. Deep hashers also offer ``"backbone"``, the
            pooled features their hash layer reads.

        Returns
        -------
        embedding : ndarray of shape (n_samples, n_dims), dtype float
        """
        check_is_fitted(self, "index_")
        if not isinstance(layer, str) or layer not in self._embedding_layers:
            raise ValueError(
                f"layer must be one of {list(self._embedding_layers)} for "
                f"{type(self).__name__}; got {layer!r}."
            )
        return self._embed(self._validate_input(X, reset=False), layer=layer)

    def get_feature_names_out(self, input_features=None):
        """Names of the output bits: ``bit0``, ``bit1``, ...

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored; present for API consistency.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "index_")
        return np.asarray([f"bit{i}" for i in range(self.index_.n_bits_)], dtype=object)

    # -- the database -----------------------------------------------------------------
    def add(self, X, y=None):
        """Append the codes of ``X`` (and their labels) to the database, without refitting.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Items to add; their indices follow the existing database.
        y : array-like, default=None
            Their labels; required when the database is labelled, refused otherwise.

        Returns
        -------
        self : object
        """
        check_is_fitted(self, "index_")
        X = self._validate_input(X, reset=False)
        if y is None and self.database_labels_ is not None:
            y = self._labels_of(X)
        labelled = self.database_labels_ is not None
        if labelled and y is None:
            raise ValueError("The database is labelled: add() needs y for the new items.")
        if not labelled and y is not None:
            raise ValueError("The database was fitted without labels: add() cannot take y.")
        if labelled:
            y = check_labels(y, n_samples=len(X), like=self.database_labels_)
        codes = self._encode(X)
        # Everything is computed before the database changes; the lock keeps codes and labels
        # of concurrent adds together.
        with self._database_lock:
            if labelled:
                labels = np.concatenate([self.database_labels_, y])
            self.index_.add(codes)
            if labelled:
                self.database_labels_ = labels
        return self

    @property
    def _database_lock(self):
        # Created on first use (dict.setdefault is atomic), never pickled or cloned.
        return self.__dict__.setdefault("_lock", threading.Lock())

    def __getstate__(self):
        state = super().__getstate__()
        if "_lock" in state:
            state = {k: v for k, v in state.items() if k != "_lock"}
        return state

    def _query_codes(self, X):
        """Codes of the queries, or of the database itself when ``X`` is None."""
        check_is_fitted(self, "index_")
        return self.index_.codes_ if X is None else self.transform(X)

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Find the nearest database items of each query, in Hamming distance.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries. When None, every database item is a query and is not returned as its
            own neighbour, as in scikit-learn.
        n_neighbors : int, default=None
            Number of neighbours; None means 10 (or the database size when smaller).
        return_distance : bool, default=True
            Whether to return the distances as well.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors), dtype int32
            Hamming distances, ascending. Only when ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries, n_neighbors), dtype int64
            Database indices, nearest first; equal distances in database order.
        """
        codes = self._query_codes(X)
        n_available = self.index_.n_indexed_ - (X is None)
        if n_neighbors is None:
            n_neighbors = max(1, min(10, n_available))
        if X is None:
            dist, ind = self._kneighbors_excluding_self(codes, n_neighbors)
        else:
            dist, ind = self.index_.kneighbors(codes, n_neighbors)
        return (dist, ind) if return_distance else ind

    def _kneighbors_excluding_self(self, codes, n_neighbors):
        n_db = self.index_.n_indexed_
        if isinstance(n_neighbors, Integral) and n_neighbors >= n_db:
            raise ValueError(
                f"Expected n_neighbors < n_indexed when querying the database itself; got "
                f"n_neighbors={n_neighbors}, n_indexed={n_db}."
            )
        dist, ind = self.index_.kneighbors(codes, n_neighbors + 1)
        is_self = ind == np.arange(n_db)[:, None]
        # Drop each item's own index; where it is not among the candidates, drop the last.
        is_self[~is_self.any(axis=1), -1] = True
        keep = ~is_self
        return dist[keep].reshape(n_db, -1), ind[keep].reshape(n_db, -1)

    def radius_neighbors(self, X=None, radius=None, return_distance=True):
        """Find every database item within a Hamming radius of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries. When None, every database item is a query, itself excluded.
        radius : int, default=None
            Largest Hamming distance returned (inclusive); None means 2.
        return_distance : bool, default=True
            Whether to return the distances as well.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries,), dtype object
            Arrays of distances, ascending. Only when ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries,), dtype object
            Arrays of database indices, nearest first, ties in database order.
        """
        codes = self._query_codes(X)
        radius = 2 if radius is None else radius
        dist, ind = self.index_.radius_neighbors(codes, radius)
        if X is None:
            for i in range(len(ind)):
                keep = ind[i] != i
                dist[i], ind[i] = dist[i][keep], ind[i][keep]
        return (dist, ind) if return_distance else ind

    def hamming_distances(self, X=None):
        """Hamming distances from the codes of ``X`` to every database item.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries; None uses the database itself (the diagonal is then 0).

        Returns
        -------
        distances : ndarray of shape (n_queries, n_indexed), dtype int32
        """
        return self.index_.distances(self._query_codes(X))

    def score(self, X, y):
        """Mean average precision of ``X`` as queries against the labelled database.

        An item is relevant to a query when it shares a label with it. The whole database is
        ranked by Hamming distance, ties in database order. This makes ``GridSearchCV`` work
        with no ``scoring`` argument: each split fits on its training part (the database) and
        queries with its validation part.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Queries.
        y : array-like of shape (n_queries,) or (n_queries, n_classes)
            Query labels, in the form of the database labels.

        Returns
        -------
        score : float
            Mean average precision in [0, 1].
        """
        from .metrics import average_precision

        check_is_fitted(self, "index_")
        if self.database_labels_ is None:
            raise ValueError(
                "score() needs a labelled database: fit (or add) with y to rank by relevance."
            )
        codes = self.transform(X)
        y = check_labels(y, n_samples=len(codes), like=self.database_labels_)
        warn_if_nothing_relevant(y, self.database_labels_)
        # Queries in chunks, so the distance matrix held at once stays near 64 MiB.
        step = max(1, (64 * 2**20) // (8 * max(self.index_.n_indexed_, 1)))
        per_query = [
            average_precision(
                y[i : i + step], self.database_labels_, self.index_.distances(codes[i : i + step])
            )
            for i in range(0, len(codes), step)
        ]
        return float(np.concatenate(per_query).mean())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = []
        return tags
