"""Segment 3B — virtual merchants and edges (layer1 §6)."""

from engine_core.segments.sealing import gate_state
from engine_core.segments.seg_3B import (
    s1_virtual_classification,
    s2_edge_catalogue,
    s3_edge_alias,
    s4_routing_contract,
    s5_validation,
)
from engine_core.statespec import Segment, State, meta

SEGMENT = Segment(
    "3B",
    upstream=("1A", "1B", "2A", "2B", "3A"),
    states=(
        State("S0", gate_state),
        State(
            "S1",
            s1_virtual_classification.run,
            reads=(
                "merchant_universe",
                "outlet_catalogue",
                "site_timezones",
                "site_locations",
                "mcc_channel_rules_3B",
                "rng_3B",
            ),
        ),
        State(
            "S2",
            s2_edge_catalogue.run,
            reads=(
                "virtual_classification_3B",
                "virtual_settlement_3B",
                "s1_country_reference",
                "s1_tile_index",
                "site_locations",
                "virtual_edges_3B",
                "rng_3B",
            ),
        ),
        State(
            "S3",
            s3_edge_alias.run,
            reads=(
                "edge_catalogue_3B",
                "alias_layout_layer1",
            ),
        ),
        State(
            "S4",
            s4_routing_contract.run,
            reads=(
                meta("virtual_classification_3B"),
                meta("virtual_settlement_3B"),
                meta("edge_catalogue_3B"),
                meta("edge_alias_index_3B"),
                meta("edge_alias_blob_3B"),
                meta("zone_alloc_universe_hash"),
                meta("s2_alias_blob"),
                meta("s2_alias_index"),
            ),
        ),
        State(
            "S5",
            s5_validation.run,
            reads=(
                "mcc_channel_rules_3B",
                "merchant_universe",
                "s1_country_reference",
                meta("s2_alias_blob"),
                meta("s2_alias_index"),
                "virtual_edges_3B",
                meta("zone_alloc_universe_hash"),
            ),
            validation=True,
        ),
    ),
)
