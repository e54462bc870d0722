"""Hex strings <-> codes, in ImageHash's layout."""

import numpy as np
import pytest

from skhash.index import HammingIndex, codes_from_hex, codes_to_hex


@pytest.mark.parametrize("n_bits", [1, 3, 4, 9, 25, 64, 100, 256])
def test_round_trip(n_bits):
    codes = np.random.default_rng(n_bits).integers(0, 2, (50, n_bits), dtype=np.uint8)
    strings = codes_to_hex(codes)
    assert strings.shape == (50,) and all(len(s) == -(-n_bits // 4) for s in strings)
    np.testing.assert_array_equal(codes_from_hex(strings, n_bits=n_bits), codes)
    np.testing.assert_array_equal(codes_from_hex([s.upper() for s in strings], n_bits), codes)


def test_known_layout():
    """The first bit is the most significant bit of the first digit."""
    codes = codes_from_hex(["8001", "7ffe"])
    assert codes[0, 0] == 1 and codes[0, -1] == 1 and codes[0, 1:-1].sum() == 0
    np.testing.assert_array_equal(codes[1], 1 - codes[0])
    assert list(codes_to_hex(codes)) == ["8001", "7ffe"]
    # a 9-bit code takes 3 digits, zero-padded on the left
    assert codes_to_hex(np.ones((1, 9)))[0] == "1ff"


@pytest.mark.parametrize("hash_size", [2, 3, 5, 8, 16])
def test_matches_imagehash(hash_size):
    imagehash = pytest.importorskip("imagehash")
    rng = np.random.default_rng(hash_size)
    bits = rng.integers(0, 2, (40, hash_size, hash_size)).astype(bool)
    strings = [str(imagehash.ImageHash(b)) for b in bits]
    assert list(codes_to_hex(bits.reshape(40, -1))) == strings
    codes = codes_from_hex(strings, n_bits=hash_size**2)
    expected = [imagehash.hex_to_hash(s).hash.ravel() for s in strings]
    np.testing.assert_array_equal(codes, np.array(expected, dtype=np.uint8))


def test_stored_hashes_load_into_an_index():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 2, (500, 64), dtype=np.uint8)
    index = HammingIndex().fit(codes_from_hex(codes_to_hex(codes)))
    _, ind = index.kneighbors(codes[:5], n_neighbors=1)
    np.testing.assert_array_equal(ind.ravel(), np.arange(5))


def test_single_string_and_empty():
    assert codes_from_hex("ff").shape == (1, 8)
    assert codes_from_hex([], n_bits=8).shape == (0, 8)


@pytest.mark.parametrize(
    "strings, n_bits, match",
    [
        (["ff", "fff"], None, "same length"),
        (["fg"], None, "not a hex string"),
        (["ff"], 4, "5 to 8 bits"),
        (["ff"], 0, "positive"),
        (["1ff"], 9, None),
        (["3ff"], 9, "does not fit"),
        ([""], None, "empty"),
        ([12], None, "hex string"),
        (["é0"], None, "non-ASCII"),
        ([["ff"]], None, "1-D"),
    ],
)
def test_bad_strings(strings, n_bits, match):
    if match is None:
        assert codes_from_hex(strings, n_bits=n_bits).shape == (1, 9)
        return
    with pytest.raises(ValueError, match=match):
        codes_from_hex(strings, n_bits=n_bits)


def test_codes_to_hex_checks_codes():
    with pytest.raises(ValueError):
        codes_to_hex(np.array([[0, 2, 1, 0]]))
