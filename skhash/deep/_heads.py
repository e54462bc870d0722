"""Hash heads of the literature's deep baselines: a backbone, then one linear hash layer.

DPSH, DSH, HashNet, CSQ, GreedyHash, OrthoHash and BiHalf differ in their losses, not in
their networks: each puts a linear layer of ``n_bits`` units on the backbone's features
(the papers' "hash layer", replacing AlexNet's last fully connected layer), and some keep
class codes or a classifier beside it.
"""

import torch
from torch import nn

from ._base import HashingNetwork
from ._losses import hash_centers, random_signs

__all__ = ["ClassCodeNetwork", "LinearHashNetwork"]


class LinearHashNetwork(HashingNetwork):
    """A backbone and a linear hash layer.

    ``forward(x)`` returns ``{"codes": h, "features": f}`` with ``f`` the backbone's features
    and ``h = W f + c`` (the real values whose signs are the codes). With ``batch_norm`` the
    layer has no bias and is followed by batch normalisation, as in OrthoHash.
    """

    def __init__(self, backbone, n_bits, freeze_backbone=False, *, batch_norm=False):
        super().__init__(backbone, freeze_backbone)
        self.hash = nn.Linear(backbone.out_features, n_bits, bias=not batch_norm)
        self.norm = nn.BatchNorm1d(n_bits) if batch_norm else nn.Identity()

    def forward(self, x):
        features = self.backbone(x)
        return {"codes": self.norm(self.hash(features)), "features": features}


class ClassCodeNetwork(LinearHashNetwork):
    """A :class:`LinearHashNetwork` that keeps a code per class (CSQ's hash centres,
    OrthoHash's codebook) and the code breaking ties of multi-label targets, as buffers:
    they move with the network, are saved in its pickle and ``state_dict``, and are in the
    outputs (``"centers"``, ``"tie_break"``) for the losses."""

    def __init__(self, backbone, n_bits, n_classes, freeze_backbone=False, *, batch_norm=False):
        super().__init__(backbone, n_bits, freeze_backbone, batch_norm=batch_norm)
        self.register_buffer("centers", torch.zeros(n_classes or 1, n_bits))
        self.register_buffer("tie_break", torch.ones(n_bits))

    def draw_centers(self, generator):
        """Fill the class codes (:func:`~skhash.deep._losses.hash_centers`) and the tie-break
        code from the fit's generator."""
        n_classes, n_bits = self.centers.shape
        self.centers.copy_(hash_centers(n_classes, n_bits, generator=generator))
        self.tie_break.copy_(random_signs((n_bits,), generator))

    def forward(self, x):
        return {**super().forward(x), "centers": self.centers, "tie_break": self.tie_break}
