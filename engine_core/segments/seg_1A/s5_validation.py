"""1A.S5 — validation bundle: every 1A check over the published files (layer1 §0.8)."""

from __future__ import annotations

from engine_core.context import RunContext, StateResult
from engine_core.segments.common import run_validation
from engine_core.segments.seg_1A.checks import CHECKS
from engine_core.segments.state_io import open_state


def run(ctx: RunContext) -> StateResult:
    open_state(ctx, "1A.S5")  # the sealed set re-verified; reads confined to the declaration
    return run_validation(ctx, "1A", "S5", CHECKS)
