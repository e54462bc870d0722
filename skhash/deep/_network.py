"""The deep hashers' networks: a backbone and hashing heads, at one level or several.

A method defines a *head*: a module mapping pooled features ``(n, d)`` to a dict with at
least ``"codes"`` (the real values whose signs are the codes) and whatever its loss reads
(``"relaxed"``, ``"logits"``...). :class:`HeadNetwork` puts heads on a backbone:

- one level (``levels=None``): the head reads the backbone's features;
- several levels (``levels=(3, 4)``, stages of a staged backbone): each stage's output map is
  average-pooled and read by a head of its own, which makes one block of the code; the code
  is the blocks side by side and the outputs of every level are kept (``"levels"``) so the
  method's loss is applied to each (the multi-level hashing of Zhang et al., 2019-style
  pyramids of features, each level hashed on its own).
"""

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["HashingNetwork", "HeadNetwork", "split_bits"]


class HashingNetwork(nn.Module):
    """Base of the deep hashers' networks: a ``backbone`` and what reads its features.

    ``forward(x)`` returns a dict with at least ``"codes"`` (the real values whose signs are
    the codes) and ``"features"`` (the backbone's pooled features). With ``freeze_backbone``
    the backbone stays in eval mode (batch-norm statistics frozen) and gets no gradients.
    """

    def __init__(self, backbone, freeze_backbone=False):
        super().__init__()
        self.backbone = backbone
        self.freeze_backbone = freeze_backbone
        if freeze_backbone:
            for p in backbone.parameters():
                p.requires_grad_(False)

    def train(self, mode=True):
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self


def split_bits(n_bits, levels):
    """Bits of each level's block: ``n_bits`` split evenly (a clear error otherwise)."""
    if n_bits % len(levels):
        raise ValueError(
            f"n_bits={n_bits} cannot be split evenly between the {len(levels)} levels "
            f"{tuple(levels)}: choose a multiple of {len(levels)}."
        )
    return [n_bits // len(levels)] * len(levels)


def check_levels(levels, backbone):
    """``levels`` as a tuple of distinct stage numbers of ``backbone`` (1-based)."""
    n_stages = len(getattr(backbone, "stage_channels", ()))
    levels = tuple(levels)
    valid = all(isinstance(s, int) and 1 <= s <= n_stages for s in levels)
    if not levels or not valid or len(set(levels)) != len(levels):
        raise ValueError(
            f"levels must hold distinct stages among 1 .. {n_stages} (the stages of this "
            f"backbone, {type(backbone).__name__}); got {levels!r}. A backbone without "
            "convolutional stages (e.g. 'mlp') takes levels=None."
        )
    return levels


class HeadNetwork(HashingNetwork):
    """A backbone with one hashing head, or one head per chosen stage (``levels``).

    Parameters
    ----------
    backbone : torch.nn.Module
    heads : list of torch.nn.Module
        One head (``levels`` None) or one per level, in the order of ``levels``.
    levels : tuple of int or None, default=None
        Stages (1-based) whose pooled maps feed the heads.
    freeze_backbone : bool, default=False
    """

    def __init__(self, backbone, heads, *, levels=None, freeze_backbone=False):
        super().__init__(backbone, freeze_backbone)
        self.levels = None if levels is None else check_levels(levels, backbone)
        self.heads = nn.ModuleList(heads)
        expected = 1 if levels is None else len(self.levels)
        if len(self.heads) != expected:
            raise ValueError(f"{expected} head(s) expected, got {len(self.heads)}.")

    def rewrite_stage(self, i, x, extras):
        """The output map of stage ``i`` as the next stage reads it (identity here;
        attention rewrites it); ``extras`` collects outputs to return."""
        return x

    def forward(self, x):
        extras = {}

        def hook(i, stage_map):
            return self.rewrite_stage(i, stage_map, extras)

        if self.levels is None:
            hooked = self.rewrites_stages()
            features = self.backbone(x, stage_hook=hook) if hooked else self.backbone(x)
            return {**self.heads[0](features), "features": features, **extras}
        maps = self.backbone.forward_levels(x, stage_hook=hook)
        pooled = [torch.flatten(F.adaptive_avg_pool2d(maps[i - 1], 1), 1) for i in self.levels]
        outputs = [{**head(p), "features": p} for head, p in zip(self.heads, pooled, strict=True)]
        return {
            "codes": torch.cat([o["codes"] for o in outputs], dim=1),
            "features": torch.cat(pooled, dim=1),
            "levels": outputs,
            **extras,
        }

    def rewrites_stages(self):
        """Whether :meth:`rewrite_stage` changes anything (the backbone then runs stage by
        stage)."""
        return False
