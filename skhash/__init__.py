"""skhash: learning to hash images and vectors with the scikit-learn API.

Classic hashers are imported eagerly; the deep hashers (``SCAE``, ``DSBH``, ``DPHB``, ``DAHP``)
live in :mod:`skhash.deep` and are loaded on first use, so ``import skhash`` never imports torch.
"""

import importlib

from ._persistence import FileFormatError, load
from .base import BaseHasher
from .classic import ITQ, LSH, KMeansHashing, PCAHashing, SpectralHashing
from .coarse_to_fine import CoarseToFine
from .index import HammingIndex
from .neighbors import HashingNeighborsTransformer
from .perceptual import PerceptualHash
from .pipeline import EmbeddingTransformer, HashingPipeline, make_hashing_pipeline

__version__ = "0.1.0.dev0"

# The thesis methods, then the literature's baselines.
_DEEP_HASHERS = (
    *("SCAE", "DSBH", "DPHB", "DAHP"),
    *("DPSH", "DSH", "HashNet", "CSQ", "GreedyHash", "OrthoHash", "BiHalf"),
    "CIBHash",
)
_LAZY_SUBMODULES = ("deep", "metrics", "datasets", "compare")

__all__ = [
    "BaseHasher",
    "CoarseToFine",
    "EmbeddingTransformer",
    "FileFormatError",
    "HammingIndex",
    "HashingNeighborsTransformer",
    "HashingPipeline",
    "ITQ",
    "KMeansHashing",
    "LSH",
    "PCAHashing",
    "PerceptualHash",
    "SpectralHashing",
    "load",
    "make_hashing_pipeline",
    *_DEEP_HASHERS,
    *_LAZY_SUBMODULES,
]


def __getattr__(name):
    if name in _DEEP_HASHERS:
        return getattr(importlib.import_module(".deep", __name__), name)
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
