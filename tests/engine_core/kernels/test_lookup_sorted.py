"""SortedIndex is np.searchsorted (left) for any sorted uint64 keys, spread or skewed."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine_core.kernels.lookup import SortedIndex, find_sorted

U64 = st.integers(0, 2**64 - 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(U64, max_size=300), st.lists(U64, max_size=100), st.integers(1, 12))
def test_positions_equal_searchsorted(keys, queries, bits):
    k = np.sort(np.array(keys, np.uint64))
    q = np.array(queries + [0, 2**64 - 1] + keys[:5], np.uint64)
    idx = SortedIndex(k, bits)
    np.testing.assert_array_equal(idx.positions(q), np.searchsorted(k, q))
    np.testing.assert_array_equal(idx.positions(q, "right"), np.searchsorted(k, q, "right"))
    np.testing.assert_array_equal(idx.contains(q), np.isin(q, k))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 5000), max_size=300), st.lists(st.integers(0, 9000), max_size=50))
def test_small_row_numbers(keys, queries):
    k = np.sort(np.array(keys, np.int64))
    q = np.array(queries, np.int64)
    for side in ("left", "right"):
        np.testing.assert_array_equal(find_sorted(k, q, side), np.searchsorted(k, q, side))


def test_large_spread_keys_with_duplicates_and_skew():
    rng = np.random.default_rng(1)
    k = np.sort(
        np.r_[
            rng.integers(0, 2**63, 200_000, dtype=np.uint64) * np.uint64(2),
            np.full(1000, 7, np.uint64),
            np.arange(50, dtype=np.uint64),
        ]
    )
    q = np.r_[k[::7], rng.integers(0, 2**63, 50_000, dtype=np.uint64), np.uint64(2**64 - 1)]
    idx = SortedIndex(k)
    np.testing.assert_array_equal(idx.positions(q), np.searchsorted(k, q))


def test_threaded_queries_equal_numpy(monkeypatch):
    from engine_core.kernels import lookup

    monkeypatch.setattr(lookup, "PARALLEL_MIN", 7)
    monkeypatch.setattr(lookup, "THREADS", 3)
    rng = np.random.default_rng(3)
    keys = np.sort(rng.integers(0, 2**40, 500, dtype=np.uint64))
    q = rng.integers(0, 2**40, 1001, dtype=np.uint64)
    for side in ("left", "right"):
        got = lookup.find_sorted(keys, q, side)
        np.testing.assert_array_equal(got, np.searchsorted(keys, q, side))
