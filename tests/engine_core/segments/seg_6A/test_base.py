"""6A shared mechanics: ``sorted_codes`` is ``np.unique(…, return_inverse=True)`` for numpy
unicode, object and Arrow string inputs (cell keys and tilts depend on that order)."""

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from engine_core.segments.seg_6A.base import distinct, sorted_codes

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
