"""1B.S3 — site requirements (RNG-free): sites and merchants per legal country."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.segments.state_io import open_state

STATE = "1B.S3"
DATASET = "s3_site_requirements"


def build(catalogue: pa.Table) -> pa.Table:
    df = pl.from_arrow(catalogue)
    out = (
        df.group_by("legal_country_iso")
        .agg(pl.len().alias("n_sites"), pl.col("merchant_id").n_unique().alias("n_merchants"))
        .sort("legal_country_iso")
        .rename({"legal_country_iso": "country_iso"})
    )
    return out.to_arrow()


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    cat = io.read_table("outlet_catalogue", ["merchant_id", "legal_country_iso"])
    table = build(cat)
    io.write(DATASET, [table])
    return io.result(rows=table.num_rows)
