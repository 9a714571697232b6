"""Segment 6B — labelled transactions (layer3 §4): the legitimate world attached to the 6A
entities, fraud campaigns as an overlay, merged transactions with delayed labels, the
ML-ready export and the 6B HashGate. Scenario-scoped: one partition per (seed, world).

Landed so far: S0 (the gate). S1–S5 are declared here as they land; S0's seal plan grows
with their declared reads (``registry.seal_plan``)."""

from engine_core.segments.seg_6B import s0_gate, s1_state
from engine_core.statespec import Segment, State

SEGMENT = Segment(
    "6B",
    upstream=("1A", "1B", "2A", "2B", "3A", "3B", "5A", "5B", "6A"),
    report_gates=True,
    # layer3 §5: 6B.S0 follows a fresh 6A bundle only when its blocking checks passed
    gate_condition="blocking_checks_passed",
    states=(
        State(
            "S0",
            s0_gate.run,
            reads=(
                "scenario_manifest_5A",
                "s0_gate_receipt_6A",
                "sealed_inputs_6A",
                "fraud_campaigns_6B",
                "legit_flows_6B",
                "weekly_profile_6B",
                "rng_6B",
            ),
            scenario_scoped=True,
        ),
        State(
            "S1",
            s1_state.run,
            reads=(
                "s0_gate_receipt_6B",
                "arrival_events_5B",
                "merchant_universe",
                "s1_country_reference",
                "site_locations",
                "outlet_catalogue",
                "edge_catalogue_3B",
                "tz_timetable_cache",
                "s1_party_base_6A",
                "s2_account_base_6A",
                "s3_instrument_base_6A",
                "s4_device_base_6A",
                "s4_device_links_6A",
                "s4_ip_base_6A",
                "s4_ip_links_6A",
                "countries_6A",
                "currencies_6A",
                "fx_static_6A",
                "region_map_6A",
                "segmentation_6A",
                "population_6A",
                "attachment_6B",
                "amounts_6B",
                "auth_6B",
                "legit_flows_6B",
                "weekly_profile_6B",
            ),
            scenario_scoped=True,
        ),
    ),
)
