"""3B.S0 — gate: verify 1A–3A; seal rows, the 2B alias artefacts (META) and 3B's policies."""

from __future__ import annotations

from engine_core.context import RunContext, StateResult
from engine_core.gates import METADATA_ONLY
from engine_core.segments.common import run_gate, seal_policy, seal_upstream, verify_upstream

SEGMENT = "3B"


def run(ctx: RunContext) -> StateResult:
    up = verify_upstream(ctx, SEGMENT, ["1A", "1B", "2A", "2B", "3A"])
    inputs = [
        seal_upstream(ctx, "merchant_universe", up["1A"], ("S1",)),
        seal_upstream(ctx, "outlet_catalogue", up["1A"], ("S1",)),
        seal_upstream(ctx, "site_timezones", up["2A"], ("S1",)),
        seal_upstream(ctx, "site_locations", up["1B"], ("S1", "S2")),
        seal_upstream(ctx, "s1_country_reference", up["1A"], ("S1", "S2")),
        seal_upstream(ctx, "s1_tile_index", up["1B"], ("S2",)),
        seal_upstream(ctx, "zone_alloc_universe_hash", up["3A"], ("S4",)),
        seal_upstream(ctx, "s2_alias_blob", up["2B"], ("S4",), scope=METADATA_ONLY),
        seal_upstream(ctx, "s2_alias_index", up["2B"], ("S4",), scope=METADATA_ONLY),
        seal_policy(ctx, "mcc_channel_rules_3B", ("S1",)),
        seal_policy(ctx, "virtual_edges_3B", ("S2",)),
        seal_policy(ctx, "alias_layout_policy_v1", ("S3",)),
        seal_policy(ctx, "rng_3B", ("S1", "S2")),
    ]
    return run_gate(ctx, SEGMENT, up, inputs)
