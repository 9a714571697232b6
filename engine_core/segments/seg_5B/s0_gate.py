"""5B.S0 — gate (layer2 §3.1): verify the six layer-1 HashGates and this scenario's 5A gate,
seal every input of S1–S5 with its scope, and check coverage before any RNG is spent: the
scenario exists, the tz cache covers and agrees with zoneinfo for every zone/edge/settlement
tzid (T11), day effects cover every domain pair and UTC day, alias blobs match their digests."""

from __future__ import annotations

import json

import polars as pl
import pyarrow.parquet as pq

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.identity import file_sha256
from engine_core.segments.common import (
    dataset_path,
    read_table,
    run_gate,
    seal_policy,
    seal_upstream,
    verify_upstream,
)
from engine_core.segments.seg_5A.s0_gate import check_cache, seal_package
from engine_core.segments.seg_5B.base import (
    SEGMENT,
    VIRTUAL_INPUTS,
    domain,
    horizon,
    pl_table,
)

STATE = "5B.S0"
LAYER1 = ("1A", "1B", "2A", "2B", "3A", "3B")
POLICIES = ("time_grid_5B", "grouping_5B", "latent_5B", "counts_5B", "arrivals_5B", "rng_5B")


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
    path = dataset_path(ctx, blob_ds)
    if not path.is_file():
        raise EngineError("SEALED_INPUT_MISSING", state, f"{blob_ds}: expected {path}")
    sha = file_sha256(path)
    part = sorted(dataset_path(ctx, index_ds).glob("part-*.parquet"))
    meta = pq.read_schema(part[0]).metadata or {} if part else {}
    if meta.get(b"fwe.blob_sha256", b"").decode() != sha:
        raise EngineError(
            "ALIAS_BLOB_DIGEST_MISMATCH",
            state,
            f"{path}: sha256 differs from {index_ds}'s blob_sha256",
        )
    return sha


def run(ctx: RunContext) -> StateResult:
    up = verify_upstream(ctx, SEGMENT, [*LAYER1, "5A"])
    hz = horizon(ctx, STATE)
    dom = domain(ctx, STATE)
    if dom.select("merchant_id", "tzid", "channel_group").n_unique() != dom.height:
        raise EngineError("DOMAIN_DUPLICATE", STATE, "merchant_zone_profile_5A keys repeat")
    cache = check_cache(ctx, hz.start, hz.end, all_tzids(ctx, STATE))
    cells = check_day_effects(ctx, dom, hz.start, hz.end, STATE)
    site_sha = check_blob(ctx, "s2_alias_index", "s2_alias_blob", STATE)
    edge_sha = check_blob(ctx, "edge_alias_index_3B", "edge_alias_blob_3B", STATE)
    routing = json.loads(dataset_path(ctx, "virtual_routing_policy_3B").read_bytes())
    edges = json.loads(dataset_path(ctx, "edge_universe_hash_3B").read_bytes())
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
    g = {k: up[k] for k in up}

    def sealed(ds, seg, by, scope="ROW_LEVEL"):
        return seal_upstream(ctx, ds, g[seg], by, scope=scope)

    inputs = [
        *(seal_policy(ctx, n, ("S1", "S2", "S3", "S4", "S5")) for n in POLICIES),
        seal_policy(ctx, "world_horizon", ("S1",)),
        seal_policy(ctx, "shapes_5A", ("S5",)),
        seal_package("tzdata", ("S0", "S5")),
        *(sealed(f"validation_bundle_{s}", s, ("S0",), "METADATA_ONLY") for s in (*LAYER1, "5A")),
        sealed("zone_alloc_universe_hash", "3A", ("S0",), "METADATA_ONLY"),
        sealed("edge_universe_hash_3B", "3B", ("S0",), "METADATA_ONLY"),
        sealed("scenario_manifest_5A", "5A", ("S0", "S1", "S2", "S3", "S5")),
        sealed("merchant_zone_profile_5A", "5A", ("S0", "S1", "S5")),
        sealed("merchant_zone_scenario_utc_5A", "5A", ("S2", "S5")),
        sealed("s3_day_effects", "2B", ("S0", "S2", "S5")),
        sealed("s2_alias_index", "2B", ("S4", "S5")),
        sealed("s2_alias_blob", "2B", ("S4", "S5")),
        sealed("s1_site_weights", "2B", ("S5",)),
        sealed("site_timezones", "2A", ("S0", "S4", "S5")),
        sealed("tz_timetable_cache", "2A", ("S0", "S4", "S5")),
        *(sealed(ds, "3B", ("S1", "S4", "S5")) for ds in VIRTUAL_INPUTS),
    ]
    extra = {
        "scenario_id": ctx.scenario_id,
        "horizon_buckets": hz.h,
        "domain_rows": dom.height,
        "routing_universe_hash": routing["routing_universe_hash"],
    }
    res = run_gate(ctx, SEGMENT, up, inputs, extra=extra)
    res.metadata.update({**cache, "day_effect_cells": cells, "domain_rows": dom.height})
    return res
