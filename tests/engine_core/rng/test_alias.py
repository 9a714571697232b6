"""Integer-exact alias tables: exact masses, chi-square picks, order independence."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from engine_core.errors import EngineError
from engine_core.rng import build_alias_table
from engine_core.rng.alias import ONE32, lrr_nb
from engine_core.rng.streams import Stream


def masses(t):
    """Exact integer mass each slot receives from the table (units of 2^-32 per column)."""
    m = t.q.astype(object).copy()
    for i in range(t.n):
        if int(t.alias[i]) != i:
            m[int(t.alias[i])] += ONE32 - int(t.q[i])
    return m


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=60))
@settings(max_examples=200, deadline=None)
def test_table_represents_the_lrr_integerisation_exactly(ws):
    w = np.array(ws)
    if not (w > 0).any():
        w[0] = 1.0
    t = build_alias_table(np.arange(w.shape[0]), w)
    a = lrr_nb(np.int64(t.n) * ONE32, w)
    assert sum(a) == t.n * ONE32
    assert list(masses(t)) == [int(x) for x in a]
    # each slot is within one unit of its exact quota, zero weights get nothing
    quota = t.n * ONE32 * w / w.sum()
    assert np.all(np.abs(a - quota) < 1 + 1e-6 * quota)
    assert np.all(a[w == 0] == 0)
    assert np.all(t.q <= ONE32) and np.all(t.prob == t.q / ONE32)


def test_picks_match_weights_chi_square():
    rng = np.random.default_rng(3)
    w = rng.gamma(0.7, size=37)
    w[5] = 0.0
    t = build_alias_table(np.arange(37), w)
    x = Stream(key=5, ctr_hi=0, ctr_lo=0).words(1_000_000)
    picks = t.pick(x)
    obs = np.bincount(picks, minlength=37)
    assert obs[5] == 0
    p = w / w.sum()
    keep = p > 0
    res = stats.chisquare(obs[keep], p[keep] * obs.sum())
    assert res.pvalue > 1e-4


def test_table_is_identical_across_runs_and_input_orders():
    rng = np.random.default_rng(9)
    ids = rng.integers(1, 2**63, size=200, dtype=np.uint64) * np.uint64(2)  # some above 2^63
    w = rng.random(200)
    w[10:20] = w[0]  # ties
    base = build_alias_table(ids, w)
    for seed in range(5):
        perm = np.random.default_rng(seed).permutation(200)
        t = build_alias_table(ids[perm], w[perm])
        assert np.array_equal(t.q, base.q) and np.array_equal(t.alias, base.alias)
        assert np.array_equal(ids[perm][t.order], ids[base.order])


def test_uniform_weights_give_identity_table():
    t = build_alias_table(np.arange(8), np.ones(8))
    assert np.all(t.q == ONE32) and np.array_equal(t.alias, np.arange(8, dtype=np.uint32))


def test_bad_weights_are_typed_errors():
    for w in ([0.0, 0.0], [1.0, np.nan], [1.0, -1.0], []):
        with pytest.raises(EngineError):
            build_alias_table(np.arange(len(w)), np.array(w))
