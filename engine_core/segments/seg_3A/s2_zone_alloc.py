"""3A.S2 — zone allocation (RNG-free): each merchant × country split over its tzids by outlet
count and by site-weight demand, joined to the zone priors."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.kernels.integerise import segment_sums_nb
from engine_core.segments.state_io import open_state

STATE = "3A.S2"
DATASET = "zone_alloc"


def _runs(*cols: np.ndarray) -> np.ndarray:
    change = np.zeros(cols[0].shape[0], dtype=bool)
    if change.size:
        change[0] = True
        for c in cols:
            change[1:] |= c[1:] != c[:-1]
    return np.concatenate([np.flatnonzero(change), [change.shape[0]]]).astype(np.int64)


def build(w: pa.Table, priors: pa.Table) -> pa.Table:
    # sort by (merchant, tzid bytes); tzid → country is a function, so this groups (m, c, tz)
    df = pl.from_arrow(w).sort(["merchant_id", "tzid", "site_id"])
    mid = df["merchant_id"].to_numpy()
    tz = df["tzid"].to_numpy()
    off = _runs(mid, tz)
    starts = off[:-1]
    p = df["p_weight"].to_numpy()
    zone_p = segment_sums_nb(p, off)  # sequential sums: same bits everywhere
    zones = pl.DataFrame(
        {
            "merchant_id": mid[starts],
            "legal_country_iso": df["legal_country_iso"].to_numpy()[starts],
            "tzid": tz[starts],
            "zone_site_count": np.diff(off).astype(np.uint32),
            "merchant_zone_share": zone_p,
        }
    )
    if zones.select("merchant_id", "legal_country_iso", "tzid").n_unique() != zones.height:
        raise EngineError("ZONE_KEY_NOT_UNIQUE", STATE, "a (merchant, tzid) spans two countries")
    # country totals in (merchant, country, tzid) order
    by_c = zones.sort(["merchant_id", "legal_country_iso", "tzid"])
    coff = _runs(by_c["merchant_id"].to_numpy(), by_c["legal_country_iso"].to_numpy())
    csum = segment_sums_nb(by_c["merchant_zone_share"].to_numpy(), coff)
    ccount = (
        np.add.reduceat(by_c["zone_site_count"].to_numpy().astype(np.int64), coff[:-1])
        if by_c.height
        else np.zeros(0, np.int64)
    )
    by_c = by_c.with_columns(
        pl.Series("country_site_count", np.repeat(ccount, np.diff(coff)).astype(np.uint32)),
        pl.Series(
            "zone_share_in_country",
            by_c["merchant_zone_share"].to_numpy() / np.repeat(csum, np.diff(coff)),
        ),
    )
    pri = pl.from_arrow(priors).select(
        pl.col("country_iso").alias("legal_country_iso"),
        "tzid",
        "prior_share",
        (pl.col("n_zones_country") > 1).alias("multi_zone_country"),
    )
    out = by_c.join(pri, on=["legal_country_iso", "tzid"], how="left").sort(["merchant_id", "tzid"])
    if out["prior_share"].null_count():
        raise EngineError("ZONE_UNIVERSE_MISMATCH", STATE, "a site tzid has no zone prior")
    return out.select(
        "merchant_id",
        "legal_country_iso",
        "tzid",
        "zone_site_count",
        "country_site_count",
        "zone_share_in_country",
        "merchant_zone_share",
        "prior_share",
        "multi_zone_country",
    ).to_arrow()


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    w = io.read_table(
        "s1_site_weights", ["merchant_id", "legal_country_iso", "tzid", "site_id", "p_weight"]
    )
    priors = io.read_table("s1_country_zone_priors")
    table = build(w, priors)
    io.write(DATASET, [table])
    return io.result(rows=table.num_rows)
