"""Segment 5A — arrival intensity surfaces (layer2 §2). RNG-free.

S0 gate · S1 scenario manifest and holiday calendar · S2 weekly shapes · S3 merchant-zone
profiles · S4 overlay factors · S5 DST-exact local and UTC surfaces (``kernels/civil.py``,
``kernels/surface.py``) · S6 validation bundle with checks A1–A14, one bundle per scenario.
"""

from engine_core.segments.seg_5A import (
    s0_gate,
    s1_scenarios,
    s2_shapes,
    s3_profiles,
    s4_state,
    s5_surfaces,
    s6_validation,
)
from engine_core.statespec import Refdata, Segment, State

SEGMENT = Segment(
    "5A",
    upstream=("1A", "1B", "2A", "2B", "3A", "3B"),
    states=(
        State(
            "S0",
            s0_gate.run,
            reads=(
                "zone_alloc",
                "site_timezones",
                "outlet_catalogue",
                "merchant_universe",
                "virtual_classification_3B",
                "tz_timetable_cache",
                "scenarios_5A",
                "horizon_world",
                Refdata("tzdata", kind="package"),
            ),
        ),
        State(
            "S1",
            s1_scenarios.run,
            reads=(
                "s1_country_reference",
                "scenarios_5A",
                "overlays_5A",
                "horizon_world",
                Refdata("holidays", kind="package"),
            ),
        ),
        State(
            "S2",
            s2_shapes.run,
            reads=(
                "s1_country_reference",
                "shapes_5A",
            ),
        ),
        State(
            "S3",
            s3_profiles.run,
            reads=(
                "zone_alloc",
                "merchant_universe",
                "virtual_classification_3B",
                "demand_5A",
                "tz_timetable_cache",
            ),
        ),
        State(
            "S4",
            s4_state.run,
            reads=(
                "merchant_zone_profile_5A",
                "holiday_calendar_5A",
                "tz_timetable_cache",
                "scenarios_5A",
                "shapes_5A",
                "overlays_5A",
                "horizon_world",
            ),
            scenario_scoped=True,
        ),
        State(
            "S5",
            s5_surfaces.run,
            reads=(
                "merchant_zone_profile_5A",
                "class_zone_shape_5A",
                "merchant_zone_overlay_factors_5A",
                "tz_timetable_cache",
                "scenarios_5A",
                "horizon_world",
            ),
            scenario_scoped=True,
        ),
        State(
            "S6",
            s6_validation.run,
            reads=(
                "demand_5A",
                "merchant_universe",
                "outlet_catalogue",
                "s1_country_reference",
                "scenarios_5A",
                "shapes_5A",
                "site_timezones",
                "tz_timetable_cache",
                "virtual_classification_3B",
                "horizon_world",
                "zone_alloc",
            ),
            scenario_scoped=True,
            validation=True,
        ),
    ),
)
