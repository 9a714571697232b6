"""Layer-2 kernels: exact alias picks, tz offset lookup, the latent OU law (layer2 §1.7, §3.3)."""

from fractions import Fraction

import numpy as np
import pytest

from engine_core.kernels.arrivals import tz_offset_us
from engine_core.kernels.latent import MODEL_IID, MODEL_OU, latent_nb
from engine_core.rng.alias import alias_pick_csr_nb as _pick
from engine_core.rng.alias import build_alias_table


def test_alias_pick_equals_the_exact_rational_rule():
    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 7, 64):
        w = rng.random(n) + 0.01
        t = build_alias_table(np.arange(n), w)
        q, alias = t.q.astype(np.uint64), t.alias.astype(np.uint32)
        xs = np.concatenate(
            [rng.integers(0, 2**64, 3000, dtype=np.uint64), np.array([0, 2**64 - 1], np.uint64)]
        )
        for x in xs.tolist():
            u = Fraction(2 * (x >> 12) + 1, 2**53)  # U(x) exactly
            j = int(u * n)
            frac = u * n - j
            want = j if frac < Fraction(int(q[j]), 2**32) else int(alias[j])
            assert _pick(np.uint64(x), q, alias, 0, n) == want


def test_tz_offset_lookup_matches_the_cache(tmp_path):
    from engine_core.kernels import tzcache

    zones = ["America/St_Johns", "Australia/Lord_Howe", "Europe/Berlin", "UTC"]
    s, e = 1_767_225_600, 1_767_225_600 + 400 * 86_400
    c = tzcache.build(zones, s - 86_400, e + 86_400, 3600, "2026f")
    start = np.concatenate([[0], np.cumsum(c.count)]).astype(np.int64)
    trans = c.instants.astype(np.int64) * 1_000_000
    rng = np.random.default_rng(5)
    t = rng.integers(s * 1_000_000, e * 1_000_000, 20_000)
    t = np.concatenate([t, trans, trans - 1])
    for z in range(len(zones)):
        want = c.offset_at(np.full(t.shape[0], z), np.floor_divide(t, 1_000_000)).astype(np.int64)
        got = np.array(
            [tz_offset_us(z, int(x), start, c.initial_offset, trans, c.offsets) for x in t]
        )
        assert np.array_equal(got, want * 1_000_000)


@pytest.mark.parametrize("model", [MODEL_OU, MODEL_IID])
def test_latent_field_is_stationary_with_mean_one(model):
    g, h, sigma, length = 400, 2000, 0.3, 10.0
    rng = np.random.default_rng(11)
    key = rng.integers(0, 2**64, g, dtype=np.uint64)
    hi = rng.integers(0, 2**63, g, dtype=np.uint64)
    lo = rng.integers(0, 2**63, g, dtype=np.uint64)
    z, xi, cl = np.empty((g, h)), np.empty((g, h)), np.empty((g, h), bool)
    latent_nb(key, hi, lo, np.full(g, sigma), np.full(g, length), h, model, 1e-9, 1e9, z, xi, cl)
    assert abs(z.var() / sigma**2 - 1) < 0.02  # OU keeps the stationary variance σ²
    assert abs(xi.mean() - 1) < 0.005  # the mean-one transform
    lag1 = np.mean(z[:, 1:] * z[:, :-1]) / z.var()
    want = np.exp(-1 / length) if model == MODEL_OU else 0.0
    assert abs(lag1 - want) < 0.02


def test_pair_index_finds_rows_and_rejects_absent_pairs():
    from engine_core.kernels.lookup import PairIndex

    rng = np.random.default_rng(2)
    a = rng.integers(0, 50, 5000, dtype=np.uint64)
    b = rng.integers(0, 2**64, 5000, dtype=np.uint64)
    idx = PairIndex(a, b)
    rows = rng.permutation(5000)[:1000]
    assert np.array_equal(idx.find(a[rows], b[rows]), rows)
    assert (idx.find(a[rows] + np.uint64(100), b[rows]) == -1).all()
