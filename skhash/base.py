"""The base class shared by every hasher, classic and deep."""

import copy
import threading
import warnings
from abc import abstractmethod

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import (
    _check_feature_names,
    _num_samples,
    check_array,
    check_is_fitted,
    validate_data,
)

from ._search import SearchMixin
from .index import HammingIndex
from .reranking import RERANK_MODES, check_bit_weights, learn_bit_weights
from .utils._image_input import channels_first
from .utils.validation import Count, NJobs, check_labels

__all__ = ["BaseHasher", "check_numeric_dtype", "validate_image_array"]


def check_numeric_dtype(X):
    """Refuse dates and durations with a clear error: scikit-learn's validation would cast
    datetime64 and timedelta64 silently to nanoseconds (strings and complex numbers it
    refuses itself)."""
    kind = getattr(getattr(X, "dtype", None), "kind", "f")
    if kind in "Mm":
        raise TypeError(f"X must hold numbers; got an array of dtype {X.dtype}.")
    return X


def validate_image_array(estimator, X, *, reset, flat_shape):
    """``(X, flat)``: an array-like of images as an ``(n, C, H, W)`` view in its own numeric
    dtype, and whether it came as flat ``(n, d)`` rows.

    Flat rows are validated as ``estimator``'s features (``validate_data``: feature count
    and names) and reshaped to ``flat_shape(d)``; ``(n, H, W)``, ``(n, C, H, W)`` and
    ``(n, H, W, C)`` arrays only have their feature names checked.
    """
    if not hasattr(X, "ndim") and not hasattr(X, "iloc"):
        X = np.asarray(X)  # lists, and objects with __array__
    if getattr(X, "ndim", 2) == 2:
        X = validate_data(estimator, X, reset=reset, dtype="numeric", ensure_min_samples=1)
        check_numeric_dtype(X)
        return X.reshape(len(X), *flat_shape(X.shape[1])), True
    _check_feature_names(estimator, X, reset=reset)
    X = check_array(X, allow_nd=True, dtype="numeric", ensure_min_samples=1)
    check_numeric_dtype(X)
    if X.ndim == 3:
        X = X[:, None]
    if X.ndim != 4:
        raise ValueError(
            "Expected images of shape (n, H, W), (n, C, H, W) or (n, H, W, C), or flat "
            f"(n, d) rows; got an array of shape {X.shape}."
        )
    return channels_first(X), False


def _warn_if_one_code(hasher, codes):
    if len(codes) > 1 and not (codes != codes[0]).any():
        warnings.warn(
            f"{type(hasher).__name__} gives every training sample the same code: the model "
            "cannot tell items apart (untrained, diverged, or features too small to split).",
            ConvergenceWarning,
            stacklevel=4,
        )


