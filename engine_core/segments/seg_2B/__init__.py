"""Segment 2B — routing weights, alias tables, day effects (layer1 §4)."""

from engine_core.segments.sealing import gate_state
from engine_core.segments.seg_2B import (
    s1_site_weights,
    s2_alias_tables,
    s3_day_effects,
    s4_group_weights,
    s5_validation,
)
from engine_core.statespec import Segment, State

SEGMENT = Segment(
    "2B",
    upstream=("1A", "1B", "2A"),
    states=(
        State("S0", gate_state),
        State(
            "S1",
            s1_site_weights.run,
            reads=(
                "site_timezones",
                "site_locations",
                "s1_tile_index",
                "routing_weights_2B",
                "rng_2B",
            ),
        ),
        State(
            "S2",
            s2_alias_tables.run,
            reads=(
                "s1_site_weights",
                "alias_layout_layer1",
            ),
        ),
        State(
            "S3",
            s3_day_effects.run,
            reads=(
                "site_timezones",
                "merchant_universe",
                "routing_weights_2B",
                "rng_2B",
                "horizon_world",
            ),
        ),
        State(
            "S4",
            s4_group_weights.run,
            reads=(
                "s1_site_weights",
                "s3_day_effects",
            ),
        ),
        State(
            "S5",
            s5_validation.run,
            reads=(
                "merchant_universe",
                "routing_weights_2B",
                "site_timezones",
                "horizon_world",
            ),
            validation=True,
        ),
    ),
)
