"""Exhaustive Hamming search with torch, for codes scanned on a CUDA device.

Imported only when ``HammingIndex(backend="torch")`` searches. A
:class:`~skhash.index._backend.SearchBackend`: same functions and exact results as
:mod:`skhash.index._numpy_search`. The database lives on the device as 64-bit
words (:class:`DeviceCodes`, the memory of the packed codes), kept there between searches
by the index. Torch has no popcount, so distances use the SWAR bit count (pairs, nibbles,
bytes, then a multiply that sums the bytes), all on int64 tensors; k nearest neighbours
come from ``torch.topk`` on the key ``distance * n_database + index``, so ties go to the
lower index.
"""

import numpy as np

from ._backend import DEFAULT_MEMORY_BUDGET, sort_hits
from ._packing import words_of

# SWAR masks, all below 2**63 so they are valid int64 constants
_M1, _M2, _M4 = 0x5555555555555555, 0x3333333333333333, 0x0F0F0F0F0F0F0F0F
_H01 = 0x0101010101010101


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            'backend="torch" needs PyTorch: pip install torch (a CUDA build for GPU search).'
        ) from exc
    return torch


def _device(torch, device):
    if device is None:
        if not torch.cuda.is_available():
            raise RuntimeError(
                'backend="torch" searches on a CUDA device, and torch finds none; use '
                'backend="numba" (the default "auto") on CPU.'
            )
        device = "cuda"
    return torch.device(device)


class DeviceCodes:
    """Packed codes held on a torch device as int64 words (the same bytes as the codes).

    Parameters
    ----------
    database : ndarray of shape (n, n_words), dtype uint64, or BlockedCodes
        Packed codes.
    device : str or torch.device, default=None
        Where to keep them; ``None`` means ``"cuda"`` (an error if torch finds no GPU).
    """

    def __init__(self, database, device=None):
        torch = _torch()
        self.device = _device(torch, device)
        words = words_of(database)
        self.words = torch.from_numpy(words.view(np.int64)).to(self.device)

    def __len__(self):
        return self.words.shape[0]


def _popcount(x):
    """Bits set in each int64 of ``x`` (SWAR; the shifts are masked, so signs don't matter)."""
    x = x - ((x >> 1) & _M1)
    x = (x & _M2) + ((x >> 2) & _M2)
    x = (x + (x >> 4)) & _M4
    return (x * _H01) >> 56  # the top byte: the sum of the byte counts, at most 64


def _blocks(torch, query_words, database, memory_budget, device):
    """Yield ``(q0, q1, distances)`` with distances an int64 (block, n_database) tensor."""
    codes = database if isinstance(database, DeviceCodes) else DeviceCodes(database, device)
    queries = np.ascontiguousarray(query_words, dtype=np.uint64).view(np.int64)
    queries = torch.from_numpy(queries).to(codes.device)
    n_d, n_words = codes.words.shape
    # per (query, code) pair: the distance, one word's XOR and its SWAR temporaries, and
    # the kNN keys with their index row: about 64 bytes
    step = max(1, memory_budget // max(1, 64 * n_d))
    for q0 in range(0, len(queries), step):
        block = queries[q0 : q0 + step]
        dist = torch.zeros((len(block), n_d), dtype=torch.int64, device=codes.device)
        for w in range(n_words):
            dist += _popcount(torch.bitwise_xor(block[:, None, w], codes.words[None, :, w]))
        yield q0, q0 + len(block), dist


def pairwise_distances(
    query_words, database_words, memory_budget=DEFAULT_MEMORY_BUDGET, n_jobs=None, device=None
):
    """Full ``(n_queries, n_database)`` Hamming distance matrix (int32)."""
    torch = _torch()
    out = np.empty((len(query_words), len(database_words)), dtype=np.int32)
    for q0, q1, dist in _blocks(torch, query_words, database_words, memory_budget, device):
        out[q0:q1] = dist.cpu().numpy()
    return out


def knn_search(
    query_words, database_words, k, memory_budget=DEFAULT_MEMORY_BUDGET, n_jobs=None, device=None
):
    """Exact k nearest neighbours: ``(distances int32, indices int64)``, each (n_queries, k)."""
    torch = _torch()
    n_d = len(database_words)
    out_d = np.empty((len(query_words), k), dtype=np.int32)
    out_i = np.empty((len(query_words), k), dtype=np.int64)
    for q0, q1, dist in _blocks(torch, query_words, database_words, memory_budget, device):
        keys = dist * n_d + torch.arange(n_d, device=dist.device)
        keys = torch.topk(keys, k, dim=1, largest=False, sorted=True).values.cpu().numpy()
        out_d[q0:q1] = keys // n_d
        out_i[q0:q1] = keys % n_d
    return out_d, out_i


def radius_search(
    query_words,
    database_words,
    radius,
    memory_budget=DEFAULT_MEMORY_BUDGET,
    n_jobs=None,
    device=None,
):
    """All database items within ``radius`` of each query, nearest first, ties by index."""
    torch = _torch()
    distances, indices = [], []
    for _, _, dist in _blocks(torch, query_words, database_words, memory_budget, device):
        for row in dist.cpu().numpy():
            ind = np.flatnonzero(row <= radius)
            row_d, row_i = sort_hits(row[ind], ind)
            distances.append(row_d)
            indices.append(row_i)
    return distances, indices
