"""Binary codes to and from hex strings, in ImageHash's layout.

ImageHash (and PDQ, and most stores of perceptual hashes) write a code as one hexadecimal
number whose most significant bit is the code's first bit: bits in row-major order, four to
a digit, zero-padded on the left to ``ceil(n_bits / 4)`` digits. Reading them back gives
codes for a :class:`~skhash.index.HammingIndex`, so stored hashes are searchable without
re-hashing a single image.
"""

from numbers import Integral

import numpy as np

from ._packing import check_codes

__all__ = ["codes_from_hex", "codes_to_hex"]

_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# Byte value of an ASCII character -> its hex value, 255 for a non-hex character.
_VALUES = np.full(256, 255, dtype=np.uint8)
_VALUES[_DIGITS] = np.arange(16)
_VALUES[np.frombuffer(b"ABCDEF", dtype=np.uint8)] = np.arange(10, 16)
# Hex value -> its 4 bits, most significant first.
_NIBBLE_BITS = ((np.arange(16)[:, None] >> np.arange(3, -1, -1)) & 1).astype(np.uint8)


def codes_from_hex(strings, n_bits=None):
    """Binary codes from hex strings, as ImageHash writes them (``str(hash)``).

    Each string is one code: its hexadecimal digits, most significant first, give the bits
    in order (the first bit is the highest bit of the first digit), which is ImageHash's
    ``hex_to_hash`` read row by row. Upper- and lower-case digits are read alike.

    Parameters
    ----------
    strings : str or array-like of str
        The hex strings, all of the same length (a single string gives one code).
    n_bits : int, default=None
        Bits per code. None takes 4 bits per digit. A smaller ``n_bits`` (a 9-bit hash is
        written in 3 digits) drops the leading padding bits, which must then be zero.

    Returns
    -------
    codes : ndarray of shape (n_strings, n_bits), dtype uint8
        Codes in {0, 1}, for :class:`~skhash.index.HammingIndex` or a hasher's database.

    Raises
    ------
    ValueError
        If the strings differ in length, hold a non-hex character, or do not fit in
        ``n_bits`` (the message names the first such string).

    See Also
    --------
    codes_to_hex : The inverse.

    Examples
    --------
    >>> from skhash.index import HammingIndex, codes_from_hex
    >>> stored = ["ffd8c0c0e0f0f8fc", "ffd8c0c0e0f0f8fd", "0123456789abcdef"]
    >>> codes = codes_from_hex(stored)
    >>> codes.shape
    (3, 64)
    >>> index = HammingIndex().fit(codes)
    >>> dist, ind = index.kneighbors(codes_from_hex("ffd8c0c0e0f0f8fe"), n_neighbors=2)
    >>> ind.tolist(), dist.tolist()
    ([[0, 1]], [[1, 2]])
    """
    if isinstance(strings, (str, bytes)):
        strings = [strings]
    strings = np.asarray(strings)
    if strings.ndim == 1 and strings.size == 0:
        if n_bits is None:
            raise ValueError("No strings given: pass n_bits to get an empty (0, n_bits) array.")
        strings = strings.astype("S1")
    if strings.ndim != 1 or strings.dtype.kind not in "USO":
        raise ValueError(
            "strings must be a hex string or a 1-D sequence of them; got an array of shape "
            f"{strings.shape} and dtype {strings.dtype}."
        )
    if strings.dtype.kind == "O":
        if not all(isinstance(s, (str, bytes)) for s in strings):
            bad = next(s for s in strings if not isinstance(s, (str, bytes)))
            raise ValueError(f"strings must hold hex strings; got {type(bad).__name__} {bad!r}.")
        strings = strings.astype(str if all(isinstance(s, str) for s in strings) else bytes)
    if strings.dtype.kind == "U":
        try:
            strings = np.char.encode(strings, "ascii")
        except UnicodeEncodeError:
            raise ValueError(
                "strings must hold hex digits only; found a non-ASCII character."
            ) from None
    lengths = np.char.str_len(strings)
    if len(strings) == 0:
        n_digits = 0 if n_bits is None else -(-int(n_bits) // 4)
    else:
        n_digits = int(lengths[0])
        if (lengths != n_digits).any():
            i = int(np.flatnonzero(lengths != n_digits)[0])
            raise ValueError(
                f"Hex strings must all have the same length: strings[0] has {n_digits} "
                f"digits, strings[{i}] has {int(lengths[i])}."
            )
        if n_digits == 0:
            raise ValueError("Hex strings must not be empty.")
    if n_bits is None:
        n_bits = 4 * n_digits
    elif not isinstance(n_bits, Integral) or isinstance(n_bits, bool) or n_bits < 1:
        raise ValueError(f"n_bits must be a positive integer or None; got {n_bits!r}.")
    n_bits = int(n_bits)
    if not 4 * n_digits - 3 <= n_bits <= 4 * n_digits:
        raise ValueError(
            f"{n_digits} hex digits hold {4 * n_digits - 3} to {4 * n_digits} bits; got "
            f"n_bits={n_bits}."
        )
    raw = np.frombuffer(strings.astype(f"S{n_digits}").tobytes(), dtype=np.uint8)
    values = _VALUES[raw.reshape(len(strings), n_digits)]
    if (values == 255).any():
        i = int(np.flatnonzero((values == 255).any(axis=1))[0])
        raise ValueError(f"strings[{i}] = {strings[i].decode()!r} is not a hex string.")
    bits = _NIBBLE_BITS[values].reshape(len(strings), 4 * n_digits)
    padding = 4 * n_digits - n_bits
    if padding and bits[:, :padding].any():
        i = int(np.flatnonzero(bits[:, :padding].any(axis=1))[0])
        raise ValueError(
            f"strings[{i}] = {strings[i].decode()!r} does not fit in n_bits={n_bits}: its "
            f"leading {padding} padding bit(s) are not zero."
        )
    return np.ascontiguousarray(bits[:, padding:])


def codes_to_hex(codes):
    """Hex strings of binary codes, as ImageHash writes them (``str(hash)``).

    Bits are read in order, the first one most significant, four to a digit; codes whose
    length is not a multiple of 4 are zero-padded on the left (ImageHash's layout), so
    ``codes_from_hex(codes_to_hex(codes), n_bits=codes.shape[1])`` gives ``codes`` back.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_bits)
        Codes in {0, 1} (booleans accepted), e.g. a hasher's ``transform``.

    Returns
    -------
    strings : ndarray of shape (n_samples,), dtype str
        Lower-case hex strings of ``ceil(n_bits / 4)`` digits.

    See Also
    --------
    codes_from_hex : The inverse.

    Examples
    --------
    >>> import numpy as np
    >>> from skhash.index import codes_to_hex
    >>> codes_to_hex(np.array([[1, 1, 1, 1, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0, 1, 0]]))
    array(['f1', '0a'], dtype='<U2')
    """
    codes = check_codes(codes)
    n, n_bits = codes.shape
    n_digits = -(-n_bits // 4)
    padded = np.zeros((n, 4 * n_digits), dtype=np.uint8)
    padded[:, 4 * n_digits - n_bits :] = codes
    values = padded.reshape(n, n_digits, 4) @ np.array([8, 4, 2, 1], dtype=np.uint8)
    chars = _DIGITS[values]
    return np.frombuffer(chars.tobytes(), dtype=f"S{n_digits}").astype(f"U{n_digits}")
