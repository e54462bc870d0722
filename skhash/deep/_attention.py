r"""Channel + spatial dual attention (CBAM), for the feature maps of DAHP's backbone.

Formulation (Woo, Park, Lee, Kweon, "CBAM: Convolutional block attention module", ECCV 2018,
arXiv:1807.06521, Sec. 3). For a feature map :math:`F \in \mathbb{R}^{C \times H \times W}`:

- channel attention pools each channel over space by average and by max, passes both
  through one shared two-layer MLP (bottleneck :math:`C/r`, ReLU) and adds them:

  .. math:: M_c(F) = \sigma\big(W_1 \delta(W_0 F^c_{avg}) + W_1 \delta(W_0 F^c_{max})\big)
            \in (0, 1)^{C \times 1 \times 1}

- spatial attention pools the re-weighted map :math:`F' = M_c(F) \otimes F` over channels by
  average and by max, stacks the two ``H x W`` maps and convolves them with one ``k x k``
  filter (``k = 7`` in the paper):

  .. math:: M_s(F') = \sigma\big(f^{k \times k}([F'^s_{avg}; F'^s_{max}])\big)
            \in (0, 1)^{1 \times H \times W}

- the output is :math:`F'' = M_s(F') \otimes F'` (channel first, then spatial: the order
  the paper found best). The padded ``k x k`` convolution works on any map size, 1x1
  included.
"""

import torch
from torch import nn

__all__ = ["ChannelAttention", "DualAttention", "SpatialAttention"]


class ChannelAttention(nn.Module):
    """CBAM channel attention: weights ``(n, C, 1, 1)`` in (0, 1).

    Parameters
    ----------
    channels : int
    reduction : int, default=16
        Bottleneck ratio ``r`` of the shared MLP (its hidden width is at least 1).
    """

    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1, bias=False),
        )

    def forward(self, x):
        avg = x.mean(dim=(2, 3), keepdim=True)
        mx = x.amax(dim=(2, 3), keepdim=True)
        return (self.mlp(avg) + self.mlp(mx)).sigmoid()


class SpatialAttention(nn.Module):
    """CBAM spatial attention: weights ``(n, 1, H, W)`` in (0, 1).

    Parameters
    ----------
    kernel_size : int, default=7
        Odd side of the convolution over the stacked average and max maps.
    """

    def __init__(self, kernel_size=7):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd; got {kernel_size}.")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x):
        avg = x.mean(dim=1, keepdim=True)
        mx = x.amax(dim=1, keepdim=True)
        return self.conv(torch.cat([avg, mx], dim=1)).sigmoid()


class DualAttention(nn.Module):
    """Channel then spatial attention (CBAM); keeps the input's shape.

    Parameters
    ----------
    channels : int
    reduction : int, default=16
    kernel_size : int, default=7

    Examples
    --------
    >>> import torch
    >>> from skhash.deep._attention import DualAttention
    >>> att = DualAttention(32)
    >>> out, ch, sp = att(torch.randn(2, 32, 5, 5), return_weights=True)
    >>> out.shape, ch.shape, sp.shape
    (torch.Size([2, 32, 5, 5]), torch.Size([2, 32, 1, 1]), torch.Size([2, 1, 5, 5]))
    """

    def __init__(self, channels, reduction=16, kernel_size=7):
        super().__init__()
        self.channel = ChannelAttention(channels, reduction)
        self.spatial = SpatialAttention(kernel_size)

    def forward(self, x, return_weights=False):
        ch = self.channel(x)
        x = x * ch
        sp = self.spatial(x)
        x = x * sp
        return (x, ch, sp) if return_weights else x
