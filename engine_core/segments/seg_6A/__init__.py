"""Segment 6A — the entity world (layer3 §3): parties and households, accounts and holders,
instruments, devices, IPs and their link graph, fraud posture and the 6A HashGate.

Scenario-free: S0 HashGates the baseline scenario's 5A bundle, so any scenario partition
of a world triggers the same bytes. Ids are keyed permutations (``identity.entity_ids``),
counts follow the L3.4 laws (``kernels/alloc.py``), randomness is counter-addressed Philox
units per planning cell (``rng/units.py``)."""

from engine_core.segments.seg_6A import (
    s0_gate,
    s1_parties,
    s2_accounts,
    s3_instruments,
    s4_state,
    s5_state,
)
from engine_core.statespec import Segment, State

SEGMENT = Segment(
    "6A",
    upstream=("1A", "1B", "2A", "2B", "3A", "3B", "5A"),
    report_gates=True,
    states=(
        State(
            "S0",
            s0_gate.run,
            reads=(
                "scenario_manifest_5A",
                "s1_country_reference",
                "rng_6A",
                "countries_6A",
                "currencies_6A",
                "fx_static_6A",
                "region_map_6A",
            ),
        ),
        State(
            "S1",
            s1_parties.run,
            reads=(
                "s0_gate_receipt_6A",
                "outlet_catalogue",
                "site_locations",
                "site_timezones",
                "merchant_zone_profile_5A",
                "countries_6A",
                "population_6A",
                "segmentation_6A",
                "region_map_6A",
            ),
        ),
        State(
            "S2",
            s2_accounts.run,
            reads=(
                "s0_gate_receipt_6A",
                "s1_party_base_6A",
                "s1_country_reference",
                "currencies_6A",
                "fx_static_6A",
                "products_6A",
                "segmentation_6A",
            ),
        ),
        State(
            "S3",
            s3_instruments.run,
            reads=(
                "s0_gate_receipt_6A",
                "s1_party_base_6A",
                "s2_account_base_6A",
                "s2_account_holders_6A",
                "instruments_6A",
                "products_6A",
                "segmentation_6A",
            ),
        ),
        State(
            "S4",
            s4_state.run,
            reads=(
                "s0_gate_receipt_6A",
                "s1_party_base_6A",
                "s2_account_base_6A",
                "s2_account_holders_6A",
                "s3_instrument_base_6A",
                "outlet_catalogue",
                "site_locations",
                "merchant_zone_profile_5A",
                "countries_6A",
                "region_map_6A",
                "devices_6A",
                "ips_6A",
                "products_6A",
                "segmentation_6A",
            ),
        ),
        State(
            "S5",
            s5_state.run,
            reads=(
                "s0_gate_receipt_6A",
                "outlet_catalogue",
                "merchant_zone_profile_5A",
                "merchant_universe",
                "virtual_classification_3B",
                "fraud_posture_6A",
                "devices_6A",
                "products_6A",
                "instruments_6A",
                "population_6A",
                "countries_6A",
                "region_map_6A",
            ),
            validation=True,
        ),
    ),
)
