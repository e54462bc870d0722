"""Deep hashers on PyTorch: one input pipeline, one backbone builder, one training loop.

Importing this package imports torch; ``import skhash`` alone does not (the deep hashers are
loaded on first use).
"""

import importlib

from ._augment import Augmentation
from ._backbones import BACKBONES, MLP
from ._base import BaseDeepHasher, HashingNetwork
from ._callbacks import Callback, Checkpoint, EarlyStopping, LRScheduler
from ._dphb import DPHB
from ._dsbh import DSBH
from ._inputs import ImageFileDataset
from ._perceptual_features import PerceptualFeatures

__all__ = [
    "BACKBONES",
    "CSQ",
    "CIBHash",
    "DAHP",
    "DPHB",
    "DPSH",
    "DSBH",
    "DSH",
    "MLP",
    "SCAE",
    "BiHalf",
    "GreedyHash",
    "HashNet",
    "OrthoHash",
    "Augmentation",
    "BaseDeepHasher",
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "HashingNetwork",
    "ImageFileDataset",
    "LRScheduler",
    "PerceptualFeatures",
]

# Hashers whose modules import more (ResNets, attention) are imported on first use, as are
# the literature's baselines (a module each).
_LAZY = {
    "DAHP": "._dahp",
    "SCAE": "._scae",
    "DPSH": "._dpsh",
    "DSH": "._dsh",
    "HashNet": "._hashnet",
    "CSQ": "._csq",
    "GreedyHash": "._greedyhash",
    "OrthoHash": "._orthohash",
    "BiHalf": "._bihalf",
    "CIBHash": "._cibhash",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
