"""2A.S0 — gate: verify 1A and 1B HashGates; seal their outputs, tzdata, the finder data and
the policies."""

from __future__ import annotations

from engine_core.context import RunContext, StateResult
from engine_core.segments.common import (
    run_gate,
    seal_policy,
    seal_refdata,
    seal_upstream,
    verify_upstream,
)
from engine_core.segments.seg_1B.s0_gate import seal_finder_data

SEGMENT = "2A"


def run(ctx: RunContext) -> StateResult:
    up = verify_upstream(ctx, SEGMENT, ["1A", "1B"])
    inputs = [
        seal_upstream(ctx, "site_locations", up["1B"], ("S1",)),
        seal_upstream(ctx, "s1_tile_index", up["1B"], ("S1", "S2")),
        seal_upstream(ctx, "s1_country_reference", up["1A"], ("S1", "S2")),
        seal_refdata("tzdata", "zoneinfo/tzdata.zi", ("S2",), role="tz rules"),
        seal_refdata("tzdata", "zoneinfo/zone.tab", ("S2",)),
        seal_finder_data(("S1",)),
        seal_policy(ctx, "world_horizon", ("S2",)),
        seal_policy(ctx, "civil_time_2A", ("S1", "S2")),
    ]
    return run_gate(ctx, SEGMENT, up, inputs)
