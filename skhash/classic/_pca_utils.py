"""The centring, projection and PCA steps shared by the classic hashers, dense or sparse."""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import PCA
from sklearn.exceptions import DataDimensionalityWarning
from sklearn.utils.extmath import svd_flip

from ..utils.interrupt import in_row_slices, run_interruptibly

# Sparse PCA forms the (n_features, n_features) covariance up to this width (exact, all
# components; 32 MB), and uses ARPACK on the implicitly centred matrix beyond it.
MAX_COVARIANCE_FEATURES = 2000


def _pca_solver(X):
    """The PCA solver for ``X``: a full SVD when dense; for sparse ``X``, the covariance
    eigendecomposition up to ``MAX_COVARIANCE_FEATURES`` features, ARPACK beyond (both
    centre implicitly)."""
    if not sp.issparse(X):
        return "full"
    return "covariance_eigh" if X.shape[1] <= MAX_COVARIANCE_FEATURES else "arpack"


def max_components(X):
    """The most principal components :func:`fit_pca` can give for ``X``."""
    limit = min(X.shape)
    return limit - 1 if _pca_solver(X) == "arpack" else limit  # ARPACK: strictly fewer


def check_n_components(hasher, n_components, X):
    """Raise a clear error when PCA cannot give ``n_components`` dimensions of ``X``."""
    limit = max_components(X)
    if n_components > limit:
        n_samples, n_features = X.shape
        arpack = (
            f" (sparse input with more than {MAX_COVARIANCE_FEATURES} features: ARPACK gives "
            "fewer components than min(n_samples, n_features))"
            if _pca_solver(X) == "arpack"
            else ""
        )
        raise ValueError(
            f"{type(hasher).__name__} projects on n_bits={n_components} principal components, "
            f"but data of n_samples={n_samples}, n_features={n_features} gives at most "
            f"{limit}{arpack}. Lower n_bits or give more data."
        )


def fit_pca(hasher, X, n_components):
    """Fit PCA and return ``(mean, components, explained_variance)`` as float64 arrays.

    ``components`` has shape (n_components, n_features), rows in decreasing variance. Dense
    ``X`` is decomposed by a full SVD. Sparse ``X`` is centred implicitly, never densified:
    the covariance matrix is formed and diagonalised when there are at most 2,000 features,
    otherwise ARPACK finds the top components of the implicitly centred matrix. Both give
    the principal components of the dense equivalent, with the same sign convention.
    """
    check_n_components(hasher, n_components, X)
    # float64 throughout, so the rank test below has one tolerance for every input dtype
    X = X.astype(np.float64, copy=False)
    if not sp.issparse(X):
        # One SVD that cannot be cut in slices: run in a worker thread so that Ctrl-C stops
        # the wait for it. numpy's SVD releases the GIL (scipy's, which PCA calls, holds it
        # for the whole call, so the waiting thread could not react).
        return run_interruptibly(_dense_pca, X, n_components)
    pca = PCA(n_components=n_components, svd_solver=_pca_solver(X), random_state=0)
    pca.fit(X)
    return (
        pca.mean_.astype(np.float64),
        pca.components_.astype(np.float64),
        pca.explained_variance_.astype(np.float64),
    )


def _dense_pca(X, n_components):
    """``(mean, components, explained_variance)`` of dense float64 ``X``, as
    ``PCA(svd_solver="full")`` computes them (a thin SVD of the centred data, components'
    signs fixed by :func:`~sklearn.utils.extmath.svd_flip`), with numpy's SVD."""
    mean = X.mean(axis=0)
    _, S, Vt = np.linalg.svd(X - mean, full_matrices=False)
    _, Vt = svd_flip(None, Vt, u_based_decision=False)
    variance = S**2 / max(len(X) - 1, 1)
    return mean, Vt[:n_components].copy(), variance[:n_components]


def numerical_rank(explained_variance, n_samples, n_features):
    """Number of principal components above rounding noise.

    A component whose variance is at most ``max(n_samples, n_features) * eps`` times the
    largest is rounding noise (the tolerance of ``numpy.linalg.matrix_rank``, applied to the
    eigenvalues of the covariance).
    """
    if len(explained_variance) == 0 or explained_variance[0] <= 0:
        return 0
    tol = explained_variance[0] * max(n_samples, n_features) * np.finfo(np.float64).eps
    return int((explained_variance > tol).sum())


def warn_if_rank_deficient(hasher, explained_variance, n_samples, n_features, consequence):
    """Warn when some of the principal components a hasher uses are rounding noise.

    Parameters
    ----------
    hasher : estimator
        The hasher, named in the message.
    explained_variance : ndarray of shape (n_components,)
        Variances of the components, decreasing.
    n_samples, n_features : int
        Shape of the training data.
    consequence : str
        What the noise components do to this hasher's codes, for the message; ``{rank}``
        and ``{n_bits}`` in it are filled in.
    """
    rank = numerical_rank(explained_variance, n_samples, n_features)
    n_noise = len(explained_variance) - rank
    if n_noise:
        n_bits = hasher.n_bits
        warnings.warn(
            f"{type(hasher).__name__}: n_bits={n_bits} exceeds the numerical rank of "
            f"the training data ({rank}): {n_noise} of its {len(explained_variance)} "
            "principal components have no variance beyond rounding noise. "
            f"{consequence.format(rank=rank, n_bits=n_bits)} Use n_bits <= {rank}.",
            DataDimensionalityWarning,
            stacklevel=5,  # the caller of fit
        )


def column_mean(X):
    """Per-feature mean of dense or sparse ``X`` as a float64 vector."""
    return np.asarray(X.mean(axis=0), dtype=np.float64).ravel()


def project(X, mean, components):
    """Centre ``X`` and project it on ``components`` (rows): ``(X - mean) @ components.T``.

    Sparse ``X`` is centred implicitly, as ``X @ components.T - mean @ components.T``, so it
    stays sparse; the result equals the dense computation up to rounding.
    """
    # in slices of rows: bounded memory, and Ctrl-C is answered between slices
    return in_row_slices(
        lambda rows: _project(rows, mean, components),
        X,
        n_columns=max(X.shape[1], len(components)),
    )


def _project(X, mean, components):
    if sp.issparse(X):
        return np.asarray(X.astype(np.float64, copy=False) @ components.T) - mean @ components.T
    return (np.asarray(X, dtype=np.float64) - mean) @ components.T
