"""Binary codes in and out of machine words: checks, packing, and the blocked layout.

Codes reach the index in three forms, all turned into the same little-endian uint64 words
(bit ``j`` of a code is bit ``j % 64`` of word ``j // 64``):

- bits: ``(n, n_bits)`` numbers in {0, 1} (what hashers' ``transform`` returns);
- packed bytes: ``(n, ceil(n_bits / 8))`` uint8, as ``numpy.packbits(bits, axis=1)`` gives
  them and FAISS binary indexes take them (bit ``j`` is the bit ``7 - j % 8`` of byte
  ``j // 8``);
- packed words: ``(n, ceil(n_bits / 64))`` uint64, as :func:`pack_codes` gives them.

Inputs are read in chunks of rows, so checking and packing take memory for the output
and one chunk, whatever the input's size and dtype.
"""

import threading

import numpy as np

__all__ = ["check_codes", "pack_codes", "unpack_codes"]

_CHUNK_BYTES = 4 * 2**20  # bytes of input (or of packed output) handled at a time
BLOCK_SIZE = 64  # codes per block of a BlockedCodes layout
_GROWTH = 1.25  # spare room an append leaves, as a share of the codes held


def check_code_array(codes, *, packed=False, n_bits=None, name="codes"):
    """Check the shape and dtype of a code array (not its values); return its ``n_bits``.

    ``codes`` is anything with ``ndim``, ``shape`` and ``dtype`` (a numpy or Dask array),
    holding bits, or packed bytes or words when ``packed`` (see :func:`as_words`).
    ``n_bits``: the expected code length, or for packed codes the code length when it is
    not all their bits.
    """
    if codes.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_bits); got shape {codes.shape}."
        )
    if codes.shape[1] == 0:
        raise ValueError(f"{name} must have at least one bit; got shape {codes.shape}.")
    if not packed:
        if codes.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold numbers in {{0, 1}}; got dtype {codes.dtype}.")
        if n_bits is not None and codes.shape[1] != n_bits:
            raise ValueError(
                f"{name} has {codes.shape[1]} bits, but the index holds {n_bits}-bit codes."
            )
        return int(codes.shape[1])
    if codes.dtype not in (np.uint8, np.uint64):
        raise TypeError(
            f"packed {name} must be uint8 bytes (numpy.packbits order, as FAISS takes them) "
            f"or uint64 words (skhash.index.pack_codes); got dtype {codes.dtype}."
        )
    unit = 8 * codes.dtype.itemsize
    width = codes.shape[1] * unit
    n_bits = width if n_bits is None else n_bits
    if not width - unit < n_bits <= width:
        raise ValueError(
            f"packed {name} of {codes.shape[1]} {codes.dtype} columns hold codes of "
            f"{width - unit + 1} to {width} bits; got n_bits={n_bits}."
        )
    return int(n_bits)


def _check_bits(chunk, name):
    """Raise unless every value of ``chunk`` is 0 or 1 (one pass, no temporary for ints)."""
    kind = chunk.dtype.kind
    if kind == "b" or not chunk.size:
        return
    if kind in "iu":
        ok = chunk.max() <= 1 and (kind == "u" or chunk.min() >= 0)
    else:
        ok = bool(((chunk == 0) | (chunk == 1)).all())
        if not ok and not np.isfinite(chunk).all():
            raise ValueError(f"{name} contains NaN or infinity; codes must be in {{0, 1}}.")
    if not ok:
        hint = (
            " If they are packed bytes (numpy.packbits, as FAISS takes them), pass packed=True."
            if chunk.dtype == np.uint8
            else ""
        )
        raise ValueError(
            f"{name} must contain only 0 and 1 (use transform() to get binary codes).{hint}"
        )


