"""K-means hashing (He, Wen & Sun, CVPR 2013): affinity-preserving quantization."""

from numbers import Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from ..utils.docstrings import fill_doc
from ..utils.validation import Count
from ._base import ClassicHasher
from ._pca_utils import fit_pca, project


def _index_bits(n_bits):
    """The ``2**n_bits`` center indices as a (2**n_bits, n_bits) 0/1 matrix, bit j = 2**j."""
    return (np.arange(2**n_bits)[:, None] >> np.arange(n_bits)[None, :]) & 1


def _sq_dist(X, C):
    return (X**2).sum(1)[:, None] - 2 * X @ C.T + (C**2).sum(1)[None, :]


def _affinity_kmeans(V, n_bits, n_iter, affinity_weight, rng):
    """Affinity-preserving k-means in one subspace; returns (centers, scale).

    The data is divided by its root-mean-square norm first (and the results multiplied
    back), so the centers of ``c * V`` are ``c`` times those of ``V``: the codes do not
    depend on the scale of the features.

    Minimises ``E_quan + affinity_weight * E_aff`` where ``E_quan`` is the mean squared
    distance of points to their center and ``E_aff = sum_ij w_ij (d(c_i, c_j) - s h_ij)^2``
    with ``w_ij = n_i n_j / n^2`` and ``h_ij`` the square root of the Hamming distance between
    the indices ``i`` and ``j``. Centers are updated one at a time by a majorization step
    (which never increases the objective) and ``s`` in closed form.
    """
    unit = float(np.sqrt((V**2).sum(axis=1).mean()))
    unit = unit if unit > 0 else 1.0
    V = V / unit
    bits = _index_bits(n_bits)
    h = np.sqrt((bits[:, None, :] != bits[None, :, :]).sum(-1)).astype(np.float64)
    # Start from the hypercube of PCA hashing: +-E|v| along each direction of the subspace.
    scale_per_dim = np.sqrt(2 / np.pi) * V.std(axis=0)
    dims = V.shape[1]
    signs = 2.0 * _index_bits(n_bits)[:, np.arange(dims) % n_bits] - 1
    centers = signs * scale_per_dim + 1e-6 * rng.standard_normal((2**n_bits, dims))
    n = len(V)
    scale = 1.0
    for _ in range(n_iter):
        labels = _sq_dist(V, centers).argmin(axis=1)
        counts = np.bincount(labels, minlength=len(centers)).astype(np.float64)
        sums = np.zeros_like(centers)
        np.add.at(sums, labels, V)
        w = np.outer(counts, counts) / n**2
        for i in np.flatnonzero(counts):
            diff = centers[i] - centers
            dist = np.linalg.norm(diff, axis=1)
            dist[i] = 1.0
            # a center on top of another pulls in no direction (not 0 / 0)
            direction = diff / np.maximum(dist, np.finfo(np.float64).tiny)[:, None]
            coef = 2 * affinity_weight * w[i]
            coef[i] = 0.0
            target = centers + (scale * h[i])[:, None] * direction
            centers[i] = (sums[i] / n + coef @ target) / (counts[i] / n + coef.sum())
        d = np.sqrt(np.maximum(_sq_dist(centers, centers), 0))
        scale = float((w * d * h).sum() / max((w * h**2).sum(), np.finfo(float).tiny))
    return centers * unit, scale * unit


def _bit_margins(V, centers):
    """Signed distance of each point to the boundary where each bit of its code flips.

    For bit ``j`` of the center indices, ``c1`` is the point's nearest center with that bit
    set and ``c0`` its nearest without; the margin is the signed distance from the point to
    the bisector of ``c0`` and ``c1``, positive on the side of ``c1``. It is positive exactly
    when the nearest center has bit ``j`` set, so the signs of the margins spell the index of
    the nearest center, and its size is how far the point would have to move for the bit to
    change. A point equidistant from two nearest centers gets 0, hence bit 0, where they
    differ (the bitwise AND of their indices).
    """
    dist = _sq_dist(V, centers)
    bits = _index_bits(int(np.log2(len(centers)))).astype(bool)
    margins = np.empty((len(V), bits.shape[1]))
    for j, has_bit in enumerate(bits.T):
        ones, zeros = np.flatnonzero(has_bit), np.flatnonzero(~has_bit)
        c1 = centers[ones[dist[:, ones].argmin(axis=1)]]
        c0 = centers[zeros[dist[:, zeros].argmin(axis=1)]]
        normal = c1 - c0
        length = np.linalg.norm(normal, axis=1)
        along = np.einsum("ij,ij->i", V - (c0 + c1) / 2, normal)
        margins[:, j] = np.divide(along, length, out=np.zeros_like(along), where=length > 0)
    return margins


