"""3B.S2 — edge catalogue (RNG): a home edge at the registered site's tile plus E − 1 edges,
each placed by two exact alias picks (country by merchant_weight^γ, then a metro tile by
population)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.rng import RngLedger, build_alias_table
from engine_core.rng.detmath import exp, log
from engine_core.rng.streams import row_words
from engine_core.segments.common import lookup
from engine_core.segments.ids import mint_ids
from engine_core.segments.layer1_rng import DOMAIN_SEP, families
from engine_core.segments.state_io import open_state

STATE = "3B.S2"
DATASET = "edge_catalogue_3B"
FAMILY = "3B.S2.edge_place.v1"


def tile_tables(tiles: pl.DataFrame, iso: list[str], min_pop: int):
    """Per universe country: its candidate tiles (≥ min_pop, else its largest) as an alias
    table over tile_id order, plus the tile rows in slot order."""
    out = {}
    for c, g in tiles.partition_by("country_iso", as_dict=True, maintain_order=True).items():
        c = c[0] if isinstance(c, tuple) else c
        cand = g.filter(pl.col("population") >= min_pop)
        if cand.height == 0:
            cand = g.sort(["population", "tile_id"], descending=[True, False]).head(1)
        cand = cand.sort("tile_id")
        t = build_alias_table(
            cand["tile_id"].to_numpy(),
            cand["population"].to_numpy().astype(np.float64),
            state=STATE,
        )
        out[c] = (t, cand)
    missing = sorted(set(iso) - set(out))
    if missing:
        raise EngineError("EDGE_TZ_UNKNOWN", STATE, f"{missing[0]} has no tile for an edge")
    return out


def build(
    ctx: RunContext,
    cls: pl.DataFrame,
    home_tile: pl.DataFrame,
    countries: pl.DataFrame,
    tiles: pl.DataFrame,
    ledger: RngLedger,
) -> pa.Table:
    pol = ctx.manifest.policies["virtual_edges_3B"]
    fam = families(ctx, "3B", "S2")
    virt = (
        cls.filter(pl.col("is_virtual"))
        .sort("merchant_id")
        .join(home_tile, on="merchant_id", how="left")
    )
    ids = virt["merchant_id"].to_numpy()
    e = np.zeros(ids.shape[0], dtype=np.int64)
    for mode in ("VIRTUAL_ONLY", "HYBRID"):  # two modes × four sizes
        sel = virt["virtual_mode"].to_numpy() == mode
        e[sel] = lookup(virt["size_class"].to_numpy()[sel], pol["edge_count"][mode], np.int64)
    iso = countries["country_iso"].to_list()
    gamma = float(pol["country_weight_exponent"])
    cw = countries["merchant_weight"].to_numpy()
    ctab = build_alias_table(
        np.arange(len(iso)), cw if gamma == 1.0 else exp(gamma * log(cw)), state=STATE
    )
    ttab = tile_tables(tiles, iso, pol["edge_city_min_population"])
    key, hi, lo = fam[FAMILY].derive_many(ids.astype(str).tolist())
    extra = e - 1
    if ids.size:
        w = row_words(key, hi, lo, int(2 * extra.max()) if extra.max() > 0 else 0, STATE)
        ledger.record_rows(
            FAMILY, 0, key, hi, lo, draws=2 * extra, blocks=extra, events=int((extra > 0).sum())
        )
    else:
        w = np.zeros((0, 0), dtype=np.uint64)
    # non-home edges: merchant row r, edge k = 1..E−1 uses block k − 1 = words 2k−2, 2k−1
    owner = np.repeat(np.arange(ids.shape[0]), extra)
    k = np.arange(owner.shape[0]) - np.repeat(np.cumsum(extra) - extra, extra) + 1
    x0 = w[owner, 2 * k - 2] if owner.size else np.zeros(0, np.uint64)
    x1 = w[owner, 2 * k - 1] if owner.size else np.zeros(0, np.uint64)
    country = np.asarray(iso, dtype=object)[ctab.order[ctab.pick(x0)]]
    tile = np.zeros(owner.shape[0], dtype=np.uint64)
    for c in sorted(set(country.tolist())):  # one vectorised pick per country drawn
        sel = country == c
        t, cand = ttab[c]
        tile[sel] = cand["tile_id"].to_numpy()[t.order[t.pick(x1[sel])]]
    rows = pl.DataFrame(
        {
            "merchant_id": np.concatenate([ids, ids[owner]]),
            "edge_seq_index": np.concatenate([np.zeros(ids.shape[0], np.int64), k]).astype(
                np.uint32
            ),
            "tile_id": np.concatenate([virt["tile_id"].to_numpy(), tile]),
            "is_home_edge": np.concatenate(
                [np.ones(ids.shape[0], bool), np.zeros(owner.shape[0], bool)]
            ),
            "edge_weight": np.concatenate(
                [
                    np.full(ids.shape[0], float(pol["home_edge_share"])),
                    ((1.0 - pol["home_edge_share"]) / extra.astype(np.float64))[owner],
                ]
            ),
        }
    ).sort(["merchant_id", "edge_seq_index"])
    rows = rows.join(
        tiles.select(
            "tile_id", "country_iso", "lat_deg", "lon_deg", pl.col("tzid").alias("tzid_operational")
        ),
        on="tile_id",
        how="left",
    ).sort(["merchant_id", "edge_seq_index"])
    edge_ids, _retries = mint_ids(
        "edge",
        ctx.mf,
        ctx.seed,
        list(
            zip(
                rows["merchant_id"].to_numpy().astype(str),
                rows["edge_seq_index"].to_numpy().astype(str),
                strict=True,
            )
        ),
        state=STATE,
    )
    return (
        rows.with_columns(pl.Series("edge_id", edge_ids))
        .select(
            "merchant_id",
            "edge_id",
            "edge_seq_index",
            "country_iso",
            "tile_id",
            "lat_deg",
            "lon_deg",
            "tzid_operational",
            "edge_weight",
            "is_home_edge",
        )
        .to_arrow()
    )


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    cls = pl.from_arrow(io.read_table("virtual_classification_3B"))
    sett = pl.from_arrow(io.read_table("virtual_settlement_3B"))
    loc = pl.from_arrow(io.read_table("site_locations", ["site_id", "tile_id"]))
    home_tile = (
        sett.select("merchant_id", pl.col("settlement_site_id").alias("site_id"))
        .join(loc, on="site_id", how="left")
        .select("merchant_id", "tile_id")
    )
    countries = pl.from_arrow(
        io.read_table("s1_country_reference", ["country_iso", "merchant_weight"])
    )
    tiles = pl.from_arrow(
        io.read_table(
            "s1_tile_index", ["tile_id", "country_iso", "lat_deg", "lon_deg", "population", "tzid"]
        )
    )
    ledger = RngLedger(STATE, DOMAIN_SEP, (FAMILY,))
    table = build(ctx, cls, home_tile, countries, tiles, ledger)
    io.write(DATASET, [table])
    io.publish_ledger(ledger)
    return io.result(rows=table.num_rows)
