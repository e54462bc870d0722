"""Loss functions of the deep hashers, in one place.

Conventions: ``u`` and ``v`` are ``(batch, n_bits)`` real-valued (relaxed) codes, usually in
``[-1, 1]``; binary codes are ``{-1, +1}`` (bit ``1`` of :meth:`transform` is ``+1``). Labels
reach the losses as a float ``(batch, n_classes)`` indicator matrix ``Y`` (one-hot for
single-label data), so a pair is *similar* when the two items share at least one label:
``S = 1[Y_a Y_b^T > 0]``. Every loss returns a scalar averaged over its terms, so loss weights
do not depend on the batch size.
"""

import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "BiHalfSign",
    "SignSTE",
    "bi_half_sign",
    "bit_balance_loss",
    "bit_correlation_loss",
    "center_targets",
    "classification_loss",
    "cosine_margin_loss",
    "hash_centers",
    "pairwise_likelihood_loss",
    "pairwise_margin_loss",
    "pairwise_similarity",
    "quantization_loss",
    "random_signs",
    "reconstruction_loss",
    "sign_ste",
    "similarity_preservation_loss",
    "spatial_anchor_loss",
]


def pairwise_similarity(y_a, y_b=None):
    """Similarity matrix ``S[i, j] = 1`` where items ``i`` and ``j`` share a label, else 0.

    Parameters
    ----------
    y_a : Tensor of shape (n_a, n_classes)
        Label indicator matrix (one-hot rows for single-label data).
    y_b : Tensor of shape (n_b, n_classes), default=None
        Second set; ``y_a`` itself when None.

    Returns
    -------
    S : Tensor of shape (n_a, n_b), float
    """
    y_b = y_a if y_b is None else y_b
    return (y_a @ y_b.T > 0).to(y_a.dtype)


def pairwise_likelihood_loss(u, v, S, *, scale=0.5, balanced=False, offset=0.0):
    r"""Negative log-likelihood of the pairwise labels (DPSH; weighted for HashNet).

    With :math:`\theta_{ij} = s \, (u_i^\top v_j - o)` (the offset :math:`o` is 0 in DPSH
    and HashNet) the model says
    :math:`p(S_{ij}=1) = \sigma(\theta_{ij})`, and the loss of a pair is
    :math:`\ell_{ij} = \log(1 + e^{\theta_{ij}}) - S_{ij} \theta_{ij}`, computed as
    ``softplus(theta) - S * theta`` (numerically stable). The loss is the mean of
    :math:`\ell_{ij}` over all pairs, or with ``balanced=True`` HashNet's weighted likelihood
    (Cao et al. 2017, Eq. 5 with :math:`c_{ij} = 1`): similar and dissimilar pairs weigh
    :math:`w_{ij} = |S| / |S_1|` and :math:`|S| / |S_0|`, so that

    .. math:: L = \frac{1}{|S|} \sum_{ij} w_{ij} \ell_{ij}
              = \operatorname{mean}_{S_{ij}=1} \ell_{ij} + \operatorname{mean}_{S_{ij}=0} \ell_{ij}

    (a kind of pair absent from the batch adds nothing). Li et al. use ``s = 1/2``; with
    ``n_bits`` large, a smaller ``s`` keeps ``theta`` out of saturation (HashNet: ``10 / k``).
    An offset ``o = k / 2`` on binary codes puts the likelihood 1/2 at a Hamming distance of
    ``k / 4`` and makes orthogonal codes (``k / 2`` apart) likely dissimilar, which ten
    classes can all reach; with ``o = 0`` every dissimilar pair is pushed towards opposite
    codes, which no three classes can be (DSBH's use).

    Parameters
    ----------
    u, v : Tensor of shape (n_u, n_bits), (n_v, n_bits)
        Relaxed codes.
    S : Tensor of shape (n_u, n_v)
        Pairwise similarity in {0, 1}.
    scale : float, default=0.5
        The factor ``s``.
    balanced : bool, default=False
        Weigh similar and dissimilar pairs equally in total (HashNet).
    offset : float, default=0.0
        The offset ``o``.

    References
    ----------
    W.-J. Li, S. Wang, W.-C. Kang. Feature learning based deep supervised hashing with
    pairwise labels (DPSH). IJCAI 2016. Z. Cao, M. Long, J. Wang, P. S. Yu. HashNet: deep
    learning to hash by continuation. ICCV 2017.
    """
    theta = scale * (u @ v.T - offset) if offset else scale * (u @ v.T)
    pair_loss = F.softplus(theta) - S * theta
    if not balanced:
        return pair_loss.mean()
    similar = S > 0
    n_similar = similar.sum()
    n_dissimilar = similar.numel() - n_similar
    # sums divided by counts clamped to 1: an absent kind of pair contributes 0, and the
    # counts never leave the device (no synchronisation).
    return (pair_loss * similar).sum() / n_similar.clamp(min=1) + (
        pair_loss * ~similar
    ).sum() / n_dissimilar.clamp(min=1)


