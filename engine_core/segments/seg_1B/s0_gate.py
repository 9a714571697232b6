"""1B.S0 — gate: verify 1A's HashGate, seal 1A outputs, the city file, the finder data and
the policies.

The seal list is derived from the states' declarations (``seg_1B/__init__.py``)."""

from __future__ import annotations

from engine_core.context import RunContext, StateResult
from engine_core.segments.sealing import gate
from engine_core.segments.state_io import open_state

STATE = "1B.S0"


def run(ctx: RunContext) -> StateResult:
    open_state(ctx, STATE)
    return gate(ctx)
