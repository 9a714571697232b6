"""The id leak probe (6A-R14 / 6B-R11): passes on keyed-permutation ids at its support
floor, fails on a deliberately leaky fixture (sequential ids, fraud ordinals last)."""

import numpy as np

from engine_core.gates.leak_probe import auc, probe
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


def test_auc_matches_the_rank_definition():
    s = np.array([0.1, 0.4, 0.35, 0.8])
    y = np.array([0, 0, 1, 1])
    assert auc(s, y) == 0.75
