"""Segment 3A — zone allocation (layer1 §5)."""

from engine_core.segments.sealing import gate_state
from engine_core.segments.seg_3A import (
    s1_country_zone_priors,
    s2_zone_alloc,
    s3_universe_hash,
    s4_validation,
)
from engine_core.statespec import Segment, State, meta

SEGMENT = Segment(
    "3A",
    upstream=("1A", "1B", "2A", "2B"),
    states=(
        State("S0", gate_state),
        State("S1", s1_country_zone_priors.run, reads=("s1_tile_index",)),
        State(
            "S2",
            s2_zone_alloc.run,
            reads=(
                "s1_country_zone_priors",
                "s1_site_weights",
            ),
        ),
        State(
            "S3",
            s3_universe_hash.run,
            reads=(
                "zone_alloc",
                meta("s1_country_zone_priors"),
                meta("validation_bundle_2B"),
            ),
        ),
        State(
            "S4",
            s4_validation.run,
            reads=(
                "outlet_catalogue",
                "s2_alias_index",
                "site_timezones",
                meta("validation_bundle_2B"),
            ),
            validation=True,
        ),
    ),
)
