"""5B.S1 — time grid and latent grouping (layer2 §3.2, RNG-free). The grid is the scenario's
UTC hour buckets; every domain row joins a stratum (channel, demand class, hashed zone group)
and an in-stratum bucket chosen by a hash-uniform, with B_s adapted to the stratum size."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from engine_core.checks import ADVISORY_PROFILES
from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.rng.sha256_nb import derive_streams, uer_suffixes
from engine_core.segments.parts import codes, dict_array
from engine_core.segments.seg_5B import constants as K
from engine_core.segments.seg_5B.base import (
    Horizon,
    domain,
    hash_prefix,
    horizon,
)
from engine_core.segments.state_io import open_state
from engine_core.segments.tz import load_cache

STATE = "5B.S1"


def check_grid(ctx: RunContext, hz: Horizon) -> None:
    pol = ctx.manifest.policies
    b = int(pol["time_grid_5B"]["bucket_seconds"])
    if hz.start % b or hz.end % b:
        raise EngineError("HORIZON_UNALIGNED", STATE, f"[S, E) not aligned to {b} s buckets")
    if b != hz.bucket or b != int(pol["scenarios_5A"]["bucket_seconds"]):
        raise EngineError("GRID_MISMATCH_5A", STATE, f"bucket_seconds {b} != 5A's {hz.bucket}")
    h = (hz.end - hz.start) // b
    if not (K.MIN_DAYS <= hz.days <= K.MAX_DAYS) or h > K.MAX_BUCKETS or h != hz.h:
        raise EngineError(
            "GRID_GUARDRAIL",
            STATE,
            f"days {hz.days} (allowed {K.MIN_DAYS}–{K.MAX_DAYS}), buckets {h} "
            f"(≤ {K.MAX_BUCKETS}, scenario manifest says {hz.h})",
        )


def time_grid(hz: Horizon) -> pa.Table:
    b = np.arange(hz.h, dtype=np.int64)
    start = hz.start + b * hz.bucket
    day = start // 86_400
    return pa.table(
        {
            "bucket_index": pa.array(b, pa.int32()),
            "bucket_start_utc": pa.array(start * 1_000_000, pa.timestamp("us", tz="UTC")),
            "bucket_end_utc": pa.array(
                (start + hz.bucket) * 1_000_000, pa.timestamp("us", tz="UTC")
            ),
            "utc_day": pa.array(day.astype(np.int32), pa.date32()),
            "utc_day_index": pa.array(day - hz.start // 86_400, pa.int16()),
            "utc_hour": pa.array((start % 86_400) // 3600, pa.int8()),
            "utc_dow": pa.array((day + 3) % 7, pa.int8()),
        }
    )


def h64(ctx: RunContext, tag: str, *fields) -> np.ndarray:
    """H64₂(tag, f1…fk) per row: the first 8 digest bytes, big-endian (layer2 §1.7)."""
    suf, off = uer_suffixes(*fields)
    key, _, _ = derive_streams(hash_prefix(ctx, tag), suf, off)
    return key


def grouping(ctx: RunContext, dom: pl.DataFrame) -> pl.DataFrame:
    pol = ctx.manifest.policies["grouping_5B"]
    zgb, target = int(pol["zone_group_buckets"]), int(pol["target_members_per_group"])
    tzs = dom["tzid"].unique().sort()
    zg = h64(ctx, "5B.S1.zone_group", tzs.to_arrow()) % np.uint64(zgb)
    zone_group = pl.DataFrame(
        {"tzid": tzs, "zone_group_id": [f"zg{int(x):02d}" for x in zg]}  # one per distinct tzid
    )
    hb = h64(
        ctx,
        "5B.S1.group_bucket",
        dom["merchant_id"].cast(pl.String).to_arrow(),
        dom["tzid"].to_arrow(),
        dom["channel_group"].to_arrow(),
    )
    df = (
        dom.select(
            "merchant_id", "tzid", "channel_group", "domain_row", "demand_class", "virtual_mode"
        )
        .join(zone_group, on="tzid", how="left", maintain_order="left")
        .with_columns(
            pl.concat_str(["channel_group", "demand_class", "zone_group_id"], separator=".").alias(
                "stratum_id"
            )
        )
        .with_columns(pl.len().over("stratum_id").cast(pl.Int32).alias("stratum_size"))
        .with_columns(
            (pl.col("stratum_size") // target)
            .clip(1, int(pol["max_in_stratum_buckets"]))
            .cast(pl.Int16)
            .alias("in_stratum_buckets"),
            pl.Series("h", hb),
        )
        .with_columns(
            (pl.col("h") % pl.col("in_stratum_buckets").cast(pl.UInt64))
            .cast(pl.Int16)
            .alias("in_stratum_bucket")
        )
        .with_columns(
            pl.format(
                "{}.b{}",
                "stratum_id",
                pl.col("in_stratum_bucket").cast(pl.String).str.zfill(2),
            ).alias("group_id")
        )
    )
    groups = df["group_id"].unique().sort()
    gi = pl.DataFrame({"group_id": groups, "group_index": np.arange(len(groups), dtype=np.int32)})
    return df.join(gi, on="group_id", how="left", maintain_order="left").drop("h")


def floors(ctx: RunContext, grp: pl.DataFrame) -> dict:
    """The §3.2 floor metrics and which fail (G1 recomputes them from the published table)."""
    g_min, g_share, med_min, multi_min, largest_max = K.GROUPING_FLOORS[ctx.manifest.profile_id]
    sizes = grp.group_by("group_id").len()["len"].to_numpy()
    d = grp.height
    m = {
        "groups": int(sizes.shape[0]),
        "median_members": float(np.median(sizes)) if sizes.size else 0.0,
        "multi_member_share": float((sizes > 1).mean()) if sizes.size else 0.0,
        "largest_share": float(sizes.max() / d) if d else 0.0,
    }
    fails = []
    if m["groups"] < g_min:
        fails.append(f"G {m['groups']} < {g_min}")
    if m["groups"] > g_share * d:
        fails.append(f"G {m['groups']} > {g_share}·D = {g_share * d:g}")
    if m["median_members"] < med_min:
        fails.append(f"median members {m['median_members']:g} < {med_min}")
    if m["multi_member_share"] < multi_min:
        fails.append(f"multi-member share {m['multi_member_share']:.3f} < {multi_min}")
    if m["largest_share"] > largest_max:
        fails.append(f"largest group share {m['largest_share']:.4f} > {largest_max}")
    return {**m, "failing": fails}


def grouping_table(ctx: RunContext, grp: pl.DataFrame) -> pa.Table:
    vocab = load_cache(ctx).tzids
    classes = sorted(ctx.manifest.policies["latent_5B"]["sigma"]["class_multiplier"])
    return pa.table(
        {
            "merchant_id": pa.array(grp["merchant_id"].to_numpy(), pa.uint64()),
            "tzid": dict_array(
                codes(grp["tzid"].to_numpy(), vocab, state=STATE, what="tzid"), vocab
            ),
            "channel_group": dict_array(
                codes(grp["channel_group"].to_numpy(), list(K.CHANNELS), state=STATE, what="ch"),
                K.CHANNELS,
            ),
            "domain_row": pa.array(grp["domain_row"].to_numpy(), pa.int32()),
            "demand_class": dict_array(
                codes(grp["demand_class"].to_numpy(), classes, state=STATE, what="class"), classes
            ),
            "virtual_mode": dict_array(
                codes(grp["virtual_mode"].to_numpy(), sorted(K.MODES), state=STATE, what="mode"),
                sorted(K.MODES),
            ),
            **{
                c: grp[c].to_arrow()
                for c in (
                    "zone_group_id",
                    "stratum_id",
                    "stratum_size",
                    "in_stratum_buckets",
                    "in_stratum_bucket",
                    "group_id",
                    "group_index",
                )
            },
        }
    )


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    hz = horizon(ctx, STATE)
    check_grid(ctx, hz)
    dom = domain(ctx, STATE)
    if dom.select("merchant_id", "tzid", "channel_group").n_unique() != dom.height:
        raise EngineError("DOMAIN_DUPLICATE", STATE, "domain keys repeat")
    grp = grouping(ctx, dom)
    fl = floors(ctx, grp)
    if fl["failing"] and ctx.manifest.profile_id not in ADVISORY_PROFILES:
        raise EngineError("GROUPING_FLOOR_FAILED", STATE, "; ".join(fl["failing"]))
    io.write("s1_time_grid_5B", [time_grid(hz)])
    io.write("s1_grouping_5B", [grouping_table(ctx, grp)])
    meta = {k: v for k, v in fl.items() if k != "failing"}
    meta["floor_warnings"] = "; ".join(fl["failing"]) or "none"
    return io.result(rows=grp.height, metadata={"buckets": hz.h, **meta})
