"""Allocation laws of layer3 L3.4: exact sums, caps, floors, determinism, typed failures."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine_core.errors import EngineError
from engine_core.kernels.alloc import (
    capped_multinomial,
    capped_multinomial_cells,
    exact_subset,
    exact_subset_cells,
    lrr,
)

STREAM = (0x1234_5678_9ABC_DEF0, 7, 11)
weights = st.lists(st.floats(0.0, 1e6, allow_nan=False), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10_000), weights, st.randoms(use_true_random=False))
def test_lrr_sums_to_n_and_stays_within_one_of_the_quota(n, x, rnd):
    x = np.array(x)
    tb = np.array([rnd.random() for _ in x])
    if n > 0 and x.sum() == 0:
        with pytest.raises(EngineError, match="ALLOC_EMPTY_WEIGHTS"):
            lrr(n, x, tb)
        return
    c = lrr(n, x, tb)
    assert c.sum() == n and (c >= 0).all()
    if n:
        q = n * x / x.sum()
        assert (np.abs(c - q) < 1 + 1e-9).all()


def test_lrr_ties_go_to_the_smallest_tie_break():
    assert lrr(10, [1, 1, 1], [0.3, 0.1, 0.2]).tolist() == [3, 4, 3]
    assert lrr(2, [1, 1, 1], [0, 1, 2]).tolist() == [1, 1, 0]  # tb = key


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 400),
    st.lists(
        st.tuples(st.floats(0.0, 100.0), st.integers(0, 30), st.integers(0, 2)),
        min_size=1,
        max_size=30,
    ),
    st.booleans(),
    st.integers(0, 2**64 - 1),
)
def test_capped_multinomial_sums_caps_floors(n, owners, base_one, key):
    w = np.array([o[0] for o in owners])
    cap = np.array([o[1] for o in owners])
    floors = np.minimum(np.array([o[2] for o in owners]), cap)
    stream = (key, 3, 5)
    try:
        c, big_n = capped_multinomial(n, w, cap, floors, base_one, stream)
    except EngineError as e:
        assert e.code.endswith(("CAPACITY_INFEASIBLE", "ALLOC_EMPTY_WEIGHTS"))
        room = (cap - floors)[w > 0].sum()
        assert room < max(n, floors.sum()) - floors.sum() or w.sum() == 0
        return
    assert big_n == max(n, int(floors.sum()))
    assert c.sum() == big_n
    assert (c <= cap).all() and (c >= floors).all()
    assert (c[w == 0] == floors[w == 0]).all()  # zero weight receives only its floor
    again, _ = capped_multinomial(n, w, cap, floors, base_one, stream)
    assert (again == c).all()  # determinism


def test_water_filling_places_the_overflow_of_a_full_heavy_owner():
    # the unfixed law re-offers the last unit to the full owner forever
    c, big_n = capped_multinomial(21, [100, 1], [20, 5], stream=STREAM)
    assert c.tolist() == [20, 1] and big_n == 21


def test_capacity_of_zero_weight_owners_cannot_be_used():
    with pytest.raises(EngineError, match="CAPACITY_INFEASIBLE"):
        capped_multinomial(10, [1.0, 0.0], [5, 100], stream=STREAM)


def test_base_one_gives_every_weighted_owner_one_unit_first():
    w = np.ones(50)
    w[::7] = 0.0
    c, _ = capped_multinomial(int((w > 0).sum()), w, np.full(50, 3), base_one=True, stream=STREAM)
    assert (c[w > 0] == 1).all() and (c[w == 0] == 0).all()


def test_floors_raise_n():
    c, big_n = capped_multinomial(2, [1, 1, 1], [3, 3, 3], floors=[1, 1, 1], stream=STREAM)
    assert big_n == 3 and c.tolist() == [1, 1, 1]


def test_capped_multinomial_follows_the_weights():
    # 10^5 units over weights 1:2:7 with ample caps: shares match within 4 s.d.
    c, _ = capped_multinomial(100_000, [1, 2, 7], [10**6] * 3, stream=STREAM)
    p = np.array([0.1, 0.2, 0.7])
    sd = np.sqrt(100_000 * p * (1 - p))
    assert (np.abs(c - 100_000 * p) < 4 * sd).all()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(0.0, 10.0), min_size=1, max_size=50),
    st.integers(0, 50),
    st.randoms(use_true_random=False),
)
def test_exact_subset_takes_exactly_k_positive_weight_items(w, k, rnd):
    w = np.array(w)
    u = np.array([rnd.uniform(1e-12, 1 - 1e-12) for _ in w])
    if k > (w > 0).sum():
        with pytest.raises(EngineError, match="CAPACITY_INFEASIBLE"):
            exact_subset(k, w, u)
        return
    idx = exact_subset(k, w, u)
    assert len(idx) == k == len(set(idx.tolist()))
    assert (w[idx] > 0).all()


def test_exact_subset_inclusion_follows_weights():
    # Efraimidis–Spirakis with k = 1 picks item i with probability w_i / Σw
    rng = np.random.default_rng(3)
    w = np.array([1.0, 3.0])
    picks = [int(exact_subset(1, w, rng.uniform(size=2))[0]) for _ in range(20_000)]
    assert abs(np.mean(picks) - 0.75) < 0.015


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 300),
    st.lists(st.floats(0.01, 50.0), min_size=1, max_size=20),
    st.integers(0, 2**64 - 1),
)
def test_capped_multinomial_unit_owners_match_counts(n, w, key):
    cap = np.full(len(w), max(1, (n // len(w)) + 3))
    c, big_n, owner = capped_multinomial(n, w, cap, stream=(key, 1, 2), units=True)
    assert owner.shape == (big_n,) and (owner >= 0).all()
    assert np.bincount(owner, minlength=len(w)).tolist() == c.tolist()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.0, 10.0), st.integers(0, 20)), min_size=1, max_size=30),
    st.integers(0, 300),
    st.randoms(use_true_random=False),
)
def test_lrr_capped_respects_caps_and_sums(items, n, rnd):
    from engine_core.kernels.alloc import lrr_capped

    x = np.array([i[0] for i in items])
    cap = np.array([i[1] for i in items])
    tb = np.array([rnd.random() for _ in items])
    if n > cap[x > 0].sum():
        with pytest.raises(EngineError, match="CAPACITY_INFEASIBLE"):
            lrr_capped(n, x, cap, tb)
        return
    c = lrr_capped(n, x, cap, tb)
    assert c.sum() == n and (c <= cap).all() and (c[x == 0] == 0).all()


def test_sys_capped_is_unbiased_where_lrr_is_not():
    """Sub-unit quotas (the 6A role cells): over many starts SYS gives each item its quota
    on average; LRR always gives the leftover units to the largest quotas."""
    from engine_core.kernels.alloc import sys_capped

    x = np.array([4.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.2])
    q = 3 * x / x.sum()
    mean = np.mean(
        [sys_capped(3, x, np.full(10, 5), u) for u in np.linspace(0.001, 0.999, 500)], axis=0
    )
    assert np.abs(mean - q).max() < 0.01
    assert lrr(3, x, np.arange(10.0)).tolist() == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(1, 12), st.booleans()), max_size=12),
    st.integers(0, 2**31),
)
def test_cells_batch_equals_one_call_per_cell_for_any_worker_count(cells, seed):
    rng = np.random.default_rng(seed)
    sizes = [n for _, n, _ in cells]
    bounds = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    w = rng.random(int(bounds[-1])) + 0.01
    cap = rng.integers(1, 6, int(bounds[-1]))
    floors = np.minimum(rng.integers(0, 2, int(bounds[-1])), cap)
    totals = np.array(
        [min(t, int(cap[bounds[i] : bounds[i + 1]].sum())) for i, (t, _, _) in enumerate(cells)],
        np.int64,
    )
    active = np.array([a for *_, a in cells], bool)
    streams = np.array([(seed + i, i, 3 * i) for i in range(len(cells))], np.uint64).reshape(-1, 3)
    where = [f"cell {i}" for i in range(len(cells))]
    want_cnt = np.zeros(int(bounds[-1]), np.int64)
    want_n = np.zeros(len(cells), np.int64)
    for i in np.flatnonzero(active):
        sl = slice(bounds[i], bounds[i + 1])
        c, n = capped_multinomial(
            int(totals[i]), w[sl], cap[sl], floors[sl], False, tuple(int(v) for v in streams[i])
        )
        want_cnt[sl], want_n[i] = c, n
    for workers in (1, 2, 3):
        cnt, big_n = capped_multinomial_cells(
            totals, w, cap, floors, bounds, active, False, streams,
            workers=workers, state="T", where=where,
        )  # fmt: skip
        np.testing.assert_array_equal(cnt, want_cnt)
        np.testing.assert_array_equal(big_n, want_n)


def test_cells_batch_names_the_first_failing_cell():
    bounds = np.array([0, 2, 4, 6])
    w = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 0.0])  # cells 1 and 2 have no weight
    with pytest.raises(EngineError, match="ALLOC_EMPTY_WEIGHTS.*cell 1"):
        capped_multinomial_cells(
            np.array([1, 1, 1]), w, np.full(6, 5), np.zeros(6, np.int64), bounds,
            np.ones(3, bool), False, np.zeros((3, 3), np.uint64),
            workers=2, state="T", where=["cell 0", "cell 1", "cell 2"],
        )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=10), st.integers(0, 2**31)
)
def test_subset_cells_equal_one_call_per_cell(cells, seed):
    rng = np.random.default_rng(seed)
    sizes = [n for n, _ in cells]
    bounds = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    w = rng.random(int(bounds[-1])) * (rng.random(int(bounds[-1])) > 0.2)
    u = rng.random(int(bounds[-1])) * 0.98 + 0.01
    ks = np.array(
        [min(k, int((w[bounds[i] : bounds[i + 1]] > 0).sum())) for i, (_, k) in enumerate(cells)],
        np.int64,
    )
    want = [
        bounds[i]
        + exact_subset(int(ks[i]), w[bounds[i] : bounds[i + 1]], u[bounds[i] : bounds[i + 1]])
        for i in range(len(cells))
    ]
    want = np.concatenate(want) if want else np.zeros(0, np.int64)
    for workers in (1, 2, 4):
        got, status = exact_subset_cells(ks, w, u, bounds, workers=workers)
        np.testing.assert_array_equal(got, want)
        assert (status == 0).all()
