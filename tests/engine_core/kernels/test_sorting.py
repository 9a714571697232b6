"""``lex_order`` is exactly ``np.lexsort`` (reversed keys) for non-negative integer keys,
whether the keys pack into one word, several words, or not at all."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine_core.kernels.sorting import lex_order, pack_words

widths = st.sampled_from([1, 2, 3, 8, 20, 31, 40, 56, 63, 64])


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 300),
    st.lists(widths, min_size=1, max_size=4),
    st.integers(0, 2**32 - 1),
    st.sampled_from([2, 4, 50, 400]),
)
def test_lex_order_equals_lexsort(n, bits, seed, distinct):
    rng = np.random.default_rng(seed)
    keys = []
    for b in bits:
        hi = (1 << b) - 1
        # a few distinct values so ties (and the stability they test) are common; many
        # distinct primaries exercise the short-run refinement, few its lexsort fallback
        pool = rng.integers(0, hi, size=distinct, dtype=np.uint64, endpoint=True)
        k = pool[rng.integers(0, distinct, size=n)]
        keys.append(k.astype(np.int64) if b < 63 else k)
    got = lex_order(*keys)
    want = np.lexsort(keys[::-1])
    assert np.array_equal(got, want)


def test_packing_uses_one_word_when_widths_fit():
    a = np.array([3, 1, 2], np.int64)  # 2 bits
    b = np.array([2**40, 0, 7], np.int64)  # 41 bits
    c = np.array([1, 1, 0], np.uint8)  # 1 bit
    assert len(pack_words(a, b, c)) == 1
    assert len(pack_words(a, np.array([2**63, 0, 1], np.uint64))) == 2
    assert lex_order(a, b, c).tolist() == [1, 2, 0]


def test_rejects_negative_and_float_keys():
    with pytest.raises(ValueError):
        lex_order(np.array([-1, 2]))
    with pytest.raises(TypeError):
        lex_order(np.array([0.5, 1.0]))


def test_long_runs_fall_back_to_lexsort():
    rng = np.random.default_rng(7)
    a = np.zeros(1000, np.uint64)  # one run of 1000 rows: beyond the insertion-sort bound
    b = rng.integers(0, 2**64 - 1, 1000, dtype=np.uint64, endpoint=True)
    c = rng.integers(0, 3, 1000).astype(np.uint64) << np.uint64(62)
    assert np.array_equal(lex_order(a, b, c), np.lexsort((c, b, a)))