def pairwise_margin_loss(u, v, S, *, margin=None, distance="hamming"):
    r"""Contrastive loss on code distances, in bits.

    Similar pairs are pulled together and dissimilar pairs pushed beyond the margin ``m``:

    .. math:: L = \frac{1}{k \, n_u n_v} \sum_{ij} S_{ij} d_{ij}
              + (1 - S_{ij}) \max(0, m - d_{ij})

    The distance ``d`` equals the Hamming distance on binary codes; on relaxed codes it is

    - ``"hamming"``: :math:`d_{ij} = (k - u_i^\top v_j) / 2`, for codes in ``[-1, 1]``;
    - ``"euclidean"``: :math:`d_{ij} = \|u_i - v_j\|^2 / 4`, DSH's distance on unbounded
      outputs. DSH's loss (Liu et al. 2016, Eq. 3 without its regulariser),
      :math:`\tfrac12 S \|u_i - v_j\|^2 + \tfrac12 (1 - S) \max(0, m' - \|u_i - v_j\|^2)`
      with :math:`m' = 2k`, is :math:`2k` times this loss with ``m = m' / 4 = k / 2``.

    Parameters
    ----------
    u, v : Tensor of shape (n_u, n_bits), (n_v, n_bits)
    S : Tensor of shape (n_u, n_v)
    margin : float, default=None
        ``m`` in bits; None means ``n_bits / 2``.
    distance : {"hamming", "euclidean"}, default="hamming"

    References
    ----------
    R. Hadsell, S. Chopra, Y. LeCun. Dimensionality reduction by learning an invariant mapping.
    CVPR 2006 (contrastive loss); H. Liu, R. Wang, S. Shan, X. Chen. Deep supervised hashing
    for fast image retrieval (DSH). CVPR 2016.
    """
    k = u.shape[1]
    m = k / 2 if margin is None else margin
    if distance == "hamming":
        d = (k - u @ v.T) / 2
    elif distance == "euclidean":
        squared = (u * u).sum(1)[:, None] + (v * v).sum(1)[None, :] - 2 * (u @ v.T)
        d = squared.clamp(min=0) / 4  # not cdist: its square root has no gradient at 0
    else:
        raise ValueError(f'distance must be "hamming" or "euclidean"; got {distance!r}.')
    return (S * d + (1 - S) * F.relu(m - d)).mean() / k


def classification_loss(logits, Y, *, multilabel=False):
    """Label loss of a classification head on the codes.

    Single-label: cross-entropy ``-log softmax(logits)[c]`` with ``c`` the class of each row of
    the one-hot ``Y``. Multi-label: binary cross-entropy with logits, averaged over classes.

    Parameters
    ----------
    logits : Tensor of shape (n, n_classes)
    Y : Tensor of shape (n, n_classes)
        Label indicator matrix.
    multilabel : bool, default=False
    """
    if multilabel:
        return F.binary_cross_entropy_with_logits(logits, Y)
    return F.cross_entropy(logits, Y.argmax(dim=1))


def bit_balance_loss(u):
    r"""Bit balance: every bit should be ``+1`` for half of the items.

    .. math:: L = \frac{1}{k} \sum_b \Big(\frac{1}{n} \sum_i u_{ib}\Big)^2

    As in the balance terms of DSH-style hashing (e.g. Y. Weiss et al., Spectral hashing,
    NIPS 2008, balance constraint; DSDH and DSBH use the same mean-zero penalty).
    """
    return u.mean(dim=0).pow(2).mean()


