"""Deep hashers on PyTorch: one input pipeline, one training loop, shared losses.

Importing this package imports torch; ``import skhash`` alone does not (the deep hashers are
loaded on first use).
"""

import importlib

from ._base import BaseDeepHasher
from ._callbacks import Callback, Checkpoint, EarlyStopping, LRScheduler
from ._data import Augmentation
from ._dphb import DPHB
from ._dsbh import DSBH

__all__ = [
    "DAHP",
    "DPHB",
    "DSBH",
    "SCAE",
    "Augmentation",
    "BaseDeepHasher",
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "LRScheduler",
]

# Hashers whose modules may not exist yet are imported on first use.
_LAZY = {"DAHP": "._dahp", "SCAE": "._scae"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
