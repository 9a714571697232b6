"""3B.S0 — gate: verify 1A–3A; seal rows, the 2B alias artefacts (META) and 3B's policies.

The seal list is derived from the states' declarations (``seg_3B/__init__.py``)."""

from __future__ import annotations

from engine_core.context import RunContext, StateResult
from engine_core.segments.sealing import gate
from engine_core.segments.state_io import open_state

STATE = "3B.S0"


def run(ctx: RunContext) -> StateResult:
    open_state(ctx, STATE)
    return gate(ctx)
