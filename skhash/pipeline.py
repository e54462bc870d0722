"""Pipelines ending in a hasher that search, add and embed through their transforms, and a
transformer that turns a hasher into a feature extractor.

A plain :class:`sklearn.pipeline.Pipeline` only exposes the final step's ``transform``,
``score`` and the like. :class:`HashingPipeline` also passes ``kneighbors``,
``radius_neighbors``, ``kneighbors_graph``, ``hamming_distances``, ``add`` and ``embed``
through its transforms to the final hasher, so ``make_hashing_pipeline(StandardScaler(),
ITQ())`` is searched like the hasher itself, and :func:`as_hashing_pipeline` makes a fitted
plain Pipeline (a grid search's ``best_estimator_``) searchable without refitting it.
"""

import copy
import functools
from types import MethodType

from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "EmbeddingTransformer",
    "HashingPipeline",
    "as_hashing_pipeline",
    "make_hashing_pipeline",
]

_NOT_A_HASHER = (
    "The last step of a HashingPipeline must be a hasher (an estimator with kneighbors, such "
    "as ITQ, DSBH or CoarseToFine); its last step {name!r} is {what}. Add a hasher after it, "
    "or use sklearn.pipeline.make_pipeline for a pipeline that does not search."
)


def _describe(step):
    return repr(step) if isinstance(step, str) or step is None else type(step).__name__


def _check_final_hasher(steps):
    """TypeError naming the last step when it is not a hasher (has no ``kneighbors``)."""
    name, step = steps[-1]
    if not hasattr(step, "kneighbors"):
        raise TypeError(_NOT_A_HASHER.format(name=name, what=_describe(step)))


class _from_final_step:  # noqa: N801 (used as a decorator, like available_if)
    """A pipeline method that exists only when the final step has a method of its name.

    As :func:`~sklearn.utils.metaestimators.available_if`, so ``hasattr`` stays truthful,
    but the AttributeError names the last step, which is what the user has to change.
    """

    def __init__(self, fn):
        self.fn = fn
        functools.update_wrapper(self, fn)

    def __get__(self, obj, owner=None):
        if obj is None:
            return self.fn  # the class attribute: documented like a plain method
        name, step = obj.steps[-1]
        if not hasattr(step, self.fn.__name__):
            raise AttributeError(
                f"This HashingPipeline has no {self.fn.__name__!r}: its last step {name!r} "
                f"({_describe(step)}) has none. HashingPipeline searches through a final "
                "hasher such as ITQ or DSBH."
            )
        return MethodType(self.fn, obj)


