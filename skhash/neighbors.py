"""Hashing neighbours as sparse k-nearest-neighbour graphs, for the rest of scikit-learn.

:func:`knn_graph` turns the result of a ``kneighbors`` call into the CSR graph scikit-learn's
``kneighbors_graph`` returns; :class:`HashingNeighborsTransformer` follows the contract of
:class:`sklearn.neighbors.KNeighborsTransformer`, so estimators that accept a precomputed
sparse neighbours graph (``KNeighborsClassifier``, ``TSNE``, ``Isomap``, ``DBSCAN``, ...) run
on the neighbours a hasher finds, inside a :class:`~sklearn.pipeline.Pipeline`.
"""

from numbers import Integral

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import _num_samples, check_is_fitted

from .index._graph import check_graph_mode
from .index._graph import knn_graph as _knn_graph

__all__ = ["HashingNeighborsTransformer", "knn_graph"]


def knn_graph(neigh_dist, neigh_ind, n_samples_fit, mode="connectivity"):
    """Sparse k-nearest-neighbours graph from the result of a ``kneighbors`` call.

    Row ``i`` holds one stored entry per neighbour of query ``i``, in the order given
    (nearest first), in column ``neigh_ind[i, j]``: the distance in ``"distance"`` mode
    (zeros included, stored explicitly), 1 in ``"connectivity"`` mode. This is the layout of
    :meth:`sklearn.neighbors.NearestNeighbors.kneighbors_graph`, which estimators taking
    ``metric="precomputed"`` sparse graphs expect.

    Parameters
    ----------
    neigh_dist : array-like of shape (n_queries, n_neighbors) or None
        Distances to the neighbours, ascending in each row. Not used, and may be None, in
        ``"connectivity"`` mode.
    neigh_ind : array-like of shape (n_queries, n_neighbors)
        Indices of the neighbours among the ``n_samples_fit`` indexed samples.
    n_samples_fit : int
        Number of indexed samples: the number of columns of the graph.
    mode : {"connectivity", "distance"}, default="connectivity"
        What the stored entries are.

    Returns
    -------
    graph : sparse matrix of shape (n_queries, n_samples_fit)
        CSR matrix of float64.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.neighbors import knn_graph
    >>> graph = knn_graph(np.array([[0, 2], [0, 1]]), np.array([[0, 2], [1, 0]]), 3, "distance")
    >>> graph.toarray()
    array([[0., 0., 2.],
           [1., 0., 0.]])
    >>> graph.nnz  # the zero distances are stored: they are neighbours
    4
    """
    check_graph_mode(mode)
    neigh_ind = np.asarray(neigh_ind)
    if neigh_ind.ndim != 2:
        raise ValueError(f"neigh_ind must be 2-D; got shape {neigh_ind.shape}.")
    if neigh_ind.size and (neigh_ind.min() < 0 or neigh_ind.max() >= n_samples_fit):
        raise ValueError(f"neigh_ind must hold indices in [0, {n_samples_fit}).")
    if mode == "distance" and (neigh_dist is None or np.shape(neigh_dist) != neigh_ind.shape):
        raise ValueError(
            "distance mode needs neigh_dist of the shape of neigh_ind "
            f"{neigh_ind.shape}; got {None if neigh_dist is None else np.shape(neigh_dist)}."
        )
    positions = neigh_ind.astype(np.intp, copy=False)
    return _knn_graph(neigh_dist, positions, n_samples_fit, mode)


