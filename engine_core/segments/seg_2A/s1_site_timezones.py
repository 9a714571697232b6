"""2A.S1 — site time zones (RNG-free): the polygon at each jittered point if it is one of the
country's zones, else the tile's (city's) tzid."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine_core.context import RunContext, StateResult
from engine_core.refdata.tzfinder import zone_ids, zone_names
from engine_core.segments.common import zone_of_country
from engine_core.segments.state_io import open_state

STATE = "2A.S1"
DATASET = "site_timezones"


def build(loc: pa.Table, tiles: pa.Table, countries: pa.Table) -> pa.Table:
    ids = zone_ids(
        loc.column("lat_deg").to_numpy(), loc.column("lon_deg").to_numpy(), land_only=False
    )
    names = zone_names()
    poly = np.where(ids >= 0, names[np.maximum(ids, 0)], "")
    by_poly = zone_of_country(countries, loc["legal_country_iso"], poly.tolist()) & (ids >= 0)
    tile_tz = pc.take(tiles["tzid"], pc.index_in(loc["tile_id"], tiles["tile_id"]))
    tzid = np.where(by_poly, poly, np.asarray(tile_tz.to_pylist(), dtype=object))
    return pa.table(
        {
            "merchant_id": loc["merchant_id"],
            "legal_country_iso": loc["legal_country_iso"],
            "site_order": loc["site_order"],
            "site_id": loc["site_id"],
            "tzid": tzid.tolist(),
            "tz_source": np.where(by_poly, "POLYGON", "CITY_TIEBREAK").tolist(),
        }
    )


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    loc = io.read_table(
        "site_locations",
        [
            "merchant_id",
            "legal_country_iso",
            "site_order",
            "site_id",
            "tile_id",
            "lat_deg",
            "lon_deg",
        ],
    )
    tiles = io.read_table("s1_tile_index", ["tile_id", "tzid"])
    countries = io.read_table("s1_country_reference", ["country_iso", "tzids"])
    table = build(loc, tiles, countries)
    io.write(DATASET, [table])
    ties = int(pc.sum(pc.equal(table["tz_source"], "CITY_TIEBREAK").cast("int64")).as_py() or 0)
    return io.result(rows=table.num_rows, metadata={"city_tiebreaks": ties})
