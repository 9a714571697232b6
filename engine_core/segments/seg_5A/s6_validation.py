"""5A.S6 — validation bundle per scenario: checks A1–A14 over the published 5A files."""

from __future__ import annotations

from engine_core.context import RunContext, StateResult
from engine_core.segments.common import run_validation
from engine_core.segments.seg_5A.checks import CHECKS
from engine_core.segments.state_io import open_state


def run(ctx: RunContext) -> StateResult:
    open_state(ctx, "5A.S6")  # the sealed set re-verified; reads confined to the declaration
    return run_validation(ctx, "5A", "S6", CHECKS)