class HashingPipeline(Pipeline):
    """A :class:`~sklearn.pipeline.Pipeline` whose final hasher can be searched.

    Everything of :class:`~sklearn.pipeline.Pipeline` (fitting, ``transform``, ``score``,
    nested parameters, caching), plus the hasher's search and database methods: each one
    passes its queries ``X`` through the fitted transforms, then calls the final step with
    them. ``X=None`` (the database queries itself) goes to the final step untouched. The
    methods exist when the final step has them, as ``predict`` does in a Pipeline, and
    ``fit`` refuses a last step that is not a hasher (a TypeError naming it).
    :func:`as_hashing_pipeline` wraps a fitted plain Pipeline without refitting it.

    Parameters
    ----------
    steps : list of (str, estimator) tuples
        The transforms, then the hasher last.
    transform_input : list of str, default=None
        As in :class:`~sklearn.pipeline.Pipeline` (metadata routing).
    memory : str or object with the joblib.Memory interface, default=None
        Caches the fitted transforms, as in :class:`~sklearn.pipeline.Pipeline`.
    verbose : bool, default=False
        Print the time of each step's fit.

    Attributes
    ----------
    named_steps : :class:`~sklearn.utils.Bunch`
        The steps by name.

    See Also
    --------
    make_hashing_pipeline : Build one with names made from the step classes.
    as_hashing_pipeline : Search with a fitted plain Pipeline (a grid search's best).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skhash import ITQ
    >>> from skhash.pipeline import HashingPipeline
    >>> X, y = load_digits(return_X_y=True)
    >>> pipe = HashingPipeline([("scale", StandardScaler()), ("itq", ITQ(32, random_state=0))])
    >>> dist, ind = pipe.fit(X[100:], y[100:]).kneighbors(X[:2], n_neighbors=3)
    >>> ind.shape
    (2, 3)
    >>> pipe.add(X[:100], y[:100]).named_steps["itq"].index_.n_indexed_
    1797
    """

    def fit(self, X, y=None, **params):
        """Fit the transforms, then the final hasher, as :meth:`Pipeline.fit` does.

        Parameters
        ----------
        X : iterable
            Training data, in the first step's input space.
        y : iterable, default=None
            Training targets, given to every step.
        **params : dict
            Fit parameters routed to the steps, as in :class:`~sklearn.pipeline.Pipeline`.

        Returns
        -------
        self : HashingPipeline

        Raises
        ------
        TypeError
            When the last step is not a hasher (has no ``kneighbors``).
        """
        if isinstance(self.steps, list | tuple) and self.steps:  # else Pipeline says why
            _check_final_hasher(self.steps)
        return super().fit(X, y, **params)

    def save(self, path):
        """Save the fitted pipeline (every step, the hasher's database) without pickle.

        One file in skhash's own format, read back by :func:`skhash.load`: each step is a
        nested object of the manifest, its arrays under their own names. scikit-learn
        transforms (``StandardScaler``, ``PCA``, ...) are stored the same way, their
        parameters and fitted attributes, when these are plain values and numeric arrays;
        a step holding anything else (a callable such as ``FunctionTransformer``'s ``func``,
        a compiled tree, a ``RandomState``) is refused by a ``TypeError`` naming it, and
        ``joblib.dump`` remains the way to save such a pipeline. Loading warns when the
        installed scikit-learn is not the version that saved its steps. The file is replaced
        atomically, as :meth:`skhash.BaseHasher.save` describes.

        Parameters
        ----------
        path : str or path-like
            The file to write (replaced if it exists).

        Examples
        --------
        >>> import os, tempfile
        >>> from sklearn.datasets import load_digits
        >>> from sklearn.preprocessing import StandardScaler
        >>> import skhash
        >>> from skhash import ITQ
        >>> from skhash.pipeline import make_hashing_pipeline
        >>> X, y = load_digits(return_X_y=True)
        >>> pipe = make_hashing_pipeline(StandardScaler(), ITQ(32, random_state=0)).fit(X, y)
        >>> path = os.path.join(tempfile.mkdtemp(), "pipe.skhash")
        >>> pipe.save(path)
        >>> bool((skhash.load(path).kneighbors(X[:5])[1] == pipe.kneighbors(X[:5])[1]).all())
        True
        """
        from ._persistence import save

        check_is_fitted(self)
        save(self, path)

    def _transform_queries(self, X):
        """``X`` through the fitted transforms; None stays None (the database itself)."""
        if X is None:
            return None
        for _, _, step in self._iter(with_final=False):  # Pipeline's own walk: no passthrough
            X = step.transform(X)
        return X

    @_from_final_step
    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Transform ``X``, then call the final hasher's ``kneighbors``.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries in the pipeline's input space; None queries the database itself.
        n_neighbors : int, default=None
            Number of neighbours, as in the hasher.
        return_distance : bool, default=True
            Whether to return the distances as well.

        Returns
        -------
        neigh_dist, neigh_ind : ndarray
            What the hasher's ``kneighbors`` returns.
        """
        return self._final_estimator.kneighbors(
            self._transform_queries(X), n_neighbors=n_neighbors, return_distance=return_distance
        )

    @_from_final_step
    def radius_neighbors(self, X=None, radius=None, return_distance=True):
        """Transform ``X``, then call the final hasher's ``radius_neighbors``.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries in the pipeline's input space; None queries the database itself.
        radius : int, default=None
            Largest Hamming distance returned, as in the hasher.
        return_distance : bool, default=True
            Whether to return the distances as well.

        Returns
        -------
        neigh_dist, neigh_ind : ndarray of dtype object
            What the hasher's ``radius_neighbors`` returns.
        """
        return self._final_estimator.radius_neighbors(
            self._transform_queries(X), radius=radius, return_distance=return_distance
        )

    @_from_final_step
    def kneighbors_graph(self, X=None, n_neighbors=None, mode="connectivity"):
        """Transform ``X``, then call the final hasher's ``kneighbors_graph``.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries in the pipeline's input space; None queries the database itself.
        n_neighbors : int, default=None
            Neighbours per row, as in the hasher.
        mode : {"connectivity", "distance"}, default="connectivity"
            What the graph stores.

        Returns
        -------
        graph : sparse matrix of shape (n_queries, n_indexed)
        """
        return self._final_estimator.kneighbors_graph(
            self._transform_queries(X), n_neighbors=n_neighbors, mode=mode
        )

    @_from_final_step
    def hamming_distances(self, X=None):
        """Transform ``X``, then call the final hasher's ``hamming_distances``.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries in the pipeline's input space; None uses the database itself.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_indexed), dtype int32
        """
        return self._final_estimator.hamming_distances(self._transform_queries(X))

    @_from_final_step
    def add(self, X, y=None):
        """Transform ``X`` with the fitted transforms (no refit), then add it to the database.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Items in the pipeline's input space.
        y : array-like, default=None
            Their labels, as the hasher's ``add`` takes them.

        Returns
        -------
        self : HashingPipeline
        """
        self._final_estimator.add(self._transform_queries(X), y)
        return self

    @_from_final_step
    def embed(self, X, layer="hash"):
        """Transform ``X``, then call the final hasher's ``embed``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data in the pipeline's input space.
        layer : str, default="hash"
            The hasher's layer.

        Returns
        -------
        embedding : ndarray of shape (n_samples, n_dims)
        """
        return self._final_estimator.embed(self._transform_queries(X), layer=layer)


def make_hashing_pipeline(*steps, memory=None, verbose=False):
    """Build a :class:`HashingPipeline` from estimators, naming the steps after their classes.

    The :func:`~sklearn.pipeline.make_pipeline` of hashers: the result searches, adds and
    embeds through its transforms.

    Parameters
    ----------
    *steps : list of estimators
        The transforms, then the hasher last.
    memory : str or object with the joblib.Memory interface, default=None
        Caches the fitted transforms.
    verbose : bool, default=False
        Print the time of each step's fit.

    Returns
    -------
    pipeline : HashingPipeline

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skhash import ITQ
    >>> from skhash.pipeline import make_hashing_pipeline
    >>> X, y = load_digits(return_X_y=True)
    >>> pipe = make_hashing_pipeline(StandardScaler(), ITQ(random_state=0))
    >>> [name for name, _ in pipe.steps]
    ['standardscaler', 'itq']
    >>> search = GridSearchCV(pipe, {"itq__n_bits": [8, 32]}, cv=3).fit(X, y)
    >>> search.best_params_
    {'itq__n_bits': 32}
    >>> search.best_estimator_.kneighbors(X[:1], n_neighbors=4)[1].shape
    (1, 4)
    """
    if not steps:
        raise ValueError(
            "make_hashing_pipeline() needs at least one step: the transforms, then the hasher "
            "last (e.g. make_hashing_pipeline(StandardScaler(), ITQ()))."
        )
    if len(steps) == 1 and isinstance(steps[0], Pipeline):
        raise TypeError(
            "make_hashing_pipeline takes estimators, not a Pipeline; to search with a fitted "
            "Pipeline (e.g. a grid search's best_estimator_) without refitting it, use "
            "skhash.pipeline.as_hashing_pipeline(pipeline)."
        )
    named = make_pipeline(*steps, memory=memory, verbose=verbose)
    return HashingPipeline(named.steps, memory=memory, verbose=verbose)


def as_hashing_pipeline(pipeline):
    """A :class:`HashingPipeline` over the steps of a Pipeline, fitted or not, without refitting.

    A plain :class:`~sklearn.pipeline.Pipeline` ending in a hasher (for example the
    ``best_estimator_`` of a :class:`~sklearn.model_selection.GridSearchCV` over one) has no
    ``kneighbors``. This wraps its steps, the very fitted objects and not copies, in a
    HashingPipeline, which searches, adds and embeds through them.

    Parameters
    ----------
    pipeline : Pipeline
        Its last step must be a hasher (have ``kneighbors``). A HashingPipeline is returned
        as it is.

    Returns
    -------
    hashing_pipeline : HashingPipeline
        The same steps (shared with ``pipeline``: ``add`` fills both), ``memory``,
        ``verbose`` and ``transform_input``.

    Raises
    ------
    TypeError
        When ``pipeline`` is not a Pipeline, or its last step is not a hasher.

    See Also
    --------
    make_hashing_pipeline : Build a HashingPipeline from estimators.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skhash import ITQ
    >>> from skhash.pipeline import as_hashing_pipeline
    >>> X, y = load_digits(return_X_y=True)
    >>> pipe = make_pipeline(StandardScaler(), ITQ(random_state=0))
    >>> search = GridSearchCV(pipe, {"itq__n_bits": [8, 32]}, cv=3).fit(X, y)
    >>> best = as_hashing_pipeline(search.best_estimator_)  # no refit
    >>> best.kneighbors(X[:1], n_neighbors=4)[1].shape
    (1, 4)
    """
    if isinstance(pipeline, HashingPipeline):
        return pipeline
    if not isinstance(pipeline, Pipeline):
        raise TypeError(
            "as_hashing_pipeline takes a sklearn.pipeline.Pipeline ending in a hasher; got "
            f"{type(pipeline).__name__}."
        )
    _check_final_hasher(pipeline.steps)
    own = pipeline.get_params(deep=False)
    options = {key: own[key] for key in ("memory", "verbose", "transform_input") if key in own}
    return HashingPipeline(list(pipeline.steps), **options)


class EmbeddingTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """A hasher's real-valued embedding as a pipeline step: ``transform`` is ``embed``.

    Turns any hasher into a feature extractor, so a deep network's pooled features can feed
    another hasher in a plain Pipeline: CNN features, then k-means quantisation hashing,
    then hash-table lookup, as multi-granularity retrieval pipelines do.

    Parameters
    ----------
    hasher : estimator
        A skhash hasher (anything with ``fit`` and ``embed``).
    layer : str, default="hash"
        The embedding to output: ``"hash"`` (the values behind the codes) or, for deep
        hashers, ``"backbone"`` (the pooled features the hash heads read).
    prefit : bool, default=False
        Whether ``hasher`` is already fitted: ``fit`` then copies it instead of training a
        clone (the user's object is never changed either way).

    Attributes
    ----------
    hasher_ : estimator
        The fitted hasher whose embedding ``transform`` returns.
    n_features_in_ : int
        Number of features seen by the hasher (when it records it).

    See Also
    --------
    skhash.BaseHasher.embed : The method this step calls.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import ITQ, KMeansHashing
    >>> from skhash.pipeline import EmbeddingTransformer, make_hashing_pipeline
    >>> X, y = load_digits(return_X_y=True)
    >>> search = make_hashing_pipeline(
    ...     EmbeddingTransformer(ITQ(n_bits=32, random_state=0)),
    ...     KMeansHashing(n_bits=16, random_state=0),
    ... ).fit(X, y)
    >>> search.kneighbors(X[:2], n_neighbors=3)[1].shape
    (2, 3)
    """

    _parameter_constraints: dict = {
        "hasher": [HasMethods(["fit", "embed"])],
        "layer": [StrOptions({"hash", "backbone"})],
        "prefit": ["boolean"],
    }

    def __init__(self, hasher, *, layer="hash", prefit=False):
        self.hasher = hasher
        self.layer = layer
        self.prefit = prefit

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit a clone of the hasher on ``X`` (or copy the prefitted one).

        Parameters
        ----------
        X : array-like, image files or dataset
            Whatever the hasher's ``fit`` takes.
        y : array-like, default=None
            Passed to the hasher's ``fit``.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        if not hasattr(self.hasher, "_embedding_width"):
            raise TypeError(
                "EmbeddingTransformer takes a skhash hasher (or CoarseToFine), whose embedding "
                f"width is known once fitted; got {type(self.hasher).__name__}."
            )
        if self.prefit:
            check_is_fitted(self.hasher)
            hasher = copy.deepcopy(self.hasher)
        else:
            hasher = clone(self.hasher).fit(X, y)
        layers = getattr(hasher, "_embedding_layers", ("hash",))
        if self.layer not in layers:
            raise ValueError(
                f"layer={self.layer!r} is not an embedding of {type(hasher).__name__}; "
                f"it offers {list(layers)}."
            )
        self.hasher_ = hasher
        self._n_features_out = hasher._embedding_width(self.layer)
        if hasattr(hasher, "n_features_in_"):
            self.n_features_in_ = hasher.n_features_in_
        if hasattr(hasher, "feature_names_in_"):
            self.feature_names_in_ = hasher.feature_names_in_
        return self

    def transform(self, X):
        """The hasher's embedding of ``X``.

        Parameters
        ----------
        X : array-like, image files or dataset
            Whatever the hasher's ``transform`` takes.

        Returns
        -------
        embedding : ndarray of shape (n_samples, n_dims), dtype float
        """
        check_is_fitted(self, "hasher_")
        return self.hasher_.embed(X, layer=self.layer)

    def save(self, path):
        """Save the fitted transformer (its hasher) without pickle.

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
        >>> from skhash import ITQ
        >>> from skhash.pipeline import EmbeddingTransformer
        >>> X, y = load_digits(return_X_y=True)
        >>> features = EmbeddingTransformer(ITQ(n_bits=32, random_state=0)).fit(X)
        >>> path = os.path.join(tempfile.mkdtemp(), "features.skhash")
        >>> features.save(path)
        >>> bool((skhash.load(path).transform(X[:5]) == features.transform(X[:5])).all())
        True
        """
        from ._persistence import save

        check_is_fitted(self, "hasher_")
        save(self, path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.hasher)
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = []
        return tags
