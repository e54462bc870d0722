"""Iterative quantization (ITQ): PCA followed by a learnt orthogonal rotation."""

import numpy as np
from sklearn.utils import check_random_state

from ..utils.docstrings import fill_doc
from ..utils.validation import Count
from ._base import ClassicHasher
from ._pca_utils import fit_pca, project, warn_if_rank_deficient


@fill_doc
class ITQ(ClassicHasher):
    """Iterative quantization: PCA, then the rotation that best fits the binary hypercube.

    Gong & Lazebnik (2011) project the centred data ``X`` on its top ``n_bits`` principal
    components, ``V = X W``, then look for the orthogonal rotation ``R`` minimising the
    quantization loss ``||B - V R||_F^2`` over codes ``B in {-1, 1}``. It alternates two exact
    steps: ``B = sign(V R)`` for a fixed ``R``, and for a fixed ``B`` the orthogonal Procrustes
    solution ``R = U S^T`` where ``V^T B = U Sigma S^T`` is an SVD. ``R`` starts as a random
    orthogonal matrix. The rotation spreads the variance evenly over the bits, which is why ITQ
    does not degrade with more bits the way :class:`PCAHashing` does. With ``n_bits`` above
    the numerical rank of the data, some principal components are rounding noise: the
    rotation then spreads fewer informative directions than bits over the code, and fitting
    warns (``DataDimensionalityWarning``).

    Sparse input (e.g. TF-IDF) is accepted and never densified: PCA centres it implicitly
    (covariance eigendecomposition up to 2,000 features, ARPACK beyond, where ``n_bits``
    must then be below ``min(n_samples, n_features)``), and projections are computed as
    ``X @ W.T - mean @ W.T``. The codes are those of the dense input, up to rounding.

    Parameters
    ----------
    n_bits : int, default=32
        Length of the binary codes; at most ``min(n_samples, n_features)``.
    n_iter : int, default=50
        Number of alternating (codes, rotation) updates, as in the paper.
    random_state : int, RandomState instance or None, default=None
        Draws the initial rotation. Pass an int for reproducible codes.
    n_jobs : int, default=None
        Threads of the Hamming search; ``None`` means every core, ``1`` one thread.
    {search_parameters}

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Per-feature mean of the training data.
    components_ : ndarray of shape (n_bits, n_features)
        Principal axes.
    rotation_ : ndarray of shape (n_bits, n_bits)
        The learnt orthogonal rotation ``R``.
    quantization_loss_ : ndarray of shape (n_iter + 1,)
        ``||B - V R||_F^2 / n_samples`` before the first and after each iteration; it never
        increases.
    n_features_in_ : int
        Number of features seen during fit.
    index_ : HammingIndex
        The database of codes.
    database_labels_ : ndarray or None
        Labels of the database items, when fitted with ``y``.

    See Also
    --------
    PCAHashing : The same PCA step without the rotation.

    References
    ----------
    Y. Gong, S. Lazebnik. Iterative quantization: a Procrustean approach to learning binary
    codes. CVPR 2011 (and TPAMI 2013, with A. Gordo and F. Perronnin).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import ITQ
    >>> X, y = load_digits(return_X_y=True)
    >>> itq = ITQ(n_bits=32, random_state=0).fit(X[300:], y[300:])
    >>> itq.transform(X[:2]).shape
    (2, 32)
    >>> bool(itq.quantization_loss_[-1] <= itq.quantization_loss_[0])
    True
    >>> dist, ind = itq.kneighbors(X[:1], n_neighbors=5)
    """

    _parameter_constraints = {
        **ClassicHasher._parameter_constraints,
        "n_iter": [Count(0)],
    }

    def __init__(
        self,
        n_bits=32,
        *,
        n_iter=50,
        random_state=None,
        n_jobs=None,
        rerank=None,
        rerank_factor=10,
        bit_weights=None,
    ):
        self.n_bits = n_bits
        self.n_iter = n_iter
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.rerank = rerank
        self.rerank_factor = rerank_factor
        self.bit_weights = bit_weights

    def _fit(self, X, y):
        rng = check_random_state(self.random_state)
        self.mean_, self.components_, variance = fit_pca(self, X, self.n_bits)
        warn_if_rank_deficient(
            self,
            variance,
            *X.shape,
            "The rotation mixes them into every bit, so no bit is pure noise, but the "
            "{n_bits} bits are hyperplanes of a {rank}-dimensional space.",
        )
        V = project(X, self.mean_, self.components_)
        rotation, _ = np.linalg.qr(rng.standard_normal((self.n_bits, self.n_bits)))
        losses = []
        for _ in range(self.n_iter):
            VR = V @ rotation
            B = np.where(VR >= 0, 1.0, -1.0)
            losses.append(np.sum((B - VR) ** 2) / len(V))
            U, _, St = np.linalg.svd(V.T @ B)
            rotation = U @ St
        VR = V @ rotation
        losses.append(np.sum((np.where(VR >= 0, 1.0, -1.0) - VR) ** 2) / len(V))
        self.rotation_ = rotation
        self.quantization_loss_ = np.asarray(losses)

    def _embed(self, X, layer="hash"):
        return project(X, self.mean_, self.components_) @ self.rotation_
