"""The exact fraud budget of 6B.S2 (layer3 §4.3), RNG-free.

Plan: ``F0 = round_half_even(r·L)`` split over the typologies with a non-empty pool by LRR
(tie-break by canonical position). Settle, once the injected rows ``I`` are known:
``F = round_half_even(r·(L + I))`` and ``Δ = F − Σ F_t``. The absorber takes ``Δ`` as extra
conversion slots (Δ > 0, if they resolve) or drops its last ``|Δ|`` conversions (Δ < 0, if it
has them); conversions leave ``L + I`` unchanged, so one round settles it. Otherwise ``x``
injection slots absorb it, ``x`` the integer with ``Σ F_t + x = round_half_even(r·(L + I + x))``:
start at the closed form ``round_half_even((r·(L + I) − Σ F_t)/(1 − r))`` and step by one —
``g(x) = Σ F_t + x − round_half_even(r·(L + I + x))`` rises by 0 or 1 per unit of x, so the
walk is monotone and ends (r < 1)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine_core.errors import EngineError
from engine_core.kernels.alloc import lrr, round_half_even

STATE = "6B.S2"
MAX_STEPS = 64  # the closed form lands exactly in practice; a walk this long is a bug


@dataclass(frozen=True)
class Plan:
    rate: float
    legit_rows: int  # L
    f0: int
    planned: dict[str, int]  # F_t per typology in canonical order (0 for skipped)
    skipped: tuple[str, ...]  # typologies with an empty pool (F_t = 0, outside the LRR)


@dataclass(frozen=True)
class Settlement:
    fraud_rows: int  # F, realised exactly
    total_rows: int  # L + I + x
    delta: int  # Δ = F(L + I) − Σ F_t before absorption
    absorber_conversions: int  # conversion slots added (> 0) or removed (< 0) on the absorber
    injection_delta: int  # x: injection slots added (> 0) or removed (< 0)
    steps: int  # unit steps after the closed form (0 in practice)


def plan(rate: float, legit_rows: int, shares: dict[str, float], empty=()) -> Plan:
    """``F_t = LRR(F0, share)`` over the typologies whose pool is not empty."""
    if not 0 <= rate < 1:
        raise EngineError("FRAUD_BUDGET_UNSTABLE", STATE, f"fraud rate {rate!r} not in [0, 1)")
    f0 = round_half_even(rate * legit_rows)
    skipped = tuple(t for t in shares if t in set(empty))
    active = [t for t in shares if t not in skipped]
    planned = dict.fromkeys(shares, 0)
    if active:
        w = np.array([float(shares[t]) for t in active])
        counts = lrr(f0, w, np.arange(w.size, dtype=np.float64), state=STATE, where="typologies")
        planned.update(zip(active, (int(c) for c in counts), strict=True))
    elif f0:
        raise EngineError("POOL_EMPTY", STATE, "every typology has an empty target pool")
    return Plan(rate, legit_rows, f0, planned, skipped)


def settle(
    p: Plan,
    injected_rows: int,
    *,
    absorber_room: int,
    absorber_conversions: int,
    injection_slots: int,
) -> Settlement:
    """Settle the budget after conversion resolution. ``absorber_room``: extra conversion
    slots the absorber can still resolve; ``absorber_conversions``: its conversion slots
    (what a negative Δ can remove); ``injection_slots``: injected rows that may be removed."""
    r, base = p.rate, p.legit_rows + injected_rows
    total_f = sum(p.planned.values())
    f = round_half_even(r * base)
    delta = f - total_f
    if (0 <= delta <= absorber_room) or (delta < 0 and -delta <= absorber_conversions):
        return Settlement(f, base, delta, delta, 0, 0)
    x = round_half_even((r * base - total_f) / (1.0 - r))
    steps = 0
    while True:
        g = total_f + x - round_half_even(r * (base + x))
        if g == 0:
            break
        x += -1 if g > 0 else 1
        steps += 1
        if steps > MAX_STEPS:
            raise EngineError(
                "FRAUD_BUDGET_UNSTABLE", STATE, f"no injection count settles r={r!r}, L+I={base}"
            )
    if -x > injection_slots:
        raise EngineError(
            "FRAUD_BUDGET_UNSTABLE",
            STATE,
            f"settling needs {-x} fewer injected rows, only {injection_slots} exist "
            f"(r={r!r}, L+I={base}, planned {total_f})",
        )
    return Settlement(total_f + x, base + x, delta, 0, x, steps)