def _rows_per_chunk(row_bytes):
    return max(1, _CHUNK_BYTES // max(1, row_bytes))


def check_codes(codes, *, n_bits=None, name="codes"):
    """Validate a 2-D array of binary codes in {0, 1} and return it as ``uint8``.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_bits)
        Binary codes. Booleans and numbers in {0, 1} are accepted.
    n_bits : int, default=None
        Expected number of bits; checked when given.
    name : str, default="codes"
        Name used in error messages.

    Returns
    -------
    codes : ndarray of shape (n_samples, n_bits), dtype uint8
        The input itself when it already is uint8.
    """
    codes = np.asarray(codes)
    check_code_array(codes, n_bits=n_bits, name=name)
    step = _rows_per_chunk(codes.shape[1] * codes.itemsize)
    for r0 in range(0, len(codes), step):
        _check_bits(codes[r0 : r0 + step], name)
    return codes.astype(np.uint8, copy=False)


def as_words(codes, *, packed=False, n_bits=None, check_input=True, name="codes"):
    """Codes in any accepted form as packed words: ``(words, n_bits)``.

    Parameters
    ----------
    codes : array-like
        Bits ``(n, n_bits)`` when ``packed=False``; else uint8 packed bytes or uint64
        packed words (see the module docstring).
    packed : bool, default=False
        Whether ``codes`` are packed.
    n_bits : int, default=None
        Bits per code: checked against bits; for packed codes, the code length (by default
        all the bits of the bytes or words), whose unused high bits must be zero.
    check_input : bool, default=True
        False skips the value checks (codes this library made itself); shapes and dtypes
        are always checked, and nonzero values then count as 1.
    name : str, default="codes"
        Name used in error messages.

    Returns
    -------
    words : ndarray of shape (n, ceil(n_bits / 64)), dtype uint64, C-contiguous
    n_bits : int
    """
    codes = np.asarray(codes)
    n_bits = check_code_array(codes, packed=packed, n_bits=n_bits, name=name)
    words = np.empty((len(codes), -(-n_bits // 64)), dtype=np.uint64)
    r0 = 0
    for chunk in _word_chunks(codes, n_bits, packed, check_input, name):
        if len(chunk) == len(codes):  # one chunk: no copy
            return chunk, n_bits
        words[r0 : r0 + len(chunk)] = chunk
        r0 += len(chunk)
    return words, n_bits


def as_blocked_codes(codes, *, packed=False, n_bits=None, check_input=True, name="codes"):
    """Codes as :func:`as_words` takes them, laid out as :class:`BlockedCodes`.

    The input is read in chunks written straight into the layout: the extra memory is the
    layout (the packed codes) and one chunk. Returns ``(blocked codes, n_bits)``.
    """
    codes = np.asarray(codes)
    n_bits = check_code_array(codes, packed=packed, n_bits=n_bits, name=name)
    chunks = _word_chunks(codes, n_bits, packed, check_input, name)
    return BlockedCodes.from_chunks(len(codes), -(-n_bits // 64), chunks), n_bits


def _word_chunks(codes, n_bits, packed, check_input, name):
    """Yield the codes (shape and dtype checked) as packed words, a chunk of rows at a time.

    Values are checked as they are read: bits in {0, 1} (unless not ``check_input``), and
    the unused high bits of packed codes zero.
    """
    n_words, n_bytes = -(-n_bits // 64), -(-n_bits // 8)
    # bits n_bits and up of the last word (after the bit reversal of bytes, too)
    unused = ~np.uint64(0) << np.uint64(n_bits % 64) if n_bits % 64 else np.uint64(0)
    step = _rows_per_chunk(max(codes.shape[1] * codes.itemsize, 8 * n_words))
    for r0 in range(0, len(codes), step):
        chunk = codes[r0 : r0 + step]
        if packed and chunk.dtype == np.uint64:
            words = np.ascontiguousarray(chunk)
        else:
            words = np.zeros((len(chunk), n_words), dtype=np.uint64)
            if packed:  # numpy.packbits bytes: reverse the bits of each byte
                words.view(np.uint8)[:, : chunk.shape[1]] = chunk
                _reverse_bits_of_bytes(words)
            else:
                if check_input:
                    _check_bits(chunk, name)
                if chunk.dtype.kind == "f":
                    chunk = chunk != 0
                bytes_ = np.packbits(chunk, axis=1, bitorder="little")
                words.view(np.uint8)[:, :n_bytes] = bytes_
        if packed and unused and np.bitwise_or.reduce(words[:, -1] & unused):
            raise ValueError(
                f"packed {name} have bits set beyond n_bits={n_bits}: the unused bits of the "
                "last byte or word must be zero."
            )
        yield words


_BIT_MASKS = [
    (np.uint64(shift), np.uint64(mask))
    for shift, mask in ((1, 0x5555555555555555), (2, 0x3333333333333333), (4, 0x0F0F0F0F0F0F0F0F))
]


def _reverse_bits_of_bytes(words):
    """Reverse the bit order within each byte of ``words`` (uint64), in place: three rounds
    of swapping bits, pairs and nibbles, ten times faster than a byte lookup table."""
    spare = np.empty_like(words)
    for shift, mask in _BIT_MASKS:
        np.right_shift(words, shift, out=spare)
        spare &= mask
        words &= mask
        words <<= shift
        words |= spare


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
    return as_words(codes)[0]


def unpack_codes(packed, n_bits):
    """Inverse of :func:`pack_codes`: ``(n, n_words)`` uint64 words to ``(n, n_bits)`` uint8."""
    packed = np.ascontiguousarray(packed, dtype=np.uint64)
    if packed.ndim != 2:
        raise ValueError(f"packed codes must be 2-D; got shape {packed.shape}.")
    as_bytes = packed.astype("<u8", copy=False).view(np.uint8)
    return np.unpackbits(as_bytes, axis=1, count=n_bits, bitorder="little")


class RowBuffer:
    """An array with room to grow, shared by successive snapshots of a growing database.

    The array holds ``per_row`` items per row (64 codes per block, one id per row); snapshot
    ``n`` uses items ``[0, n)``. An append writes the items past the ``tip`` (the largest
    ``n`` handed out) in place when the snapshot appended to is the tip and the array has
    room: readers of older snapshots never read those items, so they stay valid. Anything
    else (an older snapshot, a read-only or memory-mapped array) gets a new array. Owners
    pickle the used part, never the buffer.
    """

    def __init__(self, array, tip, per_row=1):
        self.array, self.tip, self.per_row = array, tip, per_row
        self.lock = threading.Lock()

    def claim(self, n_used, n_total):
        """Whether items ``[n_used, n_total)`` may be written in place (then claimed)."""
        with self.lock:
            room = len(self.array) * self.per_row
            if n_used == self.tip and n_total <= room and self.array.flags.writeable:
                self.tip = n_total
                return True
            return False

    def grown(self, n_used, n_total, empty):
        """A buffer that takes items ``[n_used, n_total)`` after the first ``n_used``.

        This one when it may (see :meth:`claim`), else a new one made by ``empty(n_rows)``
        holding a copy of the used rows, with ``_GROWTH`` times the items as room.
        """
        if self.claim(n_used, n_total):
            return self
        array = empty(-(-max(n_total, int(_GROWTH * n_total)) // self.per_row))
        used = -(-n_used // self.per_row)
        array[:used] = self.array[:used]
        return RowBuffer(array, n_total, self.per_row)


class BlockedCodes:
    """Packed codes laid out for scanning: blocks of 64 codes, each block word-planar.

    ``blocks[b, w, j]`` is word ``w`` of code ``64 * b + j``. Within a block the same word of
    the 64 codes is contiguous, so a compiled scan loads eight codes' words per AVX-512
    register with no shuffles, however many words a code has; the layout takes the memory of
    the packed codes plus the padding of the last block (under 512 bytes per word). A
    ``BlockedCodes`` is a snapshot: :meth:`append` and :meth:`take` return new ones.

    Parameters
    ----------
    words : ndarray of shape (n_codes, n_words), dtype uint64
        Packed codes, as :func:`pack_codes` returns them.
    """

    def __init__(self, words):
        words = np.asarray(words, dtype=np.uint64)
        if words.ndim != 2:
            raise ValueError(f"packed codes must be 2-D; got shape {words.shape}.")
        layout = BlockedCodes.from_chunks(len(words), words.shape[1], [words])
        self._buffer, self.n_codes = layout._buffer, layout.n_codes

    @classmethod
    def from_chunks(cls, n_codes, n_words, chunks):
        """The layout of ``n_codes`` codes given as consecutive arrays of packed words."""
        blocks = _empty_blocks(_n_blocks(n_codes), n_words)
        start = 0
        for words in chunks:
            _write_codes(blocks, start, words)
            start += len(words)
        return cls._of(RowBuffer(blocks, n_codes, BLOCK_SIZE), n_codes)

    @classmethod
    def _of(cls, buffer, n_codes):
        new = object.__new__(cls)
        new._buffer, new.n_codes = buffer, n_codes
        return new

    def __getstate__(self):
        return {"blocks": self.blocks, "n_codes": self.n_codes}

    def __setstate__(self, state):
        self._buffer = RowBuffer(state["blocks"], state["n_codes"], BLOCK_SIZE)
        self.n_codes = state["n_codes"]

    @property
    def blocks(self):
        """The ``(n_blocks, n_words, 64)`` uint64 blocks holding the codes."""
        return self._buffer.array[: _n_blocks(self.n_codes)]

    @property
    def n_words(self):
        return self._buffer.array.shape[1]

    @property
    def nbytes(self):
        return self.blocks.nbytes

    def __len__(self):
        return self.n_codes

    def words(self, positions=None):
        """The codes (or those at ``positions``) as a new ``(n, n_words)`` array."""
        if positions is not None:
            positions = np.asarray(positions, dtype=np.int64)
            return self.blocks[positions // BLOCK_SIZE, :, positions % BLOCK_SIZE]
        return self.words_between(0, self.n_codes)

    def words_between(self, start, stop):
        """Codes ``start`` to ``stop - 1`` as a new ``(stop - start, n_words)`` array."""
        b0, b1 = start // BLOCK_SIZE, _n_blocks(stop)
        flat = self.blocks[b0:b1].transpose(0, 2, 1).reshape(-1, self.n_words)
        return np.ascontiguousarray(flat[start - b0 * BLOCK_SIZE : stop - b0 * BLOCK_SIZE])

    def append(self, words):
        """A new snapshot: these codes followed by ``words``."""
        words = np.asarray(words, dtype=np.uint64).reshape(-1, self.n_words)
        n_total = self.n_codes + len(words)
        n_words = self.n_words
        buffer = self._buffer.grown(
            self.n_codes, n_total, lambda n_blocks: _empty_blocks(n_blocks, n_words)
        )
        _write_codes(buffer.array, self.n_codes, words)
        return BlockedCodes._of(buffer, n_total)

    def take(self, positions):
        """A new snapshot holding the codes at the sorted ``positions``, in that order."""
        positions = np.asarray(positions, dtype=np.int64)
        blocks = _empty_blocks(_n_blocks(len(positions)), self.n_words)
        step = _rows_per_chunk(8 * self.n_words)
        for p0 in range(0, len(positions), step):
            _write_codes(blocks, p0, self.words(positions[p0 : p0 + step]))
        return BlockedCodes._of(RowBuffer(blocks, len(positions), BLOCK_SIZE), len(positions))


def _n_blocks(n_codes):
    return -(-n_codes // BLOCK_SIZE)


def _empty_blocks(n_blocks, n_words):
    return np.zeros((n_blocks, n_words, BLOCK_SIZE), dtype=np.uint64)


def _write_codes(blocks, start, words):
    """Write ``words`` as codes ``start, start + 1, ...`` of ``blocks`` (no large temporary)."""
    n = len(words)
    head = min(n, -start % BLOCK_SIZE)  # up to the next block boundary
    n_full = (n - head) // BLOCK_SIZE
    for lo, hi in ((0, head), (head + n_full * BLOCK_SIZE, n)):
        if hi > lo:
            at = np.arange(start + lo, start + hi)
            blocks[at // BLOCK_SIZE, :, at % BLOCK_SIZE] = words[lo:hi]
    if n_full:
        b0 = (start + head) // BLOCK_SIZE
        full = words[head : head + n_full * BLOCK_SIZE].reshape(n_full, BLOCK_SIZE, -1)
        if full.shape[2] == 1:  # one word: the blocks are the rows, a plain copy
            blocks[b0 : b0 + n_full, 0] = full[:, :, 0]
        else:
            blocks[b0 : b0 + n_full] = full.transpose(0, 2, 1)


def as_blocked(database):
    """``database`` (packed words or :class:`BlockedCodes`) as :class:`BlockedCodes`."""
    return database if isinstance(database, BlockedCodes) else BlockedCodes(database)


def words_of(database):
    """``database`` (packed words or :class:`BlockedCodes`) as a 2-D uint64 array."""
    if isinstance(database, BlockedCodes):
        return database.words()
    return np.ascontiguousarray(database, dtype=np.uint64)
