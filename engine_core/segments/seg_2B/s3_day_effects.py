"""2B.S3 — day effects (RNG): a mean-one Gamma(k, 1/k) multiplier (k = 1/σ_g²) per
merchant × tzid for every UTC day of the world horizon, in chunks of 8,192 pairs."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.rng import RngLedger, uniform01
from engine_core.rng.samplers import wh_gamma
from engine_core.rng.streams import row_words
from engine_core.segments.common import lookup, read_table
from engine_core.segments.layer1_rng import DOMAIN_SEP, families
from engine_core.segments.state_io import open_state
from engine_core.timeutil import parse_utc

STATE = "2B.S3"
DATASET = "s3_day_effects"
FAMILY = "2B.S3.day_effect.v1"
CHUNK_PAIRS = 8192  # contract constant: chunking never changes bytes (one part per chunk)
DAY = 86_400


def horizon_days(ctx: RunContext) -> tuple[int, int]:
    """``(first UTC day since epoch, D)`` of the world horizon [S, E)."""
    h = ctx.manifest.policies["horizon_world"]
    s = parse_utc(h["start_utc"], "policies/world/horizon.yaml")
    e = parse_utc(h["end_utc"], "policies/world/horizon.yaml")
    first, last = s // DAY, (e - 1) // DAY
    return first, last - first + 1


def pairs(ctx: RunContext) -> pa.Table:
    """Sorted (merchant_id, tzid) pairs of ``site_timezones`` with each merchant's group."""
    import polars as pl

    st = pl.from_arrow(read_table(ctx, "site_timezones", ["merchant_id", "tzid"], state=STATE))
    mu = pl.from_arrow(
        read_table(ctx, "merchant_universe", ["merchant_id", "mcc_group"], state=STATE)
    )
    p = st.unique().join(mu, on="merchant_id", how="left")
    # tzid by UTF-8 bytes: polars sorts strings bytewise
    return p.sort(["merchant_id", "tzid"]).to_arrow()


def chunks(ctx: RunContext, pr: pa.Table, ledger: RngLedger) -> Iterator[pa.Table]:
    pol = ctx.manifest.policies["routing_weights_2B"]["day_effects"]
    fam = families(ctx, "2B", "S3")
    first_day, d = horizon_days(ctx)
    lo_clip, hi_clip = pol["gamma_clip"]
    for start in range(0, pr.num_rows, CHUNK_PAIRS):  # bounded memory: one chunk at a time
        c = pr.slice(start, CHUNK_PAIRS)
        mid = c.column("merchant_id").to_numpy()
        tz = np.asarray(c.column("tzid").to_pylist(), dtype=object)
        key, hi, lo = fam[FAMILY].derive_many([f"{m}|{z}" for m, z in zip(mid, tz, strict=True)])
        w = row_words(key, hi, lo, d, STATE)
        ledger.record_rows(FAMILY, 0, key, hi, lo, draws=d, blocks=(d + 1) // 2)
        sigma = lookup(
            np.asarray(c.column("mcc_group").to_pylist(), dtype=object), pol["sigma_by_group"]
        )
        k = np.repeat(1.0 / (sigma * sigma), d)
        gamma = np.clip(wh_gamma(k, uniform01(w.reshape(-1))) / k, lo_clip, hi_clip)
        yield pa.table(
            {
                "merchant_id": pa.array(np.repeat(mid, d), pa.uint64()),
                "tzid": np.repeat(tz, d).tolist(),
                "utc_day": pa.array(
                    np.tile(np.arange(first_day, first_day + d, dtype=np.int32), mid.shape[0]),
                    pa.date32(),
                ),
                "day_index": pa.array(np.tile(np.arange(d), mid.shape[0]), pa.uint16()),
                "gamma": gamma,
            }
        )


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    pr = pairs(ctx)
    ledger = RngLedger(STATE, DOMAIN_SEP, (FAMILY,))
    res = io.write(DATASET, chunks(ctx, pr, ledger))
    io.publish_ledger(ledger)
    return io.result(rows=res.rows, metadata={"pairs": pr.num_rows})
