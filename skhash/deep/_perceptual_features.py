"""A backbone on the low frequencies of an image's luminance: a learnable network on top of
the DCT that pHash thresholds."""

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PerceptualFeatures"]

_LUMA = (0.299, 0.587, 0.114)


def dct_matrix(n):
    """The orthonormal n-point DCT-II matrix (rows are frequencies)."""
    k = torch.arange(n, dtype=torch.float64)
    basis = torch.cos((2 * k[None, :] + 1) * k[:, None] * math.pi / (2 * n)) * math.sqrt(2 / n)
    basis[0] /= math.sqrt(2)
    return basis.float()


class PerceptualFeatures(nn.Module):
    """Backbone reading an image as pHash does, then learning on top of it
    (``backbone="perceptual"``).

    The luminance of the image (ITU-R 601-2 weights for 3 channels) is shrunk to a
    ``size x size`` thumbnail (antialiased bilinear), its 2-D DCT-II is taken, and the
    ``n_frequencies x n_frequencies`` lowest frequencies (pHash's 64 are 8 x 8 of a 32 x 32
    thumbnail) are standardised (batch normalisation without scale) and fed to a fully
    connected layer with ReLU. What the deep hasher on top learns is which combinations of
    these frequencies survive the edits it is trained on: a horizontal flip negates the
    frequencies odd along the width, a crop or rotation moves the higher ones.

    Parameters
    ----------
    size : int, default=32
        Side of the thumbnail.
    n_frequencies : int, default=16
        Side of the block of lowest frequencies kept (``n_frequencies ** 2`` features).
    hidden : int, default=512
        Width of the fully connected layer (the output size).

    Examples
    --------
    >>> import torch
    >>> from skhash.deep import PerceptualFeatures
    >>> PerceptualFeatures(n_frequencies=8, hidden=32)(torch.rand(4, 3, 64, 64)).shape
    torch.Size([4, 32])
    """

    input_kind = "image"

    def __init__(self, size=32, n_frequencies=16, hidden=512):
        super().__init__()
        if not 1 <= n_frequencies <= size:
            raise ValueError(f"n_frequencies must be in [1, size={size}]; got {n_frequencies}.")
        self.size = int(size)
        self.n_frequencies = int(n_frequencies)
        self.register_buffer("dct", dct_matrix(self.size)[: self.n_frequencies])
        self.norm = nn.BatchNorm1d(self.n_frequencies**2, affine=False)
        self.fc = nn.Sequential(
            nn.Linear(self.n_frequencies**2, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
        )
        self.out_features = hidden

    def reset_parameters(self, generator):
        """Initialise the learnt layer from ``generator`` (the fit's), as built-in backbones
        are; the DCT and the standardisation have no weights."""
        from ._backbones import init_weights

        init_weights(self.fc, generator)

    def forward(self, x):
        if x.shape[1] == 3:
            weights = torch.tensor(_LUMA, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
            grey = (x * weights).sum(dim=1)
        else:
            grey = x.mean(dim=1)
        if grey.shape[-2:] != (self.size, self.size):
            grey = F.interpolate(
                grey[:, None], size=(self.size, self.size), mode="bilinear", antialias=True
            )[:, 0]
        low = self.dct @ grey @ self.dct.T
        return self.fc(self.norm(low.flatten(1)))
