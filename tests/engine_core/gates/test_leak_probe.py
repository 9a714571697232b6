"""The id leak probe (6A-R14 / 6B-R11): passes on keyed-permutation ids at its support
floor, fails on a deliberately leaky fixture (sequential ids, fraud ordinals last)."""

import numpy as np
from scipy.stats import ks_2samp, mannwhitneyu

from engine_core.gates.leak_probe import (
    features,
    fit_logistic,
    grouped_auc,
    ks_distance,
    ks_labelled,
    probe,
)
from engine_core.identity import entity_ids, id_keys


def test_random_ids_pass_at_the_support_floor():
    ids = entity_ids(id_keys("0" * 64, 7, "party"), 0, 20_000)
    y = np.zeros(ids.size, bool)
    y[-200:] = True  # 200 positives: the floor; the last ordinals, as a leaky engine would
    r = probe(ids, y)
    assert r.passed, r


def test_sequential_ids_with_fraud_last_fail():
    ids = np.arange(1, 20_001, dtype=np.uint64) << np.uint64(44)  # ordinal in the top bits
    y = np.zeros(ids.size, bool)
    y[-400:] = True
    r = probe(ids, y)
    assert not r.passed and r.ks > r.ks_max


def test_grouped_auc_is_the_mann_whitney_statistic_with_ties():
    rng = np.random.default_rng(3)
    score = rng.integers(0, 6, 500).astype(float)  # many ties
    y = rng.random(500) < 0.3
    u = mannwhitneyu(score[y], score[~y]).statistic  # ties count one half
    us, inv = np.unique(score, return_inverse=True)
    pos = np.bincount(inv[y], minlength=us.size).astype(float)
    neg = np.bincount(inv[~y], minlength=us.size).astype(float)
    assert grouped_auc(us, pos, neg) == u / (y.sum() * (~y).sum())


def test_grouped_fit_equals_the_per_row_fit():
    rng = np.random.default_rng(5)
    cells = rng.integers(0, 256, 4000)
    y = rng.random(4000) < 0.05 + 0.2 * (cells % 16 == 3)
    x_rows = features(cells)
    beta_rows = fit_logistic(x_rows, y.astype(float), np.ones(cells.size))
    n = np.bincount(cells, minlength=256).astype(float)
    pos = np.bincount(cells[y], minlength=256).astype(float)
    beta_cells = fit_logistic(features(np.arange(256)), pos, n)
    np.testing.assert_allclose(beta_cells, beta_rows, rtol=1e-8, atol=1e-8)


def test_one_pass_ks_equals_two_sample_ks_with_ties():
    rng = np.random.default_rng(5)
    for n, levels in ((1, 3), (50, 4), (2000, 40), (5000, 10**9)):
        u = rng.integers(0, levels, n).astype(np.float64) / levels
        y = rng.random(n) < 0.3
        if y.all() or not y.any():
            continue
        want = ks_2samp(u[y], u[~y]).statistic
        assert abs(ks_distance(u[y], u[~y]) - want) < 1e-12
        assert ks_labelled(np.sort(u), y[np.argsort(u, kind="stable")]) == ks_distance(u[y], u[~y])
        assert ks_labelled(u, y) == ks_distance(u[y], u[~y])  # unsorted input