@fill_doc
class KMeansHashing(ClassicHasher):
    """K-means hashing: product quantization whose center indices keep center distances.

    This is K-means Hashing (KMH) of He, Wen & Sun (CVPR 2013). The data is projected on its
    top ``n_bits`` principal components, which are dealt round-robin into subspaces of
    ``bits_per_subspace`` bits (so each subspace gets a balanced share of the variance). In each
    subspace, ``2**b`` centers are learnt by *affinity-preserving k-means*: the usual
    quantization error plus ``affinity_weight`` times the error between the Euclidean
    distance of two centers and the (scaled, square-rooted) Hamming distance of their
    indices. A point's code is the concatenation of the ``b``-bit indices of its nearest
    center in every subspace, so Hamming distance between codes approximates the distance
    between their quantized points.

    Each subspace's k-means runs on its data divided by the data's root-mean-square norm,
    so the codes of ``c * X`` are those of ``X`` for any ``c > 0``. Principal components
    without variance (``n_bits`` above the rank of the data) do not make noise bits: the
    centers spread over the informative directions of their subspace.

    :meth:`embed` gives, for every bit, the signed distance from the point to the boundary
    where that bit changes: the bisector of its nearest center with the bit set and its
    nearest center without it. Its sign is the bit (so the code is the index of the nearest
    center) and its size is how far the point sits from flipping it, which is what
    asymmetric re-ranking weighs. A point exactly equidistant from two nearest centers gets
    bit 0 where their indices differ.

    Sparse input (e.g. TF-IDF) is accepted and never densified: the PCA step centres it
    implicitly (covariance eigendecomposition up to 2,000 features, ARPACK beyond, where
    ``n_bits`` must then be below ``min(n_samples, n_features)``); the codes are those of the
    dense input, up to rounding.

    Parameters
    ----------
    n_bits : int, default=32
        Length of the binary codes; at most ``min(n_samples, n_features)``.
    bits_per_subspace : int, default=4
        Bits ``b`` per subspace (``2**b`` centers each); the paper uses 4. The last subspace
        takes the remainder when ``n_bits`` is not a multiple.
    affinity_weight : float, default=10.0
        Weight ``lambda`` of the affinity error; the paper uses 10.
    n_iter : int, default=50
        Alternations of assignment and center updates per subspace.
    random_state : int, RandomState instance or None, default=None
        Breaks ties in the initial centers. Pass an int for reproducible codes.
    n_jobs : int, default=None
        Threads of the Hamming search; ``None`` means every core, ``1`` one thread.
    {search_parameters}

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Per-feature mean of the training data.
    components_ : ndarray of shape (n_bits, n_features)
        Principal axes.
    subspaces_ : list of ndarray
        Indices of the principal components in each subspace.
    centers_ : list of ndarray of shape (2**b, n_dims_in_subspace)
        The learnt centers of each subspace, row ``i`` coded by the bits of ``i``.
    scales_ : ndarray of shape (n_subspaces,)
        The learnt scale ``s`` between Hamming and Euclidean distance in each subspace.
    n_features_in_ : int
        Number of features seen during fit.
    index_ : HammingIndex
        The database of codes.
    database_labels_ : ndarray or None
        Labels of the database items, when fitted with ``y``.

    References
    ----------
    K. He, F. Wen, J. Sun. K-means hashing: an affinity-preserving quantization method for
    learning binary compact codes. CVPR 2013.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skhash import KMeansHashing
    >>> X, y = load_digits(return_X_y=True)
    >>> kmh = KMeansHashing(n_bits=16, random_state=0).fit(X, y)
    >>> len(kmh.centers_), kmh.centers_[0].shape
    (4, (16, 4))
    >>> kmh.transform(X[:2]).shape
    (2, 16)
    >>> bool(((kmh.embed(X) > 0) == kmh.transform(X)).all())
    True
    """

    _parameter_constraints = {
        **ClassicHasher._parameter_constraints,
        "bits_per_subspace": [Count(1, 12, closed="both")],
        "affinity_weight": [Interval(Real, 0, None, closed="left")],
        "n_iter": [Count(1)],
    }

    def __init__(
        self,
        n_bits=32,
        *,
        bits_per_subspace=4,
        affinity_weight=10.0,
        n_iter=50,
        random_state=None,
        n_jobs=None,
        rerank=None,
        rerank_factor=10,
        bit_weights=None,
    ):
        self.n_bits = n_bits
        self.bits_per_subspace = bits_per_subspace
        self.affinity_weight = affinity_weight
        self.n_iter = n_iter
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.rerank = rerank
        self.rerank_factor = rerank_factor
        self.bit_weights = bit_weights

    def _subspace_bits(self):
        b = min(self.bits_per_subspace, self.n_bits)
        full, rest = divmod(self.n_bits, b)
        return [b] * full + ([rest] if rest else [])

    def _fit(self, X, y):
        rng = check_random_state(self.random_state)
        self.mean_, self.components_, _ = fit_pca(self, X, self.n_bits)
        V = project(X, self.mean_, self.components_)
        sizes = self._subspace_bits()
        owner = np.arange(self.n_bits) % len(sizes)
        self.subspaces_ = [np.flatnonzero(owner == m) for m in range(len(sizes))]
        self.centers_, scales = [], []
        for dims, b in zip(self.subspaces_, sizes, strict=True):
            centers, scale = _affinity_kmeans(
                V[:, dims], b, self.n_iter, self.affinity_weight, rng
            )
            self.centers_.append(centers)
            scales.append(scale)
        self.scales_ = np.asarray(scales)

    def _embed(self, X, layer="hash"):
        V = project(X, self.mean_, self.components_)
        return np.hstack(
            [
                _bit_margins(V[:, dims], centers)
                for dims, centers in zip(self.subspaces_, self.centers_, strict=True)
            ]
        )
