"""PCA hashing: the sign of the top principal components."""

from ..utils.docstrings import fill_doc
from ._base import ClassicHasher
from ._pca_utils import fit_pca, project, warn_if_rank_deficient


@fill_doc
class PCAHashing(ClassicHasher):
    """PCA hashing: each bit is the sign of one of the top ``n_bits`` principal components.

    The simplest learnt hash (Wang, Kumar & Chang, 2010; the baseline of Gong & Lazebnik,
    2011). Bits are uncorrelated, but their variances are unequal: the low-variance
    components carry little information, so quality tends to drop as ``n_bits`` grows
    (see :class:`ITQ`, which fixes this with a rotation). Components beyond the numerical
    rank of the data have no variance at all, and their bits are the signs of rounding
    noise: fitting with ``n_bits`` above the rank warns (``DataDimensionalityWarning``).

    Sparse input (e.g. TF-IDF) is accepted and never densified: PCA centres it implicitly
    (covariance eigendecomposition up to 2,000 features, ARPACK beyond, where ``n_bits``
    must then be below ``min(n_samples, n_features)``), and projections are computed as
    ``X @ W.T - mean @ W.T``. The codes are those of the dense input, up to rounding.

    Parameters
    ----------
    n_bits : int, default=32
        Length of the binary codes; at most ``min(n_samples, n_features)``, and at most the
        rank of the data for every bit to carry information.
    random_state : int, RandomState instance or None, default=None
        Unused (PCA is solved exactly); kept so every hasher shares the parameter.
    n_jobs : int, default=None
        Threads of the Hamming search; ``None`` means every core, ``1`` one thread.
    {search_parameters}

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Per-feature mean of the training data.
    components_ : ndarray of shape (n_bits, n_features)
        Principal axes, in decreasing explained variance.
    explained_variance_ : ndarray of shape (n_bits,)
        Variance along each component.
    n_features_in_ : int
        Number of features seen during fit.
    index_ : HammingIndex
        The database of codes.
    database_labels_ : ndarray or None
        Labels of the database items, when fitted with ``y``.

    See Also
    --------
    ITQ : PCA followed by a learnt rotation.
    SpectralHashing : Several bits per principal direction, by frequency.

    References
    ----------
    J. Wang, S. Kumar, S.-F. Chang. Semi-supervised hashing for scalable image retrieval.
    CVPR 2010.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import PCAHashing
    >>> X, y = load_digits(return_X_y=True)
    >>> pcah = PCAHashing(n_bits=16).fit(X, y)
    >>> pcah.transform(X[:3]).shape
    (3, 16)
    >>> round(pcah.score(X[:100], y[:100]), 2) > 0.3
    True
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
        self.mean_, self.components_, self.explained_variance_ = fit_pca(self, X, self.n_bits)
        warn_if_rank_deficient(
            self,
            self.explained_variance_,
            *X.shape,
            "The bits of those components are the signs of rounding noise.",
        )

    def _embed(self, X, layer="hash"):
        return project(X, self.mean_, self.components_)
