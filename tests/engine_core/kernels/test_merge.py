"""The k-way merge (layer3 §4.4 step 1) is exactly ``np.lexsort`` over the concatenated runs,
whatever the window and batch sizes; windows take one contiguous slice per run; ties on ts
are broken by id; empty runs and empty inputs are fine; an unsorted run or a repeated key
stops the merge at the first row that does not rise."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine_core.kernels.merge import KWayMerge, MergeOrderError, merge_order


def _runs(rng, n_runs, max_len, ts_range):
    """Sorted runs with unique ids overall and many equal timestamps across runs."""
    lens = rng.integers(0, max_len + 1, n_runs)
    ids = rng.permutation(np.arange(1, lens.sum() + 1, dtype=np.uint64) * np.uint64(7919))
    ts_runs, id_runs, at = [], [], 0
    for n in lens:
        t = rng.integers(0, ts_range, n).astype(np.int64)
        i = ids[at : at + n]
        at += n
        o = np.lexsort((i, t))
        ts_runs.append(t[o])
        id_runs.append(i[o])
    return ts_runs, id_runs


def _expected(ts_runs, id_runs):
    t = np.concatenate(ts_runs) if ts_runs else np.zeros(0, np.int64)
    i = np.concatenate(id_runs) if id_runs else np.zeros(0, np.uint64)
    run = np.concatenate([np.full(len(x), k) for k, x in enumerate(ts_runs)] or [np.zeros(0)])
    row = np.concatenate([np.arange(len(x)) for x in ts_runs] or [np.zeros(0)])
    o = np.lexsort((i, t))
    return run[o].astype(np.int64), row[o].astype(np.int64)


def _batched(ts, ids, batch):
    for a in range(0, len(ts), batch):
        yield ts[a : a + batch], ids[a : a + batch], (a, len(ts[a : a + batch]))


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 9),
    st.integers(0, 60),
    st.sampled_from([1, 3, 50, 10**9]),
    st.sampled_from([1, 2, 7, 64, 10**6]),
    st.sampled_from([1, 3, 16, 1000]),
)
def test_merge_equals_lexsort(seed, n_runs, max_len, ts_range, window, batch):
    rng = np.random.default_rng(seed)
    ts_runs, id_runs = _runs(rng, n_runs, max_len, ts_range)
    want_run, want_row = _expected(ts_runs, id_runs)
    m = KWayMerge([_batched(t, i, batch) for t, i in zip(ts_runs, id_runs, strict=True)], window)
    runs, rows, emitted = [], [], np.zeros(n_runs, np.int64)
    for k, w in enumerate(m.windows()):
        assert w.index == k and w.first == sum(len(x) for x in runs)
        assert 0 < w.run.size <= window
        # one contiguous slice per run, following the previous window's
        assert np.array_equal(w.start, emitted)
        assert np.array_equal(w.count, np.bincount(w.run, minlength=n_runs))
        for r in range(n_runs):
            mine = w.row[w.run == r]
            assert np.array_equal(mine, w.start[r] + np.arange(w.count[r]))
            # the payload pieces cover exactly those rows
            covered = [a + off + j for (a, _), off, n in w.pieces[r] for j in range(n)]
            assert covered == list(range(w.start[r], w.start[r] + w.count[r]))
        emitted += w.count
        runs.append(w.run)
        rows.append(w.row)
    got_run = np.concatenate(runs) if runs else np.zeros(0, np.int64)
    got_row = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    assert np.array_equal(got_run, want_run) and np.array_equal(got_row, want_row)
    assert np.array_equal(emitted, [len(t) for t in ts_runs])


def test_ties_on_ts_are_broken_by_id():
    ts = [np.array([5, 5, 9]), np.array([5, 5]), np.array([5])]
    ids = [np.array([2, 40, 1], np.uint64), np.array([3, 7], np.uint64), np.array([1], np.uint64)]
    run, row = merge_order(ts, ids)
    got = [int(ids[r][i]) for r, i in zip(run, row, strict=True)]
    assert got == [1, 2, 3, 7, 40, 1]
    assert run.tolist() == [2, 0, 1, 1, 0, 0]


def test_empty_runs_and_empty_input():
    e = (np.zeros(0, np.int64), np.zeros(0, np.uint64))
    run, row = merge_order(
        [e[0], np.array([1, 2]), e[0]], [e[1], np.array([9, 8], np.uint64), e[1]]
    )
    assert run.tolist() == [1, 1] and row.tolist() == [0, 1]
    assert merge_order([e[0], e[0]], [e[1], e[1]])[0].size == 0
    assert merge_order([], [])[0].size == 0
    assert list(KWayMerge([iter([e + (None,)])]).windows()) == []


def test_window_boundaries_do_not_change_the_order():
    rng = np.random.default_rng(7)
    ts_runs, id_runs = _runs(rng, 6, 500, 200)
    full = merge_order(ts_runs, id_runs)
    for window in (1, 13, 999, 10**6):
        got = merge_order(ts_runs, id_runs, window)
        assert np.array_equal(got[0], full[0]) and np.array_equal(got[1], full[1])


@pytest.mark.parametrize("batch", [1, 2, 100])
def test_an_unsorted_run_stops_the_merge(batch):
    ts = [np.array([1, 4, 3, 8]), np.array([2, 6])]
    ids = [np.arange(1, 5, dtype=np.uint64), np.array([10, 11], np.uint64)]
    m = KWayMerge([_batched(t, i, batch) for t, i in zip(ts, ids, strict=True)], window=100)
    with pytest.raises(MergeOrderError) as e:
        list(m.windows())
    assert (e.value.run, e.value.row) == (0, 2) and e.value.position == 3  # 1, 2, 4 | 3


def test_a_repeated_key_stops_the_merge():
    ts = [np.array([1, 5]), np.array([5])]
    ids = [np.array([1, 9], np.uint64), np.array([9], np.uint64)]
    with pytest.raises(MergeOrderError):
        merge_order(ts, ids)
