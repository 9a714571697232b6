"""2A.S0 — gate: verify 1A and 1B HashGates; seal their outputs, tzdata, the finder data and
the policies.

The seal list is derived from the states' declarations (``seg_2A/__init__.py``)."""

from __future__ import annotations

from engine_core.context import RunContext, StateResult
from engine_core.segments.sealing import gate
from engine_core.segments.state_io import open_state

STATE = "2A.S0"


def run(ctx: RunContext) -> StateResult:
    open_state(ctx, STATE)
    return gate(ctx)
