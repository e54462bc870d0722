"""The PCA step shared by the projection hashers."""

import numpy as np
from sklearn.decomposition import PCA


def check_n_components(hasher, n_components, n_samples, n_features):
    """Raise a clear error when PCA cannot give ``n_components`` dimensions."""
    limit = min(n_samples, n_features)
    if n_components > limit:
        raise ValueError(
            f"{type(hasher).__name__} projects on n_bits={n_components} principal components, "
            f"which needs n_bits <= min(n_samples={n_samples}, n_features={n_features}) = "
            f"{limit}. Lower n_bits or give more data."
        )


def fit_pca(hasher, X, n_components):
    """Fit PCA and return ``(mean, components, explained_variance)`` as float64 arrays.

    ``components`` has shape (n_components, n_features), rows in decreasing variance.
    """
    check_n_components(hasher, n_components, *X.shape)
    pca = PCA(n_components=n_components, svd_solver="full").fit(X)
    return (
        pca.mean_.astype(np.float64),
        pca.components_.astype(np.float64),
        pca.explained_variance_.astype(np.float64),
    )


def project(X, mean, components):
    """Centre ``X`` and project it on ``components`` (rows)."""
    return (np.asarray(X, dtype=np.float64) - mean) @ components.T
