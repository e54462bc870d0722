"""Hash heads of the literature's deep baselines: one linear hash layer on the features.

DPSH, DSH, HashNet, CSQ, GreedyHash, OrthoHash and BiHalf differ in their losses, not in
their networks: each puts a linear layer of ``n_bits`` units on the backbone's features
(the papers' "hash layer", replacing AlexNet's last fully connected layer), and some keep
class codes or a classifier beside it. Heads map ``(n, in_features)`` features to a dict
with ``"codes"``; :class:`~skhash.deep._network.HeadNetwork` puts one on the backbone, or one
per stage with ``levels``.
"""

import torch
from torch import nn

from ._losses import hash_centers, random_signs

__all__ = ["ClassCodeHead", "LinearHead", "StepCountingHead"]


class LinearHead(nn.Module):
    """``h = W f + c``, the real values whose signs are the codes. With ``batch_norm`` the
    layer has no bias and is followed by batch normalisation, as in OrthoHash."""

    def __init__(self, in_features, n_bits, *, batch_norm=False):
        super().__init__()
        self.hash = nn.Linear(in_features, n_bits, bias=not batch_norm)
        self.norm = nn.BatchNorm1d(n_bits) if batch_norm else nn.Identity()

    def forward(self, features):
        return {"codes": self.norm(self.hash(features))}


class ClassCodeHead(LinearHead):
    """A :class:`LinearHead` that keeps a code per class (CSQ's hash centres, OrthoHash's
    codebook) and the code breaking ties of multi-label targets, as buffers: they move with
    the network, are saved in its pickle and ``state_dict``, and are in the outputs
    (``"centers"``, ``"tie_break"``) for the losses."""

    def __init__(self, in_features, n_bits, n_classes, *, batch_norm=False):
        super().__init__(in_features, n_bits, batch_norm=batch_norm)
        self.register_buffer("centers", torch.zeros(n_classes or 1, n_bits))
        self.register_buffer("tie_break", torch.ones(n_bits))

    def draw_centers(self, generator):
        """Fill the class codes (:func:`~skhash.deep._losses.hash_centers`) and the tie-break
        code from the fit's generator."""
        n_classes, n_bits = self.centers.shape
        self.centers.copy_(hash_centers(n_classes, n_bits, generator=generator))
        self.tie_break.copy_(random_signs((n_bits,), generator))

    def forward(self, features):
        return {**super().forward(features), "centers": self.centers, "tie_break": self.tie_break}


class StepCountingHead(LinearHead):
    """A :class:`LinearHead` that counts its training steps (forward passes in training
    mode) in a buffer, so a continuation schedule goes on where it stopped under
    ``warm_start``."""

    def __init__(self, in_features, n_bits):
        super().__init__(in_features, n_bits)
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))

    def forward(self, features):
        outputs = super().forward(features)
        outputs["steps"] = self.steps.clone()  # the steps done before this one
        if self.training:
            self.steps += 1
        return outputs


def draw_class_codes(network, generator):
    """Draw the class codes of every :class:`ClassCodeHead` of ``network`` (one per level)."""
    for head in network.heads:
        head.draw_centers(generator)
