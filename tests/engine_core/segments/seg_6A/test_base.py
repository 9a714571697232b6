"""6A shared mechanics: ``sorted_codes`` is ``np.unique(…, return_inverse=True)`` for numpy
unicode, object and Arrow string inputs (cell keys and tilts depend on that order)."""

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from engine_core.segments.seg_6A.base import distinct, in_set, sorted_codes, strictly_sorted

LABELS = st.lists(st.text(min_size=0, max_size=6).filter(lambda s: "\x00" not in s), max_size=60)


@settings(max_examples=150, deadline=None)
@given(LABELS)
def test_sorted_codes_equal_numpy_unique(labels):
    x = np.array(labels, dtype=str)
    u, inv = np.unique(x, return_inverse=True)
    for form in (x, x.astype(object), pa.array(labels, pa.string())):
        vocab, codes = sorted_codes(form)
        assert vocab == u.tolist()
        np.testing.assert_array_equal(codes, inv.reshape(-1))


@given(st.lists(st.integers(0, 2**64 - 1), max_size=80))
def test_distinct_is_sorted_unique(xs):
    x = np.array(xs, np.uint64)
    np.testing.assert_array_equal(distinct(x), np.unique(x))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.sampled_from(["A", "B", "CARD", "é"])), max_size=60),
    st.lists(st.sampled_from(["A", "CARD", "Z"]), max_size=3),
)
def test_in_set_equals_isin_for_plain_dictionary_and_chunked(values, wanted):
    want = np.array([v is not None and v in wanted for v in values], bool)
    plain = pa.array(values, pa.string())
    half = len(values) // 2
    for form in (
        plain,
        plain.dictionary_encode(),
        pa.chunked_array([plain[:half].dictionary_encode(), plain[half:].dictionary_encode()]),
    ):
        np.testing.assert_array_equal(in_set(form, wanted), want)


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=40))
def test_strictly_sorted_means_sorted_and_unique(rows):
    a = np.array([r[0] for r in rows], np.int64)
    b = np.array([r[1] for r in rows], np.int64)
    want = all(rows[i] < rows[i + 1] for i in range(len(rows) - 1))
    assert strictly_sorted([a, b]) == want