def bit_correlation_loss(u):
    r"""Redundancy between bits: the mean squared correlation between two bits over a batch,

    .. math:: L = \frac{1}{k(k-1)} \sum_{a \ne b} \rho_{ab}^2,

    :math:`\rho` the Pearson correlation of the columns of ``u``. Codes whose bits are
    correlated spend several bits on one split of the data; the penalty spreads them out, as
    the uncorrelated-bits constraint of spectral hashing (Weiss et al., NIPS 2008) and the
    decorrelation terms of deep unsupervised hashers do.
    """
    n, k = u.shape
    if n < 2 or k < 2:
        return u.sum() * 0
    centred = u - u.mean(dim=0)
    normed = centred / centred.pow(2).sum(dim=0).add(1e-8).sqrt()
    corr = normed.T @ normed
    off_diagonal = ~torch.eye(k, dtype=torch.bool, device=u.device)
    return corr[off_diagonal].pow(2).mean()


def quantization_loss(u, p=2):
    r"""Quantization error ``mean(| |u| - 1 |^p)``: how far relaxed codes are from the corners.

    ``p=2`` is :math:`\|u - \operatorname{sign}(u)\|^2 / (nk)`, DPSH's
    :math:`\eta \sum_i \|b_i - u_i\|^2` (Li et al., IJCAI 2016); ``p=1`` is DSH's
    regulariser :math:`\| |u| - 1 \|_1` (Liu et al., CVPR 2016); ``p=3`` is GreedyHash's
    penalty :math:`\|h - \operatorname{sign}(h)\|_3^3` (Su et al., NeurIPS 2018).
    """
    return (u.abs() - 1).abs().pow(p).mean()


class SignSTE(torch.autograd.Function):
    """Sign with a straight-through gradient.

    Forward: ``+1`` where ``x > 0`` and ``-1`` elsewhere (the convention of
    :meth:`~skhash.base.BaseHasher.transform`). Backward: the incoming gradient passes
    unchanged where ``|x| <= clip`` and is zeroed elsewhere (the "saturated" straight-through
    estimator of Bengio et al., 2013, as used by BinaryConnect/Hubara et al. 2016); with
    ``clip=None`` it is the identity.
    """

    @staticmethod
    def forward(ctx, x, clip):
        ctx.save_for_backward(x)
        ctx.clip = clip
        return torch.where(x > 0, torch.ones_like(x), -torch.ones_like(x))

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        if ctx.clip is None:
            return grad_output, None
        return grad_output * (x.abs() <= ctx.clip).to(grad_output.dtype), None


def sign_ste(x, clip=1.0):
    """Binary ``{-1, +1}`` codes of ``x`` with a straight-through gradient (see SignSTE)."""
    return SignSTE.apply(x, clip)


def random_signs(shape, generator=None):
    """Codes in {-1, +1} of the given shape, every bit a fair coin drawn from ``generator``
    (on the CPU; torch's global generator when None)."""
    draws = torch.randint(0, 2, shape, generator=generator)
    return (2 * draws - 1).to(torch.float32)


