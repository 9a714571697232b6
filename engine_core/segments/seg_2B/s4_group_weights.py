"""2B.S4 — group weights (RNG-free, diagnostic): p_group = tz_share·γ / Σ_tz tz_share·γ per
merchant-day."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from engine_core.context import RunContext, StateResult
from engine_core.segments.common import input_parts
from engine_core.segments.state_io import open_state

STATE = "2B.S4"
DATASET = "s4_group_weights"


PART_ROWS = 1_048_576  # contract constant: parts of whole merchants, ≥ this many rows


def parts(ctx: RunContext, shares: pl.DataFrame) -> Iterator[pa.Table]:
    """Day-effect parts streamed in merchant order; a part is emitted once it holds at least
    PART_ROWS rows, cut at a merchant boundary (a merchant's pairs may straddle S3 parts)."""
    buf = None
    for path in input_parts(ctx, "s3_day_effects"):
        df = pl.from_arrow(pq.read_table(path).replace_schema_metadata(None))
        buf = df if buf is None else pl.concat([buf, df])
        if buf.height >= PART_ROWS:
            last = buf["merchant_id"][-1]
            yield _weights(buf.filter(pl.col("merchant_id") != last), shares)
            buf = buf.filter(pl.col("merchant_id") == last)
    if buf is not None and buf.height:
        yield _weights(buf, shares)


def _weights(df: pl.DataFrame, shares: pl.DataFrame) -> pa.Table:
    out = (
        df.join(shares, on=["merchant_id", "tzid"], how="left")
        .with_columns((pl.col("tz_share") * pl.col("gamma")).alias("x"))
        .sort(["merchant_id", "utc_day", "tzid"])
        .with_columns(pl.col("x").cum_sum().over(["merchant_id", "utc_day"]).alias("cs"))
        .with_columns(pl.col("cs").last().over(["merchant_id", "utc_day"]).alias("tot"))
        .select(
            "merchant_id",
            "utc_day",
            pl.col("tzid").alias("tz_group_id"),
            pl.col("tz_share").alias("base_share"),
            "gamma",
            (pl.col("x") / pl.col("tot")).alias("p_group"),
        )
    )
    return out.to_arrow()


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    w = pl.from_arrow(io.read_table("s1_site_weights", ["merchant_id", "tzid", "tz_share"])).unique(
        ["merchant_id", "tzid"]
    )
    res = io.write(DATASET, parts(ctx, w))
    return io.result(rows=res.rows)
