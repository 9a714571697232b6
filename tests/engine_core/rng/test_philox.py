"""Philox2x64-10: Random123 known answers; numpy and numba twins agree bit-for-bit."""

import numpy as np
import pytest

from engine_core.errors import EngineError
from engine_core.rng import philox2x64_10, philox_array_nb
from engine_core.rng.philox import fill_words
from engine_core.rng.streams import Stream, ctr_add

M = (1 << 64) - 1
KAT = [
    ((0, 0), 0, (0xCA00A0459843D731, 0x66C24222C9A845B5)),
    ((M, M), M, (0x65B021D60CD8310F, 0x4D02F3222F86DF20)),
    (
        (0x243F6A8885A308D3, 0x13198A2E03707344),
        0xA4093822299F31D0,
        (0x0A5E742C2997341C, 0xB0F883D38000DE5D),
    ),
]


def u64(*v):
    return np.array(v, dtype=np.uint64)


@pytest.mark.parametrize(("ctr", "key", "out"), KAT)
def test_random123_known_answers(ctr, key, out):
    o0, o1 = philox2x64_10(u64(ctr[0]), u64(ctr[1]), u64(key))
    assert (int(o0[0]), int(o1[0])) == out
    n0, n1 = philox_array_nb(u64(ctr[0]), u64(ctr[1]), u64(key))
    assert (int(n0[0]), int(n1[0])) == out


def test_python_ints_above_2_63_accepted():
    o0, _ = philox2x64_10(np.array([M], dtype=object), np.array([M], dtype=object), M)
    assert int(o0[0]) == KAT[1][2][0]


def test_numpy_and_numba_agree_on_a_million_triples():
    rng = np.random.default_rng(20261122)  # test data only; the engine never uses numpy RNG
    n = 1_000_000
    c0, c1, k = (rng.integers(0, M, size=n, dtype=np.uint64, endpoint=True) for _ in range(3))
    # carry/wrap edges: all-ones, zero, top bit, words one below a carry
    edges = u64(0, 1, M, M - 1, 1 << 63, (1 << 63) - 1, 0xFFFFFFFF, 1 << 32)
    m = len(edges)
    c0[:m], c1[m : 2 * m], k[2 * m : 3 * m] = edges, edges, edges
    c0[3 * m : 4 * m], c1[3 * m : 4 * m], k[3 * m : 4 * m] = edges, edges[::-1], edges
    a0, a1 = philox2x64_10(c0, c1, k)
    b0, b1 = philox_array_nb(c0, c1, k)
    assert np.array_equal(a0, b0) and np.array_equal(a1, b1)


def test_block_words_follow_the_128_bit_counter_across_a_carry():
    # blocks 0..5 of a stream whose low counter word carries after 3 blocks
    words = fill_words(7, 5, M - 2, 0, 12)
    lo = u64(M - 2, M - 1, M, 0, 1, 2)
    hi = u64(5, 5, 5, 6, 6, 6)
    o0, o1 = philox2x64_10(lo, hi, u64(7))
    assert np.array_equal(words, np.stack([o0, o1], axis=1).reshape(-1))
    # odd draw counts take the first word of the last block
    assert np.array_equal(fill_words(7, 5, M - 2, 0, 5), words[:5])
    # starting mid-stream is the same as slicing
    assert np.array_equal(fill_words(7, 5, M - 2, 2, 6), words[4:10])


def test_counter_wrap_is_an_error():
    assert ctr_add(0, M, 1) == (1, 0)
    assert ctr_add(M, M - 1, 1) == (M, M)
    with pytest.raises(EngineError) as e:
        ctr_add(M, M, 1, state="1A.S2")
    assert e.value.full_code == "1A.S2.RNG_COUNTER_WRAP"
    s = Stream(key=1, ctr_hi=M, ctr_lo=M - 3, state="5B.S3")
    s.words(8)  # blocks M-3 .. M: the last representable counter
    with pytest.raises(EngineError, match="RNG_COUNTER_WRAP"):
        s.words(1)


def test_stream_accounting():
    s = Stream(key=3, ctr_hi=0, ctr_lo=10)
    a = s.words(3)
    b = s.words(2)
    assert (s.events, s.draws_used, s.blocks_used) == (2, 5, 3)
    assert s.first_counter == (0, 10) and s.last_counter == (0, 12)
    # events never share a block: the second event starts at block 2
    assert np.array_equal(b, fill_words(3, 0, 10, 2, 2))
    assert np.array_equal(a, fill_words(3, 0, 10, 0, 3))
