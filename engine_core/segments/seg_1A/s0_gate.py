"""1A.S0 — gate and sealed inputs (SF, RNG-free): no upstream; seals reference data and
policies for S1–S3.

The seal list is derived from the states' declarations (``seg_1A/__init__.py``)."""

from __future__ import annotations

from engine_core.context import RunContext, StateResult
from engine_core.segments.sealing import gate
from engine_core.segments.state_io import open_state

STATE = "1A.S0"


def run(ctx: RunContext) -> StateResult:
    open_state(ctx, STATE)
    return gate(ctx)
