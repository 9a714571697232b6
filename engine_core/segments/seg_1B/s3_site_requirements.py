"""1B.S3 — site requirements (RNG-free): sites and merchants per legal country."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.io.datasets import write_parquet_dataset
from engine_core.segments.common import keys_for, load_sealed, read_table

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
    load_sealed(ctx, "1B", state=STATE).require("outlet_catalogue", state=STATE)
    cat = read_table(ctx, "outlet_catalogue", ["merchant_id", "legal_country_iso"], state=STATE)
    table = build(cat)
    res = write_parquet_dataset(
        ctx.dictionary, DATASET, ctx.data_root, keys_for(ctx, DATASET), [table], state=STATE
    )
    return StateResult(STATE, [res], rows=table.num_rows)
