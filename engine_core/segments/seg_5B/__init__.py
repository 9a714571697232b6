"""Segment 5B — arrival realisation (layer2 §3–§6): gate, time grid and latent groups, LGCP
latent field and day effects, exact bucket counts, the compiled arrival/routing kernel, and
the validation bundle with gates T1–T16, R1, R2, G1."""

from engine_core.segments.seg_5B import (
    s0_gate,
    s1_grid,
    s2_latent,
    s3_counts,
    s4_arrivals,
    s5_validation,
)
from engine_core.statespec import Refdata, Segment, State, meta

# the 3B datasets 5B routes with (layer2 §1.6)
VIRTUAL = (
    "virtual_classification_3B",
    "virtual_settlement_3B",
    "edge_catalogue_3B",
    "edge_alias_index_3B",
    "edge_alias_blob_3B",
    "virtual_routing_policy_3B",
)

SEGMENT = Segment(
    "5B",
    upstream=("1A", "1B", "2A", "2B", "3A", "3B", "5A"),
    checks_in_one_pass=True,
    eager=True,
    states=(
        State(
            "S0",
            s0_gate.run,
            reads=(
                "scenario_manifest_5A",
                "merchant_zone_profile_5A",
                "s3_day_effects",
                "tz_timetable_cache",
                "edge_catalogue_3B",
                "virtual_settlement_3B",
                "s2_alias_index",
                meta("s2_alias_blob"),
                "edge_alias_index_3B",
                meta("edge_alias_blob_3B"),
                meta("virtual_routing_policy_3B"),
                meta("edge_universe_hash_3B"),
                Refdata("tzdata", kind="package"),
            ),
            scenario_scoped=True,
        ),
        State(
            "S1",
            s1_grid.run,
            reads=(
                "scenario_manifest_5A",
                "merchant_zone_profile_5A",
                "scenarios_5A",
                "tz_timetable_cache",
                "time_grid_5B",
                "grouping_5B",
                "latent_5B",
            ),
            scenario_scoped=True,
        ),
        State(
            "S2",
            s2_latent.run,
            reads=(
                "s1_grouping_5B",
                "scenario_manifest_5A",
                "merchant_zone_profile_5A",
                "merchant_zone_scenario_utc_5A",
                "s3_day_effects",
                "tz_timetable_cache",
                "latent_5B",
                "rng_5B",
            ),
            scenario_scoped=True,
        ),
        State(
            "S3",
            s3_counts.run,
            reads=(
                "s1_grouping_5B",
                "s2_realised_intensity_5B",
                "rng_trace_log_5B_S2",
                "scenario_manifest_5A",
                "merchant_zone_profile_5A",
                "tz_timetable_cache",
                "counts_5B",
                "rng_5B",
            ),
            scenario_scoped=True,
        ),
        State(
            "S4",
            s4_arrivals.run,
            reads=(
                "s3_bucket_counts_5B",
                "rng_trace_log_5B_S3",
                "scenario_manifest_5A",
                "merchant_zone_profile_5A",
                "s2_alias_index",
                "s2_alias_blob",
                "tz_timetable_cache",
                *VIRTUAL,
                meta("zone_alloc_universe_hash"),
                "arrivals_5B",
                "rng_5B",
            ),
            scenario_scoped=True,
        ),
        State(
            "S5",
            s5_validation.run,
            reads=(
                "scenario_manifest_5A",
                "merchant_zone_profile_5A",
                "merchant_zone_scenario_utc_5A",
                "shapes_5A",
                "s3_day_effects",
                "s2_alias_index",
                "s2_alias_blob",
                "s1_site_weights",
                "site_timezones",
                "tz_timetable_cache",
                *VIRTUAL,
                meta("zone_alloc_universe_hash"),
                "latent_5B",
                "counts_5B",
                Refdata("tzdata", kind="package"),
            ),
            scenario_scoped=True,
            validation=True,
        ),
    ),
)
