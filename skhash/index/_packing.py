"""Packing binary codes into machine words and checking code arrays."""

import numpy as np

__all__ = ["check_codes", "pack_codes", "unpack_codes"]


def check_codes(codes, *, n_bits=None, name="codes"):
    """Validate a 2-D array of binary codes in {0, 1} and return it as ``uint8``.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_bits)
        Binary codes. Booleans and integers in {0, 1} are accepted.
    n_bits : int, default=None
        Expected number of bits; checked when given.
    name : str, default="codes"
        Name used in error messages.

    Returns
    -------
    codes : ndarray of shape (n_samples, n_bits), dtype uint8
    """
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_bits); got shape {codes.shape}."
        )
    if codes.shape[1] == 0:
        raise ValueError(f"{name} must have at least one bit; got shape {codes.shape}.")
    if codes.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers in {{0, 1}}; got dtype {codes.dtype}.")
    if codes.dtype.kind != "b":
        if codes.dtype.kind == "f" and not np.isfinite(codes).all():
            raise ValueError(f"{name} contains NaN or infinity; codes must be in {{0, 1}}.")
        if codes.size and not np.isin(codes, (0, 1)).all():
            raise ValueError(
                f"{name} must contain only 0 and 1 (use transform() to get binary codes)."
            )
    if n_bits is not None and codes.shape[1] != n_bits:
        raise ValueError(
            f"{name} has {codes.shape[1]} bits, but the index holds {n_bits}-bit codes."
        )
    return codes.astype(np.uint8, copy=False)


def pack_codes(codes):
    """Pack {0, 1} codes into little-endian ``uint64`` words, bit ``j`` in word ``j // 64``.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_bits)
        Binary codes in {0, 1}.

    Returns
    -------
    packed : ndarray of shape (n_samples, ceil(n_bits / 64)), dtype uint64
        The codes, 64 bits to a word; the unused high bits of the last word are zero.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.index import pack_codes, unpack_codes
    >>> codes = np.array([[1, 0, 1], [0, 1, 1]], dtype=np.uint8)
    >>> pack_codes(codes).ravel()
    array([5, 6], dtype=uint64)
    >>> unpack_codes(pack_codes(codes), n_bits=3)
    array([[1, 0, 1],
           [0, 1, 1]], dtype=uint8)
    """
    codes = check_codes(codes)
    n_samples, n_bits = codes.shape
    n_words = -(-n_bits // 64)
    as_bytes = np.packbits(codes, axis=1, bitorder="little")
    padded = np.zeros((n_samples, n_words * 8), dtype=np.uint8)
    padded[:, : as_bytes.shape[1]] = as_bytes
    return padded.view("<u8").astype(np.uint64, copy=False)


def unpack_codes(packed, n_bits):
    """Inverse of :func:`pack_codes`: ``(n, n_words)`` uint64 words to ``(n, n_bits)`` uint8."""
    packed = np.ascontiguousarray(packed, dtype=np.uint64)
    if packed.ndim != 2:
        raise ValueError(f"packed codes must be 2-D; got shape {packed.shape}.")
    as_bytes = packed.astype("<u8", copy=False).view(np.uint8)
    return np.unpackbits(as_bytes, axis=1, count=n_bits, bitorder="little")


BLOCK_SIZE = 64  # codes per block of a BlockedCodes layout


class BlockedCodes:
    """Packed codes laid out for scanning: blocks of 64 codes, each block word-planar.

    ``blocks[b, w, j]`` is word ``w`` of code ``64 * b + j``. Within a block the same word of
    the 64 codes is contiguous, so a compiled scan loads eight codes' words per AVX-512
    register with no shuffles, however many words a code has; the layout takes the memory of
    the packed codes plus the padding of the last block (under 512 bytes per word).

    Parameters
    ----------
    words : ndarray of shape (n_codes, n_words), dtype uint64
        Packed codes, as :func:`pack_codes` returns them.
    """

    def __init__(self, words):
        words = np.ascontiguousarray(words, dtype=np.uint64)
        if words.ndim != 2:
            raise ValueError(f"packed codes must be 2-D; got shape {words.shape}.")
        n_codes, n_words = words.shape
        n_blocks = -(-n_codes // BLOCK_SIZE)
        padded = np.zeros((n_blocks * BLOCK_SIZE, n_words), dtype=np.uint64)
        padded[:n_codes] = words
        self.blocks = np.ascontiguousarray(
            padded.reshape(n_blocks, BLOCK_SIZE, n_words).transpose(0, 2, 1)
        )
        self.n_codes = n_codes

    @property
    def n_words(self):
        return self.blocks.shape[1]

    @property
    def nbytes(self):
        return self.blocks.nbytes

    def __len__(self):
        return self.n_codes

    def words(self):
        """The codes as a new ``(n_codes, n_words)`` array."""
        flat = self.blocks.transpose(0, 2, 1).reshape(-1, self.n_words)
        return np.ascontiguousarray(flat[: self.n_codes])

    def append(self, words):
        """A new layout holding these codes followed by ``words`` (one copy of the old)."""
        words = np.ascontiguousarray(words, dtype=np.uint64).reshape(-1, self.n_words)
        n_codes = self.n_codes + len(words)
        blocks = np.zeros((-(-n_codes // BLOCK_SIZE), self.n_words, BLOCK_SIZE), np.uint64)
        blocks[: len(self.blocks)] = self.blocks
        at = np.arange(self.n_codes, n_codes)
        blocks[at // BLOCK_SIZE, :, at % BLOCK_SIZE] = words
        new = object.__new__(BlockedCodes)
        new.blocks, new.n_codes = blocks, n_codes
        return new


def as_blocked(database):
    """``database`` (packed words or :class:`BlockedCodes`) as :class:`BlockedCodes`."""
    return database if isinstance(database, BlockedCodes) else BlockedCodes(database)


def as_words(database):
    """``database`` (packed words or :class:`BlockedCodes`) as a 2-D uint64 array."""
    if isinstance(database, BlockedCodes):
        return database.words()
    return np.ascontiguousarray(database, dtype=np.uint64)
