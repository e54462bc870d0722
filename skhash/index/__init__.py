"""Exact Hamming search over packed binary codes."""

from ._backend import DEFAULT_MEMORY_BUDGET, SearchBackend
from ._hamming_index import HammingIndex, hamming_distances
from ._hex import codes_from_hex, codes_to_hex
from ._packing import check_codes, pack_codes, unpack_codes

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "HammingIndex",
    "SearchBackend",
    "check_codes",
    "codes_from_hex",
    "codes_to_hex",
    "hamming_distances",
    "pack_codes",
    "unpack_codes",
]
