"""Locality-sensitive hashing with random hyperplanes (SimHash)."""

from sklearn.utils import check_random_state

from ..utils.docstrings import fill_doc
from ._base import ClassicHasher
from ._pca_utils import column_mean, project


@fill_doc
class LSH(ClassicHasher):
    """Random-hyperplane locality-sensitive hashing (SimHash), centred on the data mean.

    Each bit is the sign of the projection of the centred input on a random Gaussian
    direction (Charikar, 2002). Two inputs at angle ``theta`` get different bits with
    probability ``theta / pi``, so the Hamming distance estimates the angle between them.
    Nothing is learnt from the data except its mean; any number of bits works, and the
    rank of the data does not matter (random directions mix all of it).

    Sparse input (e.g. TF-IDF) is accepted and never densified: it is centred implicitly,
    ``X @ W.T - mean @ W.T``, which gives the codes of the dense input up to rounding.

    Parameters
    ----------
    n_bits : int, default=32
        Length of the binary codes.
    random_state : int, RandomState instance or None, default=None
        Draws the hyperplanes. Pass an int for reproducible codes.
    n_jobs : int, default=None
        Threads of the Hamming search; ``None`` means every core, ``1`` one thread.
    {search_parameters}

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Mean of the training data, subtracted before projecting.
    components_ : ndarray of shape (n_bits, n_features)
        The random hyperplane normals.
    n_features_in_ : int
        Number of features seen during fit.
    index_ : HammingIndex
        The database of codes.
    database_labels_ : ndarray or None
        Labels of the database items, when fitted with ``y``.

    See Also
    --------
    PCAHashing : Projections on principal components instead of random ones.
    ITQ : Principal components rotated to lower the quantization error.

    References
    ----------
    M. Charikar. Similarity estimation techniques from rounding algorithms. STOC 2002.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import LSH
    >>> X, y = load_digits(return_X_y=True)
    >>> lsh = LSH(n_bits=16, random_state=0).fit(X[:1000], y[:1000])
    >>> lsh.transform(X[1000:1002]).shape
    (2, 16)
    >>> dist, ind = lsh.kneighbors(X[1000:1002], n_neighbors=3)
    >>> ind.shape
    (2, 3)
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
        rng = check_random_state(self.random_state)
        self.mean_ = column_mean(X)
        self.components_ = rng.standard_normal((self.n_bits, X.shape[1]))

    def _embed(self, X, layer="hash"):
        return project(X, self.mean_, self.components_)
