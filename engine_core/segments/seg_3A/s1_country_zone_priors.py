"""3A.S1 — country zone priors (SF, RNG-free): each zone's share of its country's tile
population."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.io.datasets import write_parquet_dataset
from engine_core.kernels.integerise import segment_sums_nb
from engine_core.segments.common import keys_for, load_sealed, read_table
from engine_core.segments.seg_1B.s2_tile_weights import run_offsets

STATE = "3A.S1"
DATASET = "s1_country_zone_priors"


def build(tiles: pa.Table) -> pa.Table:
    df = (
        pl.from_arrow(tiles)
        .group_by(["country_iso", "tzid"])
        .agg(
            pl.len().cast(pl.UInt32).alias("tile_count"),
            pl.col("population").sum().cast(pl.UInt64).alias("population"),
        )
        .sort(["country_iso", "tzid"])
    )  # integer sums: exact in any order
    iso = df["country_iso"].to_numpy()
    off = run_offsets(iso)
    pop = df["population"].to_numpy().astype(np.float64)
    share = pop / np.repeat(segment_sums_nb(pop, off), np.diff(off))
    nz = np.repeat(np.diff(off), np.diff(off))
    return df.with_columns(
        pl.Series("prior_share", share), pl.Series("n_zones_country", nz).cast(pl.UInt16)
    ).to_arrow()


def run(ctx: RunContext) -> StateResult:
    sealed = load_sealed(ctx, "3A", state=STATE)
    sealed.require("s1_tile_index", state=STATE)
    sealed.require("zone_alloc_3A", state=STATE)
    tiles = read_table(ctx, "s1_tile_index", ["country_iso", "tzid", "population"], state=STATE)
    table = build(tiles)
    res = write_parquet_dataset(
        ctx.dictionary, DATASET, ctx.data_root, keys_for(ctx, DATASET), [table], state=STATE
    )
    return StateResult(STATE, [res], rows=table.num_rows)
