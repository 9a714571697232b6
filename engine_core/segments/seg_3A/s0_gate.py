"""3A.S0 — gate: verify 1A, 1B, 2A, 2B; seal the upstream rows and the 2B flag (META)."""

from __future__ import annotations

from engine_core.context import RunContext, StateResult
from engine_core.gates import METADATA_ONLY
from engine_core.segments.common import run_gate, seal_policy, seal_upstream, verify_upstream

SEGMENT = "3A"


def run(ctx: RunContext) -> StateResult:
    up = verify_upstream(ctx, SEGMENT, ["1A", "1B", "2A", "2B"])
    inputs = [
        seal_upstream(ctx, "s1_country_reference", up["1A"], ("S1",)),
        seal_upstream(ctx, "s1_tile_index", up["1B"], ("S1",)),
        seal_upstream(ctx, "outlet_catalogue", up["1A"], ("S2",)),
        seal_upstream(ctx, "site_timezones", up["2A"], ("S2",)),
        seal_upstream(ctx, "s1_site_weights", up["2B"], ("S2",)),
        seal_upstream(ctx, "s2_alias_index", up["2B"], ("S2",)),
        seal_upstream(ctx, "validation_bundle_2B", up["2B"], ("S3",), scope=METADATA_ONLY),
        seal_policy(ctx, "zone_alloc_3A", ("S1", "S2")),
    ]
    return run_gate(ctx, SEGMENT, up, inputs)
