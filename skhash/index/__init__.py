"""Exact Hamming search over packed binary codes."""

from ._backend import DEFAULT_MEMORY_BUDGET, SearchBackend
from ._hamming_index import HammingIndex, hamming_distances
from ._packing import check_codes, pack_codes, unpack_codes

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "HammingIndex",
    "SearchBackend",
    "check_codes",
    "hamming_distances",
    "pack_codes",
    "unpack_codes",
]