class BaseHasher(SearchMixin, TransformerMixin, BaseEstimator):
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
        "n_bits": [Count(1)],
        "random_state": ["random_state"],
        "n_jobs": [None, NJobs()],
        "rerank": [None, StrOptions(set(RERANK_MODES))],
        "rerank_factor": [None, Count(1)],
        "bit_weights": [None, StrOptions({"learn"}), "array-like"],
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
    def fit(self, X, y=None, ids=None):
        """Learn the hash function and index the codes of ``X`` as the database.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; it also becomes the searchable database.
        y : array-like of shape (n_samples,) or (n_samples, n_classes), default=None
            Class labels (1-D), a binary label-indicator matrix, or label sets (multi-label).
            Stored as ``database_labels_`` for :meth:`score`; supervised hashers learn from
            them.
        ids : array-like of shape (n_samples,), dtype int, default=None
            Distinct int64 ids of the items, returned by searches in place of positions and
            taken by :meth:`remove`.

        Returns
        -------
        self : object
            The fitted hasher.
        """
        self._fit_and_index(X, y, ids)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """Fit, then return the codes of ``X`` (computed once)."""
        return self._fit_and_index(X, y, fit_params.get("ids"))

    def _fit_and_index(self, X, y, ids=None):
        self._validate_params()
        # Atomic: a failed or interrupted fit (KeyboardInterrupt too) restores every attribute,
        # so a fitted hasher never ends up with a new model over its old database. Fitting
        # replaces attributes rather than changing them in place, so a shallow copy suffices.
        saved = self.__dict__.copy()
        try:
            X = self._validate_input(X, reset=True)
            self._check_enough_samples(_num_samples(X))
            if y is None:
                y = self._labels_of(X)
            y = check_labels(y, n_samples=_num_samples(X), required=self._requires_y())
            self._fit(X, y)
            codes, embedding = self._database_codes(X)
            _warn_if_one_code(self, codes)
            index = HammingIndex(n_jobs=self.n_jobs)
            self.index_ = index.fit(codes, ids=ids, check_input=False)
            self.database_labels_ = y
            # Kept when re-ranking with them; the database then keeps them across set_params.
            self.database_embedding_ = embedding if self.rerank == "embedding" else None
            self.bit_weights_ = self._resolve_bit_weights(codes, y, embedding)
            self._bit_weights_learnt = isinstance(self.bit_weights, str)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise
        return codes

    def _codes_of(self, X, *, with_embedding):
        """Codes of validated ``X`` and, ``with_embedding``, its embedding too (the codes are
        then its signs: one pass over ``X``); else ``(codes, None)``."""
        if not with_embedding:
            return self._encode(X), None
        embedding = self._embed_rows(X)
        return self._sign_bits(embedding), embedding

    def _database_codes(self, X):
        """Codes of validated ``X`` for the database, with its embedding when re-ranking or
        weight learning needs it."""
        learns_weights = isinstance(self.bit_weights, str)  # "learn": may need the embedding
        return self._codes_of(X, with_embedding=self.rerank == "embedding" or learns_weights)

    def _resolve_bit_weights(self, codes, y, embedding):
        """``bit_weights_`` at fit: None, the given weights checked, or weights learnt."""
        if self.bit_weights is None:
            return None
        if isinstance(self.bit_weights, str):  # "learn"
            return learn_bit_weights(codes, y, embedding, random_state=self.random_state)
        return self._given_bit_weights(self.bit_weights, codes.shape[1])

    def _given_bit_weights(self, weights, n_bits):
        """Per-bit weights from the ``bit_weights`` parameter as given (not learnt)."""
        return check_bit_weights(weights, n_bits)

    def _search_bit_weights(self):
        """The weights a search uses, from the current ``bit_weights``: given weights take
        effect at once (``set_params`` after fitting); learnt ones must have been learnt."""
        weights = self.bit_weights
        if weights is None:
            return None
        if isinstance(weights, str):
            if not getattr(self, "_bit_weights_learnt", False):
                raise ValueError(
                    'bit_weights="learn" is learnt from the training data at fit: fit again '
                    "after setting it."
                )
            return self.bit_weights_
        return self._given_bit_weights(weights, self.index_.n_bits_)

    def _requires_y(self):
        return self.__sklearn_tags__().target_tags.required

    # -- encoding ---------------------------------------------------------------------
    def transform(self, X):
        """Binary codes of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to encode.
            Deep hashers take images, image files or a dataset, as in their ``fit``.

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
            Deep hashers take images, image files or a dataset, as in their ``fit``.
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
        return self._embed_rows(self._validate_input(X, reset=False), layer=layer)

    def _embed_rows(self, X, layer="hash"):
        """``_embed`` of validated ``X``; classic hashers run it in slices of rows."""
        return self._embed(X, layer=layer)

    def _embedding_width(self, layer):
        """Number of columns :meth:`embed` returns for ``layer`` (fitted hasher)."""
        return self.index_.n_bits_

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
    def add(self, X, y=None, ids=None):
        """Append the codes of ``X`` (and their labels) to the database, without refitting.

        Atomic and safe under threads: the database changes all at once when everything is
        computed, and a search running meanwhile sees it before or after, never half-added.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Items to add; their indices follow the existing database.
            Deep hashers take images, image files or a dataset, as in their ``fit``.
        y : array-like, default=None
            Their labels; required when the database is labelled, refused otherwise.
        ids : array-like of shape (n_samples,), dtype int, default=None
            Their ids: required when the database has ids, refused otherwise; distinct from
            every id held.

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
            y = check_labels(y, n_samples=_num_samples(X), like=self.database_labels_)
        stored = getattr(self, "database_embedding_", None) is not None
        codes, embedding = self._codes_of(X, with_embedding=stored)
        # The new database is built aside (a copy of the index shares its content), then
        # swapped in with its labels and embeddings in one step; the lock orders changes.
        with self._database_lock:
            index = copy.copy(self.index_)
            index.add(codes, ids=ids, check_input=False)
            changes = {"index_": index}
            if labelled:
                changes["database_labels_"] = np.concatenate([self.database_labels_, y])
            if stored:
                changes["database_embedding_"] = np.concatenate(
                    [self.database_embedding_, embedding]
                )
            self.__dict__.update(changes)
        return self

    def remove(self, ids):
        """Remove items from the database (their labels and embeddings follow).

        Parameters
        ----------
        ids : int or array-like of int
            Ids of the items (positions when the database has no ids); each must be in the
            database, else a ``ValueError`` names those that are not.

        Returns
        -------
        self : object
        """
        check_is_fitted(self, "index_")
        with self._database_lock:
            index = copy.copy(self.index_)
            positions = index.remove(ids)
            changes = {"index_": index}
            for name in ("database_labels_", "database_embedding_"):
                values = getattr(self, name, None)
                if values is not None:
                    changes[name] = np.delete(values, positions, axis=0)
            self.__dict__.update(changes)
        return self

    # -- persistence --------------------------------------------------------------------
    def save(self, path):
        """Save the fitted hasher (model, database, labels) to ``path`` without pickle.

        skhash's own format (read back by :func:`skhash.load`): one uncompressed zip file of
        a JSON manifest (parameters, fitted attributes, format version), ``.npy`` arrays
        that can be memory-mapped, and for deep hashers the network's ``state_dict`` (read
        back with ``torch.load(weights_only=True)``). Loading never runs code from the file,
        unlike ``joblib.load`` / ``pickle.load``, which must only be used on trusted files.
        The file is replaced atomically: a crash or kill during ``save`` leaves the old file
        or the new one.

        Parameters that are not plain values (a ``torch.nn.Module`` backbone, a callable
        ``lr_schedule``, callback objects, a ``RandomState`` instance) cannot be stored: a
        ``TypeError`` names them, and joblib remains the way to save such a hasher.

        Parameters
        ----------
        path : str or path-like
            The file to write (replaced if it exists).

        Examples
        --------
        >>> import os, tempfile
        >>> from sklearn.datasets import load_digits
        >>> import skhash
        >>> X, y = load_digits(return_X_y=True)
        >>> lsh = skhash.LSH(n_bits=16, random_state=0).fit(X, y)
        >>> path = os.path.join(tempfile.mkdtemp(), "lsh.skhash")
        >>> lsh.save(path)
        >>> bool((skhash.load(path).kneighbors(X[:3])[1] == lsh.kneighbors(X[:3])[1]).all())
        True
        """
        from ._persistence import save

        check_is_fitted(self, "index_")
        save(self, path)

    def _persist_attributes(self, encoder, where):
        """The attributes saved beyond the parameters (``encoder`` takes blobs)."""
        params = self.get_params(deep=False)
        with self._database_lock:  # a consistent snapshot: add/remove swap under this lock
            state = dict(vars(self))
        return {k: v for k, v in state.items() if k not in params and k != "_lock"}

    def _restore_attributes(self, attributes, archive):
        """Set the attributes read back from a file (``archive``), and check them."""
        from ._persistence import FileFormatError

        self.__dict__.update(attributes)
        index = getattr(self, "index_", None)
        if not isinstance(index, HammingIndex):
            raise FileFormatError(f"{archive.path}: the saved {type(self).__name__} has no index.")
        n = index.n_indexed_
        for name in ("database_labels_", "database_embedding_"):
            values = getattr(self, name, None)
            if values is not None and _num_samples(values) != n:
                raise FileFormatError(
                    f"{archive.path}: {name} has {_num_samples(values)} rows for {n} indexed "
                    "items: damaged file."
                )
        weights = getattr(self, "bit_weights_", None)
        if weights is not None and np.shape(weights) != (index.n_bits_,):
            raise FileFormatError(
                f"{archive.path}: bit_weights_ has shape {np.shape(weights)} for "
                f"{index.n_bits_}-bit codes: damaged file."
            )

    @property
    def _database_lock(self):
        # Created on first use (dict.setdefault is atomic), never pickled or cloned.
        return self.__dict__.setdefault("_lock", threading.Lock())

    def __getstate__(self):
        state = super().__getstate__()
        if "_lock" in state:
            state = {k: v for k, v in state.items() if k != "_lock"}
        return state

    def score(
        self,
        X,
        y=None,
        *,
        k=None,
        tie_aware=True,
        normalize="retrieved",
        empty_queries="zero",
        hierarchy=None,
        granularity="fine",
    ):
        """Mean average precision of ``X`` as queries against the labelled database.

        An item is relevant to a query when it shares a label with it. By default the whole
        database is ranked by Hamming distance and the score is **tie-aware**: the expected
        AP over every order of the items at equal distance, so that it does not depend on
        the order the database is stored in (breaking ties in database order favours short
        codes whenever the database is sorted by class). This makes ``GridSearchCV`` work
        with no ``scoring`` argument: each split fits on its training part (the database)
        and queries with its validation part. It is the scorer
        ``make_retrieval_scorer("map", ...)`` with the same options.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Queries.
            Deep hashers take images, image files or a dataset, as in their ``fit``.
        y : array-like of shape (n_queries,) or (n_queries, n_classes)
            Query labels, in the form of the database labels; None takes those a labelled
            dataset carries (deep hashers).
        k : int, default=None
            Cut-off rank of mAP@k; None ranks the whole database.
        tie_aware : bool, default=True
            False breaks ties in database order, as most published evaluation codes do.
        normalize : {"retrieved", "relevant", "min_k_relevant"}, default="retrieved"
            Normaliser of AP@k (see :func:`skhash.metrics.average_precision`).
        empty_queries : {"zero", "skip", "skip_unretrieved"}, default="zero"
            Which queries count (see :func:`skhash.metrics.mean_average_precision`).
        hierarchy : dict or array-like, default=None
            The coarse label of each fine label (``{fine: coarse}``), for ``granularity``.
        granularity : {"fine", "coarse"}, default="fine"
            ``"coarse"`` counts a database item relevant when it shares the query's coarse
            label under ``hierarchy``.

        Returns
        -------
        score : float
            Mean average precision in [0, 1].
        """
        from .metrics._scorer import score_queries

        if y is None:  # a labelled dataset (deep hashers) carries its labels
            y = self._labels_of(self._validate_input(X, reset=False))
        options = dict(k=k, tie_aware=tie_aware, normalize=normalize, empty_queries=empty_queries)
        options.update(hierarchy=hierarchy, granularity=granularity)
        return score_queries(self, X, y, "map", options, caller="score()")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = []
        return tags