class HashingNeighborsTransformer(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Transform data into the sparse graph of its nearest neighbours under a hasher.

    The contract of :class:`sklearn.neighbors.KNeighborsTransformer`, with the neighbours
    found by a hasher (Hamming distance between codes, or the hasher's re-ranked distance)
    instead of an exact metric: ``fit`` fits a clone of ``hasher`` on ``X`` (indexing ``X``),
    ``transform(X)`` returns the graph of the nearest indexed samples of each row of ``X``.
    Estimators that take ``metric="precomputed"`` sparse graphs then run on it in a
    :class:`~sklearn.pipeline.Pipeline`, e.g. ``KNeighborsClassifier``, ``TSNE``,
    ``Isomap`` and ``DBSCAN``.

    As in scikit-learn, ``"distance"`` mode stores ``n_neighbors + 1`` neighbours per row,
    since a training sample is its own nearest neighbour (at distance 0) and estimators that
    query their training graph drop it; ``"connectivity"`` mode stores ``n_neighbors``.

    ``fit_transform(X)`` gives each training sample itself (distance 0) followed by its
    nearest *other* samples, which is what ``transform(X)`` gives on distinct points. Hash
    codes are often shared, though, and ``transform`` ranks equal distances by database
    order, so on the training data it may list an identical-code twin before the sample
    itself: use ``fit_transform`` for the training graph (a Pipeline does).

    Parameters
    ----------
    hasher : estimator
        A hasher (any :class:`~skhash.BaseHasher`, or an estimator with ``fit`` and
        ``kneighbors(X=None, n_neighbors)``); it is cloned at fit.
    n_neighbors : int, default=5
        Number of neighbours of each sample (one more is stored in ``"distance"`` mode).
    mode : {"distance", "connectivity"}, default="distance"
        ``"distance"`` stores the distances, ``"connectivity"`` stores ones.

    Attributes
    ----------
    hasher_ : estimator
        The fitted clone of ``hasher``, holding the indexed samples.
    n_samples_fit_ : int
        Number of indexed samples: the number of columns of the graphs.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    sklearn.neighbors.KNeighborsTransformer : The same contract with exact distances.
    knn_graph : The graph layout.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from sklearn.pipeline import make_pipeline
    >>> from skhash import ITQ, HashingNeighborsTransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> graph = HashingNeighborsTransformer(ITQ(n_bits=32, random_state=0)).fit_transform(X)
    >>> graph.shape, graph.nnz == 6 * len(X)
    ((1797, 1797), True)
    >>> model = make_pipeline(
    ...     HashingNeighborsTransformer(ITQ(n_bits=32, random_state=0), n_neighbors=10),
    ...     KNeighborsClassifier(n_neighbors=10, metric="precomputed"),
    ... ).fit(X[:1500], y[:1500])
    >>> bool(model.score(X[1500:], y[1500:]) > 0.85)
    True
    """

    _parameter_constraints: dict = {
        "hasher": [HasMethods(["fit", "kneighbors"])],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "mode": [StrOptions({"distance", "connectivity"})],
    }

    def __init__(self, hasher, *, n_neighbors=5, mode="distance"):
        self.hasher = hasher
        self.n_neighbors = n_neighbors
        self.mode = mode

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit a clone of the hasher on ``X``, indexing its samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, as the hasher takes it.
        y : array-like, default=None
            Passed to the hasher (supervised hashers learn from it).

        Returns
        -------
        self : HashingNeighborsTransformer
        """
        self.hasher_ = clone(self.hasher).fit(X, y)
        self.n_samples_fit_ = _num_samples(X)  # the hasher indexes what it is fitted on
        return self

    @property
    def n_features_in_(self):
        return self.hasher_.n_features_in_

    @property
    def _n_features_out(self):
        return self.n_samples_fit_

    def _n_graph_neighbors(self):
        """Neighbours stored per row: a sample counts as its own in ``"distance"`` mode."""
        return self.n_neighbors + (self.mode == "distance")

    def transform(self, X):
        """Graph of the nearest indexed samples of each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Queries.

        Returns
        -------
        graph : sparse matrix of shape (n_queries, n_samples_fit_)
            CSR graph with ``n_neighbors`` (connectivity) or ``n_neighbors + 1`` (distance)
            stored entries per row, nearest first.
        """
        check_is_fitted(self)
        # kneighbors, not kneighbors_graph: any estimator with kneighbors may be the hasher
        dist, ind = self.hasher_.kneighbors(X, n_neighbors=self._n_graph_neighbors())
        return knn_graph(dist, ind, self.n_samples_fit_, self.mode)

    def fit_transform(self, X, y=None):
        """Fit, then return the graph of the training samples, each its own first neighbour.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like, default=None
            Passed to the hasher.

        Returns
        -------
        graph : sparse matrix of shape (n_samples, n_samples)
            Row ``i``: sample ``i`` at distance 0, then its nearest other samples.
        """
        self.fit(X, y)
        n = self.n_samples_fit_
        n_stored = self._n_graph_neighbors()
        # The training samples queried as new data (re-ranking hashers may need their
        # embeddings), then each sample's own entry moved first, at distance 0: dropped from
        # its row where found, else the row's farthest dropped.
        dist, ind = self.hasher_.kneighbors(X, n_neighbors=n_stored)
        is_self = ind == np.arange(n)[:, None]
        is_self[~is_self.any(axis=1), -1] = True
        others = ~is_self
        ind = np.hstack([np.arange(n)[:, None], ind[others].reshape(n, -1)])
        dist = np.hstack([np.zeros((n, 1)), dist[others].reshape(n, -1)])
        return knn_graph(dist, ind, n, self.mode)

    def save(self, path):
        """Save the fitted transformer (its hasher and the indexed samples) without pickle.

        One file in skhash's own format, read back by :func:`skhash.load`, the hasher stored
        as a nested object of the manifest; replaced atomically, as
        :meth:`skhash.BaseHasher.save` describes.

        Parameters
        ----------
        path : str or path-like
            The file to write (replaced if it exists).

        Examples
        --------
        >>> import os, tempfile
        >>> from sklearn.datasets import load_digits
        >>> import skhash
        >>> from skhash import ITQ, HashingNeighborsTransformer
        >>> X, _ = load_digits(return_X_y=True)
        >>> graphs = HashingNeighborsTransformer(ITQ(n_bits=32, random_state=0)).fit(X)
        >>> path = os.path.join(tempfile.mkdtemp(), "graphs.skhash")
        >>> graphs.save(path)
        >>> (skhash.load(path).transform(X[:5]) != graphs.transform(X[:5])).nnz
        0
        """
        from ._persistence import save

        check_is_fitted(self)
        save(self, path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = get_tags(self.hasher).input_tags.sparse
        tags.transformer_tags.preserves_dtype = []
        tags.requires_fit = True
        return tags
