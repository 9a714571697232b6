"""2B.S0 — gate: verify 1A, 1B, 2A; seal their outputs and 2B's policies."""

from __future__ import annotations

from engine_core.context import RunContext, StateResult
from engine_core.segments.common import run_gate, seal_policy, seal_upstream, verify_upstream

SEGMENT = "2B"


def run(ctx: RunContext) -> StateResult:
    up = verify_upstream(ctx, SEGMENT, ["1A", "1B", "2A"])
    inputs = [
        seal_upstream(ctx, "merchant_universe", up["1A"], ("S3",)),
        seal_upstream(ctx, "site_locations", up["1B"], ("S1",)),
        seal_upstream(ctx, "s1_tile_index", up["1B"], ("S1",)),
        seal_upstream(ctx, "site_timezones", up["2A"], ("S1", "S2", "S3", "S4")),
        seal_policy(ctx, "world_horizon", ("S3", "S4")),
        seal_policy(ctx, "routing_weights_2B", ("S1", "S3")),
        seal_policy(ctx, "alias_layout_policy_v1", ("S2",)),
        seal_policy(ctx, "rng_2B", ("S1", "S3")),
    ]
    return run_gate(ctx, SEGMENT, up, inputs)
