"""Spectral hashing (Weiss, Torralba & Fergus, 2008)."""

import numpy as np

from ..utils.docstrings import fill_doc
from ._base import ClassicHasher
from ._pca_utils import fit_pca, max_components, project


@fill_doc
class SpectralHashing(ClassicHasher):
    """Spectral hashing: thresholded eigenfunctions of the data's graph Laplacian.

    Weiss, Torralba & Fergus (2008) relax the search for codes that keep neighbours close into
    a Laplacian eigenproblem, and solve it for data spread uniformly over a box. The steps:

    1. PCA to ``min(n_bits, n_features, n_samples)`` directions;
    2. fit a box ``[a_i, b_i]`` to the data along each direction ``i``;
    3. the one-dimensional eigenfunctions along direction ``i`` are
       ``sin(pi / 2 + k pi (x - a_i) / (b_i - a_i))`` for ``k = 1, 2, ...``, with eigenvalues
       that grow with ``(k / (b_i - a_i))^2``; select the ``n_bits`` with the smallest
       (mode selection: long directions get several bits, at increasing frequency);
    4. each bit is the sign of its eigenfunction (a sinusoid threshold).

    Unlike :class:`PCAHashing`, ``n_bits`` may exceed the number of features, and the rank of
    the data is no trap: a direction without variance has a box of width zero, hence an
    unbounded eigenvalue, and is never selected (its bits would be rounding noise).

    Sparse input (e.g. TF-IDF) is accepted and never densified: the PCA step centres it
    implicitly (covariance eigendecomposition up to 2,000 features, ARPACK beyond, where
    fewer directions than ``min(n_samples, n_features)`` are used), and the codes are those
    of the dense input, up to rounding.

    Parameters
    ----------
    n_bits : int, default=32
        Length of the binary codes.
    random_state : int, RandomState instance or None, default=None
        Unused (every step is deterministic); kept so every hasher shares the parameter.
    n_jobs : int, default=None
        Threads of the Hamming search; ``None`` means every core, ``1`` one thread.
    {search_parameters}

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Per-feature mean of the training data.
    components_ : ndarray of shape (n_pca, n_features)
        The principal directions used.
    min_ : ndarray of shape (n_pca,)
        Lower edge of the box along each direction.
    max_ : ndarray of shape (n_pca,)
        Upper edge of the box along each direction.
    modes_ : ndarray of shape (n_bits, 2)
        For each bit, its principal direction and its frequency ``k`` (``k >= 1``).
    n_features_in_ : int
        Number of features seen during fit.
    index_ : HammingIndex
        The database of codes.
    database_labels_ : ndarray or None
        Labels of the database items, when fitted with ``y``.

    References
    ----------
    Y. Weiss, A. Torralba, R. Fergus. Spectral hashing. NIPS 2008.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import SpectralHashing
    >>> X, y = load_digits(return_X_y=True)
    >>> sh = SpectralHashing(n_bits=16).fit(X, y)
    >>> sh.modes_[:3]  # (principal direction, frequency) of the first three bits
    array([[3, 1],
           [0, 1],
           [2, 1]])
    >>> sh.transform(X[:2]).shape
    (2, 16)
    """

    def __init__(
        self,
        n_bits=32,
        *,
        random_state=None,
        n_jobs=None,
        rerank=None,
        rerank_factor=10,
        bit_weights=None,
    ):
        self.n_bits = n_bits
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.rerank = rerank
        self.rerank_factor = rerank_factor
        self.bit_weights = bit_weights

    def _fit(self, X, y):
        n_pca = min(self.n_bits, max_components(X))
        self.mean_, self.components_, _ = fit_pca(self, X, n_pca)
        V = project(X, self.mean_, self.components_)
        # A margin relative to the data's extent keeps every box non-empty and the codes
        # independent of the scale of X.
        extent = np.abs(V).max(initial=0.0)
        margin = np.finfo(np.float64).eps * (extent if extent > 0 else 1.0)
        self.min_ = V.min(axis=0) - margin
        self.max_ = V.max(axis=0) + margin
        widths = self.max_ - self.min_
        # Frequencies 1..n_bits on every direction: enough candidates for any selection.
        freqs = np.arange(1, self.n_bits + 1)
        eigen = (freqs[None, :] / widths[:, None]) ** 2  # (n_pca, n_bits)
        order = np.argsort(eigen, axis=None, kind="stable")[: self.n_bits]
        dims, ks = np.unravel_index(order, eigen.shape)
        self.modes_ = np.column_stack([dims, freqs[ks]])

    def _embed(self, X, layer="hash"):
        V = project(X, self.mean_, self.components_)
        dims, freqs = self.modes_[:, 0], self.modes_[:, 1]
        scaled = (V[:, dims] - self.min_[dims]) / (self.max_ - self.min_)[dims]
        return np.sin(np.pi / 2 + freqs * np.pi * scaled)