def hash_centers(n_classes, n_bits, generator=None, *, min_distance=None, max_draws=1024):
    """Class codes ("hash centres", anchors) far apart in Hamming space.

    When ``n_bits`` is a power of two, the rows of a Hadamard matrix and their negations come
    first (any two are ``n_bits / 2`` or ``n_bits`` apart), as proposed for hash centres by
    Yuan et al. (CSQ, CVPR 2020). The rows are negated where that makes every bit split the
    classes as evenly as possible (the first rows alone leave bits constant over every
    centre: 1, 2 and 4 bits with 10 classes at 16, 32 and 64 bits; see :func:`_signed_rows`);
    any two of the first ``n_bits`` centres are orthogonal, ``n_bits / 2`` apart, and no two
    of them antipodal, so that a multi-label target does not cancel out
    (:func:`center_targets`). The negated rows come after them. With fewer than 5 classes no
    signs split every bit, and the rows come in +/- pairs instead. Further centres (more than
    ``2 * n_bits`` classes, or any other ``n_bits``) are random codes drawn with
    ``generator``, each the farthest of up to ``max_draws`` draws from the centres before it,
    stopping at the first round of draws that reaches ``min_distance``. When no draw reaches
    it, the farthest one is kept (later centres then stop at that distance) and a
    ``UserWarning`` gives the smallest distance between two centres.

    Parameters
    ----------
    n_classes, n_bits : int
    generator : torch.Generator, default=None
        Source of the random centres (torch's global generator when None).
    min_distance : int, default=None
        Smallest Hamming distance wanted between two centres; None means
        ``ceil(n_bits / 4)``.
    max_draws : int, default=1024
        Random codes tried per centre, at most.

    Returns
    -------
    centers : Tensor of shape (n_classes, n_bits)
        Codes in {-1, +1}, float32.

    Examples
    --------
    >>> import torch
    >>> from skhash.deep._losses import hash_centers
    >>> C = hash_centers(10, 12, torch.Generator().manual_seed(0))
    >>> distance = (12 - C @ C.T) / 2  # Hamming distances of the centres
    >>> bool(distance[~torch.eye(10, dtype=bool)].min() >= 3)  # at least 12 / 4 bits apart
    True
    """
    from scipy.linalg import hadamard

    wanted = math.ceil(n_bits / 4) if min_distance is None else min_distance
    target = wanted  # lowered to the best reached once a centre misses it: later ones stop there
    centers = np.empty((0, n_bits), dtype=np.float32)
    if n_bits & (n_bits - 1) == 0:
        H = hadamard(n_bits).astype(np.float32)
        if n_classes <= n_bits:
            centers = _signed_rows(H, n_classes)
        else:  # all the rows, signed, then their negations
            signed = _signed_rows(H, n_bits)
            centers = np.concatenate([signed, -signed])[:n_classes]
    closest = n_bits
    draws_per_round = 64
    # numpy, not torch, for these tiny products: torch's thread pool costs milliseconds each.
    while len(centers) < n_classes:
        best, best_distance = None, -1
        for _ in range(max(1, max_draws // draws_per_round)):
            candidates = random_signs((draws_per_round, n_bits), generator).numpy()
            if len(centers):
                distance = ((n_bits - candidates @ centers.T) / 2).min(axis=1)
            else:
                distance = np.full(draws_per_round, float(n_bits))
            i = int(distance.argmax())
            if distance[i] > best_distance:
                best, best_distance = candidates[i], int(distance[i])
            if best_distance >= target:
                break
        centers = np.concatenate([centers, best[None]])
        closest = min(closest, best_distance)
        target = min(target, best_distance)
    if closest < wanted:
        warnings.warn(
            f"No {n_classes} codes of {n_bits} bits at least {wanted} bits apart were found: "
            f"the closest two class centres are {closest} bit(s) apart, so those classes are "
            "hard to tell apart. Use more bits.",
            UserWarning,
            stacklevel=2,
        )
    return torch.from_numpy(centers)


def _signed_rows(H, n):
    """``n`` distinct rows of the Hadamard matrix ``H`` (the all-ones row only when all are
    needed), each possibly negated, the signs chosen so that every bit splits the rows as
    evenly as possible: exhaustively up to 14 rows, else the best of 4,096 draws of a fixed
    seed (the fit's generator is not used, so the random centres after these do not
    change). Where no signs split every bit (fewer than 5 rows), +/- pairs of rows.

    The first ``n`` rows as they are (CSQ's choice) agree on some bits for every row: column
    0 of ``H`` is all ones, and 10 rows of a 16/32/64 Hadamard matrix agree on 1/2/4 bits,
    bits that then separate no class. Negating rows keeps every two of them orthogonal
    (``n_bits / 2`` apart) and no two antipodal, so a two-label target never cancels out.
    """
    k = len(H)
    rows = H[1 : n + 1] if n < k else H
    if n < 2:
        return rows[:n].copy()
    if n <= 14:
        signs = 1 - 2 * ((np.arange(2 ** (n - 1))[:, None] >> np.arange(n)) & 1)
    else:
        draws = np.random.RandomState(0).randint(0, 2, size=(4096, n))
        signs = 1 - 2 * draws
        signs[:, 0] = 1  # a code and its negation split alike
    plus = (signs[:, :, None] * rows[None] > 0).sum(axis=1)  # (patterns, bits)
    split = np.minimum(plus, n - plus)
    score = split.min(axis=1) * (k * n) + split.sum(axis=1)  # worst bit first, then all
    best = int(score.argmax())
    if split[best].min() == 0:  # fewer than 5 rows: +/- pairs split every bit
        pairs = np.stack([rows, -rows], axis=1).reshape(2 * len(rows), k)
        return pairs[:n].astype(np.float32)
    return (rows * signs[best][:, None]).astype(np.float32)


def center_targets(Y, centers, tie_break=None):
    r"""The centre of each item's label set: ``t_i = sign(sum_{c in labels(i)} a_c)``.

    A single label gives its class centre. A bit where the item's centres are tied (an even
    number of labels, or no label at all) takes the bit of ``tie_break``, a fixed random code,
    as in CSQ's reference implementation. Breaking ties towards ``+1`` instead would pull
    every two-label item towards the class whose centre has the most ``+1`` bits (the
    all-ones Hadamard row), and give an unlabelled item that class's centre exactly.

    Parameters
    ----------
    Y : Tensor of shape (n, n_classes)
        Label indicator matrix.
    centers : Tensor of shape (n_classes, n_bits)
        Class centres in {-1, +1} (:func:`hash_centers`).
    tie_break : Tensor of shape (n_bits,), default=None
        Code in {-1, +1} for tied bits, drawn once per fit (:func:`random_signs`) and kept
        with the centres. None uses a fixed code drawn from seed 0 (the same for every fit;
        on CUDA a small host-to-device copy per call).

    Returns
    -------
    targets : Tensor of shape (n, n_bits)
        Codes in {-1, +1}, in ``Y``'s dtype.
    """
    if tie_break is None:
        tie_break = random_signs((centers.shape[1],), torch.Generator().manual_seed(0))
    votes = Y @ centers
    tie_break = tie_break.to(device=votes.device, dtype=votes.dtype)
    return torch.where(votes > 0, 1.0, torch.where(votes < 0, -1.0, tie_break)).to(Y.dtype)


def spatial_anchor_loss(u, Y, anchors, tie_break=None):
    r"""Anchor loss: pull each relaxed code to the anchor (hash centre) of its label set.

    This is the central similarity loss of CSQ (Yuan et al., Central similarity quantization,
    CVPR 2020), also DAHP's anchor loss: DAHP's "spatial anchor" loss is not specified
    precisely enough in the sources available here to be reproduced (the phrase can mean
    anchors placed in the *Hamming space* or on *spatial* feature locations), and this is
    our formulation of it. Each class ``c`` owns a fixed anchor ``a_c in {-1, 1}^k``
    (:func:`hash_centers`); the target ``t_i`` of item ``i`` is the centre of its label set
    (:func:`center_targets`), and the loss is the bit-wise binary cross-entropy between
    ``(u + 1) / 2`` and ``(t + 1) / 2``:

    .. math:: L = -\frac{1}{nk} \sum_{ib} \tfrac{1 + t_{ib}}{2} \log \tfrac{1 + u_{ib}}{2}
              + \tfrac{1 - t_{ib}}{2} \log \tfrac{1 - u_{ib}}{2}

    Parameters
    ----------
    u : Tensor of shape (n, n_bits)
        Relaxed codes in ``(-1, 1)`` (e.g. after ``tanh``).
    Y : Tensor of shape (n, n_classes)
        Label indicator matrix.
    anchors : Tensor of shape (n_classes, n_bits)
        Class anchors in {-1, +1}.
    tie_break : Tensor of shape (n_bits,), default=None
        Code of the tied bits of multi-label targets (see :func:`center_targets`).
    """
    targets = (center_targets(Y, anchors, tie_break).to(u.dtype) + 1) / 2
    p = ((u + 1) / 2).clamp(1e-6, 1 - 1e-6)
    return F.binary_cross_entropy(p, targets)


def cosine_margin_loss(v, codebook, Y, *, scale=8.0, margin=0.2):
    r"""OrthoHash's loss: cross-entropy on the cosine similarities of the codes to the class
    codes, with an additive cosine margin.

    With :math:`\cos_{ic}` the cosine between ``v_i`` and class code ``c``, the logits are
    :math:`z_{ic} = s (\cos_{ic} - m Y_{ic})` and the loss is the cross-entropy
    :math:`-\sum_c \tilde Y_{ic} \log \operatorname{softmax}(z_i)_c` against the label
    distribution :math:`\tilde Y_i = Y_i / \sum_c Y_{ic}`: the usual cross-entropy for
    single-label data, and OrthoHash's label smoothing for multi-label data (an item with no
    label adds 0).

    Parameters
    ----------
    v : Tensor of shape (n, n_bits)
        Continuous codes.
    codebook : Tensor of shape (n_classes, n_bits)
        Class codes in {-1, +1}.
    Y : Tensor of shape (n, n_classes)
        Label indicator matrix.
    scale, margin : float, default=8.0, 0.2
        ``s`` and ``m``.

    References
    ----------
    J. T. Hoe, K. W. Ng, T. Zhang, C. S. Chan, Y.-Z. Song, T. Xiang. One loss for all: deep
    hashing with a single cosine similarity based learning objective (OrthoHash).
    NeurIPS 2021.
    """
    cosine = F.normalize(v, dim=1) @ F.normalize(codebook, dim=1).T
    logits = scale * (cosine - margin * Y)
    targets = Y / Y.sum(dim=1, keepdim=True).clamp(min=1)
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


class BiHalfSign(torch.autograd.Function):
    """BiHalf's bi-half layer: each bit is ``+1`` for the half of the batch with the largest
    values and ``-1`` for the other half (``n // 2`` items get ``+1``).

    Backward: the incoming gradient plus ``gamma * (h - b) / h.numel()``, which pulls the
    continuous values towards their codes (Li and van Gemert, AAAI 2021, Eq. 9).
    """

    @staticmethod
    def forward(ctx, h, gamma):
        n = h.shape[0]
        order = h.argsort(dim=0, descending=True, stable=True)
        ranked = torch.ones_like(h)
        ranked[n // 2 :] = -1
        b = torch.empty_like(h).scatter_(0, order, ranked)
        ctx.save_for_backward(h, b)
        ctx.gamma = gamma
        return b

    @staticmethod
    def backward(ctx, grad_output):
        h, b = ctx.saved_tensors
        return grad_output + ctx.gamma * (h - b) / h.numel(), None


def bi_half_sign(h, gamma=6.0):
    """Balanced binary codes of a batch ``h`` (every bit half ``+1``, half ``-1``; see
    BiHalfSign)."""
    return BiHalfSign.apply(h, gamma)


def similarity_preservation_loss(b, x):
    r"""Mean squared difference between the cosine similarities of codes and of features,
    over the pairs of distinct items of the batch:

    .. math:: L = \frac{1}{n(n-1)} \sum_{i \ne j} (\cos(b_i, b_j) - \cos(x_i, x_j))^2

    BiHalf's unsupervised objective (Li and van Gemert, AAAI 2021), whose reference code
    compares the first half of a batch with the second; every pair is used here.

    Parameters
    ----------
    b : Tensor of shape (n, n_bits)
        Codes.
    x : Tensor of shape (n, ...)
        Features whose similarities the codes should keep (flattened).
    """
    n = b.shape[0]
    if n < 2:
        return b.sum() * 0
    code_cos = F.normalize(b, dim=1) @ F.normalize(b, dim=1).T
    x = x.flatten(1)
    feature_cos = F.normalize(x, dim=1) @ F.normalize(x, dim=1).T
    off_diagonal = ~torch.eye(n, dtype=torch.bool, device=b.device)
    return (code_cos - feature_cos)[off_diagonal].pow(2).mean()


def reconstruction_loss(x_hat, x):
    """Mean squared reconstruction error ``||x_hat - x||^2 / size`` of an auto-encoder.

    As in the stacked convolutional auto-encoders of Masci et al. (ICANN 2011), used by SCAE.
    """
    return F.mse_loss(x_hat, x)
