"""3A.S1 — country zone priors (SF, RNG-free): each zone's share of its country's tile
population."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.kernels.integerise import segment_sums_nb
from engine_core.kernels.runs import run_offsets
from engine_core.segments.state_io import open_state

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
    io = open_state(ctx, STATE)
    tiles = io.read_table("s1_tile_index", ["country_iso", "tzid", "population"])
    table = build(tiles)
    io.write(DATASET, [table])
    return io.result(rows=table.num_rows)
