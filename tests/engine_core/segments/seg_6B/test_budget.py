"""The §4.3 closed-form fraud budget: exact over a grid of rates up to 0.5 (absorber and
injection paths, Δ < 0, no absorber capacity, skipped typologies) and its failure codes."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from engine_core.errors import EngineError
from engine_core.kernels.alloc import round_half_even
from engine_core.segments.seg_6B import budget

ROOT = Path(__file__).resolve().parents[4]
SHARES = yaml.safe_load((ROOT / "policies/6B/fraud_campaigns.yaml").read_text())["typology_share"]


def test_plan_splits_f0_exactly_by_share():
    p = budget.plan(0.002, 11_000_000, SHARES)
    assert p.f0 == 22_000 and sum(p.planned.values()) == 22_000
    for t, s in SHARES.items():
        assert abs(p.planned[t] - s * p.f0) < 1  # largest remainder: within one of the quota


def test_skipped_typologies_get_zero_and_the_rest_share_f0():
    p = budget.plan(0.01, 60_000, SHARES, empty={"MERCHANT_COLLUSION"})
    assert p.skipped == ("MERCHANT_COLLUSION",) and p.planned["MERCHANT_COLLUSION"] == 0
    assert sum(p.planned.values()) == p.f0 == 600


@pytest.mark.parametrize("rate", [0.0, 0.0015, 0.002, 0.0133, 0.05, 0.2, 0.35, 0.5 - 1e-9])
def test_settlement_is_exact_over_a_grid(rate):
    rng = np.random.default_rng(11)
    for legit in rng.integers(1_000, 10**9, 200):
        p = budget.plan(rate, int(legit), SHARES)
        planned = sum(p.planned.values())
        for inj in (0, int(legit) // 50, int(legit) // 7):
            # absorber has room: Δ lands on conversions, rows unchanged
            s = budget.settle(
                p, inj, absorber_room=10**12, absorber_conversions=10**12, injection_slots=0
            )
            assert s.fraud_rows == round_half_even(rate * (legit + inj)) == planned + s.delta
            assert s.total_rows == legit + inj and s.injection_delta == 0
            # no absorber capacity: x injection slots settle it exactly
            s = budget.settle(
                p, inj, absorber_room=0, absorber_conversions=0, injection_slots=10**12
            )
            assert s.fraud_rows == planned + s.injection_delta
            assert s.fraud_rows == round_half_even(rate * s.total_rows)
            assert s.steps <= 1


def test_negative_delta_removes_absorber_conversions():
    # Σ F_t above F(L + I) (I ≥ 0 never causes it; the law still covers it)
    p = budget.plan(0.01, 100_000, SHARES)  # F0 = 1000
    over = budget.Plan(p.rate, p.legit_rows, p.f0, {**p.planned, "STOLEN_CARD_CNP": 302}, ())
    s = budget.settle(over, 0, absorber_room=0, absorber_conversions=5, injection_slots=0)
    assert s.delta == -2 and s.absorber_conversions == -2 and s.fraud_rows == 1000
    # without conversions to drop, injected rows go instead (x < 0) and F follows L + I + x
    s = budget.settle(over, 400, absorber_room=0, absorber_conversions=0, injection_slots=400)
    assert s.fraud_rows == 1002 + s.injection_delta == round_half_even(0.01 * s.total_rows)


def test_removing_more_injections_than_exist_is_unstable():
    p = budget.plan(0.2, 1_000, SHARES)  # F0 = 200
    with pytest.raises(EngineError, match="6B.S2.FRAUD_BUDGET_UNSTABLE.*fewer injected rows"):
        budget.settle(p, -500, absorber_room=0, absorber_conversions=0, injection_slots=3)


def test_a_rate_outside_zero_one_is_refused():
    with pytest.raises(EngineError, match="FRAUD_BUDGET_UNSTABLE"):
        budget.plan(1.0, 10, SHARES)
