"""Integerisation laws (LRR, SYS) and the layer-1 id law with collision re-derivation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine_core.segments.ids as ids_mod
from engine_core.errors import EngineError
from engine_core.kernels.integerise import lrr_integerise, sys_batch_nb, sys_integerise
from engine_core.segments.ids import mint_ids

weights = st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=80).filter(
    lambda w: sum(w) > 0
)


@given(st.integers(0, 100_000), weights, st.floats(2.0**-53, 1 - 2.0**-53))
@settings(max_examples=300, deadline=None)
def test_sys_sums_and_bounds(total, w, u):
    w = np.array(w)
    n = sys_integerise(total, w, u)
    q = total * w / w.sum()
    assert n.sum() == total
    assert np.all(np.abs(n - q) < 1 + 1e-9 * np.maximum(1, q))
    assert np.all(n[w == 0] == 0)


def test_sys_pinned_last_unit_at_extreme_u():
    # layer1 §0.5: R = 2, u = 1 − 2^-53 must still place every unit
    n = sys_integerise(2, np.array([0.5, 0.5, 0.5, 0.5]), 1 - 2.0**-53)
    assert n.sum() == 2


def test_sys_is_unbiased_for_small_n():
    # P(⌈q_i⌉) = r_i: with N ≪ items every item gets its share of the leftovers on average
    w = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    us = (np.arange(20_000) + 0.5) / 20_000
    counts = np.array([sys_integerise(3, w, u) for u in us])
    assert np.allclose(counts.mean(axis=0), 3 * w / w.sum(), atol=1e-3)


def test_sys_batch_matches_single():
    w = np.array([3.0, 1.0, 1.0, 2.0, 5.0, 0.5])
    offsets = np.array([0, 3, 6], dtype=np.int64)
    totals = np.array([7, 4], dtype=np.int64)
    u = np.array([0.3, 0.9])
    flat = sys_batch_nb(totals, w, offsets, u)
    assert list(flat[:3]) == list(sys_integerise(7, w[:3], 0.3))
    assert list(flat[3:]) == list(sys_integerise(4, w[3:], 0.9))


@given(st.integers(0, 10_000), weights)
@settings(max_examples=200, deadline=None)
def test_lrr_sums_and_bounds(total, w):
    w = np.array(w)
    n = lrr_integerise(total, w)
    q = total * w / w.sum()
    assert n.sum() == total and np.all(np.abs(n - q) < 1 + 1e-9 * np.maximum(1, q))


def test_lrr_ties_go_to_larger_weight_then_lower_index():
    assert list(lrr_integerise(1, np.array([1.0, 1.0, 1.0]))) == [1, 0, 0]
    assert list(lrr_integerise(2, np.array([1.0, 1.0, 1.0]))) == [1, 1, 0]


def test_ids_are_uint64_nonzero_and_law_exact():
    import hashlib

    from engine_core.identity import le64, uer

    mf = "ab" * 32
    ids, retries = mint_ids("merchant", mf, 42, [("DE", "0"), ("DE", "1"), ("FR", "0")], state="t")
    h = hashlib.sha256(
        uer("fw.l1.id") + uer("merchant") + uer(mf) + le64(42) + uer("DE") + uer("0")
    ).digest()
    assert int(ids[0]) == int.from_bytes(h[:8], "big") and retries == 0
    assert ids.dtype == np.uint64 and len(set(ids.tolist())) == 3


def test_collisions_are_rederived_and_reported(monkeypatch):
    real = ids_mod._h64

    def fake(prefix, fields):  # every base id collides; retries "r1", "r2" separate them
        return 7 if not fields[-1].startswith("r") else real(prefix, fields)

    monkeypatch.setattr(ids_mod, "_h64", fake)
    ids, retries = mint_ids(
        "site", "cd" * 32, 1, [("1", "DE", "1"), ("1", "DE", "2"), ("1", "DE", "3")], state="1A.S4"
    )
    assert ids[0] == 7 and len(set(ids.tolist())) == 3 and retries == 1 + 1
    monkeypatch.setattr(ids_mod, "_h64", lambda prefix, fields: 9)
    with pytest.raises(EngineError) as e:
        mint_ids("site", "cd" * 32, 1, [("a",), ("b",)], state="1A.S4")
    assert e.value.full_code == "1A.S4.ID_COLLISION_UNRESOLVED"
