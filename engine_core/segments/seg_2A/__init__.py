"""Segment 2A — civil time: site time zones and the tz timetable cache (layer1 §3)."""

from engine_core.segments.sealing import gate_state
from engine_core.segments.seg_2A import (
    s1_site_timezones,
    s2_tz_timetable_cache,
    s3_validation,
)
from engine_core.statespec import Refdata, Segment, State

SEGMENT = Segment(
    "2A",
    upstream=("1A", "1B"),
    states=(
        State("S0", gate_state),
        State(
            "S1",
            s1_site_timezones.run,
            reads=(
                "site_locations",
                "s1_tile_index",
                "s1_country_reference",
                Refdata("timezonefinder_data", "data", role="tz polygons", kind="finder"),
            ),
        ),
        State(
            "S2",
            s2_tz_timetable_cache.run,
            reads=(
                "s1_country_reference",
                "civil_time_2A",
                "horizon_world",
                Refdata("tzdata", "zoneinfo/tzdata.zi", role="tz rules"),
                Refdata("tzdata", "zoneinfo/zone.tab"),
            ),
        ),
        State(
            "S3",
            s3_validation.run,
            reads=(
                "s1_country_reference",
                "s1_tile_index",
                "site_locations",
                "horizon_world",
            ),
            validation=True,
        ),
    ),
)
