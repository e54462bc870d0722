"""Loss functions of the deep hashers, in one place.

Conventions: ``u`` and ``v`` are ``(batch, n_bits)`` real-valued (relaxed) codes, usually in
``[-1, 1]``; binary codes are ``{-1, +1}`` (bit ``1`` of :meth:`transform` is ``+1``). Labels
reach the losses as a float ``(batch, n_classes)`` indicator matrix ``Y`` (one-hot for
single-label data), so a pair is *similar* when the two items share at least one label:
``S = 1[Y_a Y_b^T > 0]``. Every loss returns a scalar averaged over its terms, so loss weights
do not depend on the batch size.
"""

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "SignSTE",
    "bit_balance_loss",
    "classification_loss",
    "hash_centers",
    "pairwise_likelihood_loss",
    "pairwise_margin_loss",
    "pairwise_similarity",
    "quantization_loss",
    "reconstruction_loss",
    "sign_ste",
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


def pairwise_likelihood_loss(u, v, S, *, scale=0.5):
    r"""Negative log-likelihood of the pairwise labels (DPSH).

    With :math:`\theta_{ij} = s \, u_i^\top v_j` the model says
    :math:`p(S_{ij}=1) = \sigma(\theta_{ij})`, and the loss is

    .. math:: L = \frac{1}{n_u n_v} \sum_{ij} \log(1 + e^{\theta_{ij}}) - S_{ij} \theta_{ij}

    computed as ``softplus(theta) - S * theta`` (numerically stable). Li et al. use
    ``s = 1/2``; with ``n_bits`` large, a smaller ``s`` keeps ``theta`` out of saturation.

    Parameters
    ----------
    u, v : Tensor of shape (n_u, n_bits), (n_v, n_bits)
        Relaxed codes.
    S : Tensor of shape (n_u, n_v)
        Pairwise similarity in {0, 1}.
    scale : float, default=0.5
        The factor ``s``.

    References
    ----------
    W.-J. Li, S. Wang, W.-C. Kang. Feature learning based deep supervised hashing with
    pairwise labels (DPSH). IJCAI 2016.
    """
    theta = scale * (u @ v.T)
    return (F.softplus(theta) - S * theta).mean()


def pairwise_margin_loss(u, v, S, *, margin=None):
    r"""Contrastive loss on relaxed Hamming distances.

    For codes in ``[-1, 1]`` the relaxed Hamming distance is
    :math:`d_{ij} = (k - u_i^\top v_j) / 2` (exact for binary codes). Similar pairs are pulled
    together and dissimilar pairs pushed beyond the margin ``m``:

    .. math:: L = \frac{1}{k \, n_u n_v} \sum_{ij} S_{ij} d_{ij}
              + (1 - S_{ij}) \max(0, m - d_{ij})

    Parameters
    ----------
    u, v : Tensor of shape (n_u, n_bits), (n_v, n_bits)
    S : Tensor of shape (n_u, n_v)
    margin : float, default=None
        ``m`` in bits; None means ``n_bits / 2``.

    References
    ----------
    R. Hadsell, S. Chopra, Y. LeCun. Dimensionality reduction by learning an invariant mapping.
    CVPR 2006 (contrastive loss); applied to relaxed codes as in H. Liu et al., Deep
    supervised hashing for fast image retrieval (DSH), CVPR 2016.
    """
    k = u.shape[1]
    m = k / 2 if margin is None else margin
    d = (k - u @ v.T) / 2
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


def quantization_loss(u):
    r"""Quantization error ``||u - sign(u)||^2 / (n k)``, i.e. ``mean((|u| - 1)^2)``.

    Pushes relaxed codes towards the binary corners, as in DPSH's
    :math:`\eta \sum_i \|b_i - u_i\|^2` (Li et al., IJCAI 2016).
    """
    return (u.abs() - 1).pow(2).mean()


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


def hash_centers(n_classes, n_bits, generator=None):
    """Class anchors in Hamming space: ``(n_classes, n_bits)`` codes in {-1, +1}.

    Rows of a Hadamard matrix and their negations when ``n_bits`` is a power of two and
    ``n_classes <= 2 * n_bits`` (any two are then ``n_bits / 2`` or ``n_bits`` apart), else
    random Bernoulli(1/2) codes drawn with ``generator`` (expected distance ``n_bits / 2``), as
    proposed for hash centres by Yuan et al. (CSQ, CVPR 2020).
    """
    from scipy.linalg import hadamard

    if n_bits & (n_bits - 1) == 0 and n_classes <= 2 * n_bits:
        H = hadamard(n_bits)
        H = np.concatenate([H, -H])[:n_classes]
        return torch.as_tensor(H, dtype=torch.float32)
    draws = torch.rand((n_classes, n_bits), generator=generator)
    return torch.where(draws > 0.5, 1.0, -1.0)


def spatial_anchor_loss(u, Y, anchors):
    r"""Anchor loss: pull each relaxed code to the anchor of its class in Hamming space.

    DAHP's "spatial anchor" loss is not specified precisely enough in the sources available
    here to be reproduced (the phrase can mean anchors placed in the *Hamming space* or on
    *spatial* feature locations); this is our formulation, following the hash-centre loss of
    CSQ (Yuan et al., Central similarity quantization, CVPR 2020). Each class ``c`` owns a
    fixed anchor ``a_c in {-1, 1}^k`` (:func:`hash_centers`). The target of item ``i`` is
    ``t_i = sign(sum_{c in labels(i)} a_c)`` (its class anchor when single-label; ties go to
    ``+1``), and the loss is the bit-wise binary cross-entropy between ``(u + 1) / 2`` and
    ``(t + 1) / 2``:

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
    """
    targets = torch.where(Y @ anchors >= 0, 1.0, 0.0).to(u.dtype)
    p = ((u + 1) / 2).clamp(1e-6, 1 - 1e-6)
    return F.binary_cross_entropy(p, targets)


def reconstruction_loss(x_hat, x):
    """Mean squared reconstruction error ``||x_hat - x||^2 / size`` of an auto-encoder.

    As in the stacked convolutional auto-encoders of Masci et al. (ICANN 2011), used by SCAE.
    """
    return F.mse_loss(x_hat, x)
