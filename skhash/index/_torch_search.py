"""Exhaustive Hamming search with torch, for codes scanned on a CUDA device.

Imported only when ``HammingIndex(backend="torch")`` searches. Same functions and exact
results as :mod:`skhash.index._numpy_search`. The packed words are viewed as bytes and
counted through a 256-entry table (torch has no popcount); k nearest neighbours come from
``torch.topk`` on the key ``distance * n_database + index``, so ties go to the lower index.
"""

import numpy as np

from ._packing import as_words

DEFAULT_MEMORY_BUDGET = 64 * 2**20


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


def _as_bytes(torch, words, device):
    as_u8 = np.ascontiguousarray(words, dtype="<u8").view(np.uint8)
    return torch.from_numpy(as_u8.astype(np.int64)).to(device)


def _blocks(torch, query_words, database_words, memory_budget, device):
    """Yield ``(q0, q1, distances)`` with distances an int64 (block, n_database) tensor."""
    torch_dev = _device(torch, device)
    table = torch.tensor([bin(b).count("1") for b in range(256)], device=torch_dev)
    database = _as_bytes(torch, as_words(database_words), torch_dev)
    queries = _as_bytes(torch, query_words, torch_dev)
    n_d, n_bytes = database.shape
    step = max(1, memory_budget // max(1, 16 * n_d * max(1, n_bytes // 8)))
    for q0 in range(0, len(queries), step):
        block = queries[q0 : q0 + step]
        dist = torch.zeros((len(block), n_d), dtype=torch.int64, device=torch_dev)
        for b in range(n_bytes):
            dist += table[torch.bitwise_xor(block[:, None, b], database[None, :, b])]
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
            order = np.argsort(row[ind], kind="stable")
            distances.append(row[ind][order].astype(np.int32))
            indices.append(ind[order].astype(np.int64))
    return distances, indices
