"""5B.S0 — gate (layer2 §3.1): verify the six layer-1 HashGates and this scenario's 5A gate,
seal every input of S1–S5 with its scope, and check coverage before any RNG is spent: the
scenario exists, the tz cache covers and agrees with zoneinfo for every zone/edge/settlement
tzid (T11), day effects cover every domain pair and UTC day, alias blobs match their digests."""

from __future__ import annotations

import polars as pl
import pyarrow.parquet as pq

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.io.verify import sha256_cached
from engine_core.segments.common import (
    input_parts,
    input_path,
    read_json,
    read_table,
)
from engine_core.segments.sealing import run_gate, seal_segment, upstream_of, verify_upstream
from engine_core.segments.seg_5B.base import (
    SEGMENT,
    domain,
    horizon,
    pl_table,
)
from engine_core.segments.state_io import open_state
from engine_core.segments.tz import check_cache

STATE = "5B.S0"


def all_tzids(ctx: RunContext, state: str) -> list[str]:
    """Every zone, edge and settlement tzid 5B will look up (T11's set)."""
    z = pl_table(read_table(ctx, "merchant_zone_profile_5A", ["tzid"], state=state))["tzid"]
    e = pl.from_arrow(read_table(ctx, "edge_catalogue_3B", ["tzid_operational"], state=state))
    s = pl.from_arrow(read_table(ctx, "virtual_settlement_3B", ["tzid_settlement"], state=state))
    return sorted(
        set(z.unique().to_list())
        | set(e["tzid_operational"].unique().to_list())
        | set(s["tzid_settlement"].unique().to_list())
    )


def check_day_effects(ctx: RunContext, dom: pl.DataFrame, s: int, e: int, state: str) -> int:
    """Every domain (merchant_id, tzid) has a γ for every UTC day intersecting [S, E)."""
    de = pl.from_arrow(
        read_table(ctx, "s3_day_effects", ["merchant_id", "tzid", "utc_day"], state=state)
    )
    d0, d1 = s // 86_400, (e - 1) // 86_400
    days = de.with_columns(pl.col("utc_day").cast(pl.Int32).alias("d")).filter(
        (pl.col("d") >= d0) & (pl.col("d") <= d1)
    )
    per = days.group_by("merchant_id", "tzid").agg(pl.col("d").n_unique().alias("n"))
    pairs = (
        dom.select("merchant_id", "tzid").unique().join(per, on=["merchant_id", "tzid"], how="left")
    )
    bad = pairs.filter(pl.col("n").is_null() | (pl.col("n") != d1 - d0 + 1))
    if bad.height:
        r = bad.row(0, named=True)
        raise EngineError(
            "DAY_EFFECT_COVERAGE",
            state,
            f"s3_day_effects: (merchant_id={r['merchant_id']}, tzid={r['tzid']}) has "
            f"{r['n'] or 0} of {d1 - d0 + 1} UTC days of the horizon ({bad.height} pairs short)",
        )
    return pairs.height * (d1 - d0 + 1)


def check_blob(ctx: RunContext, index_ds: str, blob_ds: str, state: str) -> str:
    path = input_path(ctx, blob_ds, state=state, scope="METADATA_ONLY")  # digest only
    sha = sha256_cached(path)
    part = input_parts(ctx, index_ds, state=state)
    meta = pq.read_schema(part[0]).metadata or {}
    if meta.get(b"fwe.blob_sha256", b"").decode() != sha:
        raise EngineError(
            "ALIAS_BLOB_DIGEST_MISMATCH",
            state,
            f"{path}: sha256 differs from {index_ds}'s blob_sha256",
        )
    return sha


def run(ctx: RunContext) -> StateResult:
    open_state(ctx, STATE)
    up = verify_upstream(ctx, SEGMENT, upstream_of(ctx))
    hz = horizon(ctx, STATE)
    dom = domain(ctx, STATE)
    if dom.select("merchant_id", "tzid", "channel_group").n_unique() != dom.height:
        raise EngineError("DOMAIN_DUPLICATE", STATE, "merchant_zone_profile_5A keys repeat")
    cache = check_cache(ctx, hz.start, hz.end, all_tzids(ctx, STATE))
    cells = check_day_effects(ctx, dom, hz.start, hz.end, STATE)
    site_sha = check_blob(ctx, "s2_alias_index", "s2_alias_blob", STATE)
    edge_sha = check_blob(ctx, "edge_alias_index_3B", "edge_alias_blob_3B", STATE)
    routing = read_json(ctx, "virtual_routing_policy_3B", state=STATE, scope="METADATA_ONLY")
    edges = read_json(ctx, "edge_universe_hash_3B", state=STATE, scope="METADATA_ONLY")
    if routing.get("site_alias_blob_sha256") != site_sha:
        raise EngineError(
            "ALIAS_BLOB_DIGEST_MISMATCH", STATE, "s2_alias_blob differs from the routing contract"
        )
    if edges.get("edge_alias_blob_sha256") != edge_sha:
        raise EngineError(
            "ALIAS_BLOB_DIGEST_MISMATCH",
            STATE,
            "edge_alias_blob_3B differs from edge_universe_hash_3B",
        )
    extra = {
        "scenario_id": ctx.scenario_id,
        "horizon_buckets": hz.h,
        "domain_rows": dom.height,
        "routing_universe_hash": routing["routing_universe_hash"],
    }
    res = run_gate(ctx, SEGMENT, up, seal_segment(ctx, up), extra=extra)
    res.metadata.update({**cache, "day_effect_cells": cells, "domain_rows": dom.height})
    return res
