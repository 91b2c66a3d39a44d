"""Known answers of Philox4x32-10 (README, "Stream format"; from Random123's kat_vectors) on the C path and the
reference."""
import numpy as np
import pytest

import fastinit as fi
from fastinit import reference as R

KAT = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter,key,expected", KAT)
def test_known_answers_c(counter, key, expected):
    out = fi.philox4x32(np.array(counter, np.uint32), np.array(key, np.uint32))
    assert out.dtype == np.uint32
    assert tuple(int(v) for v in out) == expected


@pytest.mark.parametrize("counter,key,expected", KAT)
def test_known_answers_reference(counter, key, expected):
    assert tuple(int(v) for v in R.philox4x32(counter, key)) == expected


def test_batch_and_broadcast_match_reference():
    rng = np.random.default_rng(0)
    counters = rng.integers(0, 2**32, size=(5, 7, 4), dtype=np.uint32)
    key = rng.integers(0, 2**32, size=2, dtype=np.uint32)
    out = fi.philox4x32(counters, key)
    assert out.shape == (5, 7, 4)
    np.testing.assert_array_equal(out, R.philox4x32(counters, key))
    for rounds in (0, 1, 7):
        np.testing.assert_array_equal(fi.philox4x32(counters, key, rounds=rounds),
                                      R.philox4x32(counters, key, rounds=rounds))
    np.testing.assert_array_equal(fi.philox4x32(counters, key, rounds=0), counters)


def test_stream_words_are_the_mapped_blocks():
    # README, "Stream format": key = (seed lo, seed hi); block b of stream s has counter (b lo, b hi, s lo, s hi).
    seed, stream = 0x0123456789ABCDEF, 0xFEDCBA9876543210
    words = fi.Generator(seed).random_raw(12, stream=stream)
    counters = np.array([[b, 0, stream & 0xFFFFFFFF, stream >> 32] for b in range(3)], np.uint32)
    expected = fi.philox4x32(counters, np.array([seed & 0xFFFFFFFF, seed >> 32], np.uint32)).reshape(-1)
    np.testing.assert_array_equal(words, expected)


@pytest.mark.parametrize("counter,key,exc", [
    (np.zeros(3, np.uint32), np.zeros(2, np.uint32), ValueError),         # counter not (..., 4)
    (np.zeros(4, np.uint32), np.zeros(3, np.uint32), ValueError),         # key not (..., 2)
    (np.zeros(4, np.float64), np.zeros(2, np.uint32), TypeError),         # float counter
    (np.array([0, 0, 0, 2**32]), np.zeros(2, np.uint32), ValueError),     # word out of range
    (np.array([0, 0, 0, -1]), np.zeros(2, np.uint32), ValueError),
    (np.zeros((3, 4), np.uint32), np.zeros((2, 2), np.uint32), ValueError),  # shapes do not broadcast
])
def test_bad_input(counter, key, exc):
    with pytest.raises(exc):
        fi.philox4x32(counter, key)


def test_bad_rounds():
    with pytest.raises(ValueError, match="rounds"):
        fi.philox4x32(np.zeros(4, np.uint32), np.zeros(2, np.uint32), rounds=-1)
    with pytest.raises(TypeError, match="rounds"):
        fi.philox4x32(np.zeros(4, np.uint32), np.zeros(2, np.uint32), rounds=2.5)
    with pytest.raises(ValueError, match="rounds must be in"):
        fi.philox4x32(np.zeros(4, np.uint32), np.zeros(2, np.uint32), rounds=2**40)
