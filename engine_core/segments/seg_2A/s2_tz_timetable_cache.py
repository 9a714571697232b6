"""2A.S2 — the tz timetable cache (SF, RNG-free): TZC2 binary, transitions Parquet and a
canonical-JSON manifest over the world horizon ± max(margin, 366) days."""

from __future__ import annotations

import hashlib

import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.identity import canonical_json, engine_version
from engine_core.io.parquet import kv_metadata, write_parquet
from engine_core.io.publish import staging_path
from engine_core.kernels import tzcache
from engine_core.segments.state_io import open_state
from engine_core.timeutil import parse_utc, utc_str

STATE = "2A.S2"
DATASET = "tz_timetable_cache"
DAY = 86_400


def coverage(ctx: RunContext) -> tuple[int, int, int, int, int]:
    """``(S, E, M_days, coverage_start, coverage_end)`` from the world horizon."""
    h = ctx.manifest.policies["horizon_world"]
    s, e = parse_utc(h["start_utc"]), parse_utc(h["end_utc"])
    if e <= s:
        raise EngineError("POLICY_INVALID", STATE, "policies/world/horizon.yaml: end ≤ start")
    m = max(int(h["tz_cache_margin_days"]), 366)
    return s, e, m, s - m * DAY, e + m * DAY


def transitions_table(c: tzcache.TzCache) -> pa.Table:
    """INITIAL row per zone at the coverage start, then its TRANSITION rows."""
    import numpy as np

    nz = len(c.tzids)
    rows_per = 1 + c.count
    zone = np.repeat(np.arange(nz), rows_per)
    pos = np.arange(zone.shape[0]) - np.repeat(np.cumsum(rows_per) - rows_per, rows_per)
    initial = pos == 0
    tidx = np.where(initial, 0, c.first[zone] + pos - 1)
    before = c.before
    safe = np.minimum(tidx, max(len(c.instants) - 1, 0))
    inst = np.where(initial, c.coverage_start, c.instants[safe] if c.instants.size else 0)
    off = np.where(initial, c.initial_offset[zone], c.offsets[safe] if c.offsets.size else 0)
    bef = np.where(initial, c.initial_offset[zone], before[safe] if before.size else 0)
    dst = np.where(initial, c.initial_dst[zone], c.is_dst[safe] if c.is_dst.size else False)
    return pa.table(
        {
            "tzid": np.array(c.tzids, dtype=object)[zone].tolist(),
            "kind": np.where(initial, "INITIAL", "TRANSITION").tolist(),
            "transition_utc": pa.array(
                inst.astype(np.int64) * 1_000_000, pa.timestamp("us", "UTC")
            ),
            "offset_seconds": pa.array(off, pa.int32()),
            "offset_before_s": pa.array(bef, pa.int32()),
            "is_dst_after": pa.array(dst.astype(bool)),
        }
    )


def run(ctx: RunContext) -> StateResult:
    import tzdata

    io = open_state(ctx, STATE)
    pol = ctx.manifest.policies["civil_time_2A"]["cache"]
    countries = io.read_table("s1_country_reference", ["tzids"])
    tzids = sorted(
        {z for zs in countries.column(0).to_pylist() for z in zs} | set(pol["extra_tzids"])
    )
    s, e, m, cs, ce = coverage(ctx)
    cache = tzcache.build(
        tzids, cs, ce, pol["detection_step_s"], tzdata.IANA_VERSION, workers=ctx.workers
    )
    staged = staging_path(ctx.data_root, DATASET)
    staged.mkdir()
    binary = tzcache.encode(cache)
    (staged / "tz_cache.bin").write_bytes(binary)
    meta = kv_metadata(
        DATASET,
        mf=ctx.mf,
        ph=ctx.ph,
        seed=None,
        scenario_id=None,
        part_index=0,
        spec_version=ctx.dictionary.spec_version,
        engine_version=engine_version(),
    )
    meta.update(
        {
            "fwe.tzdata_version": tzdata.__version__,
            "fwe.coverage_start_utc": utc_str(cs),
            "fwe.coverage_end_utc": utc_str(ce),
        }
    )
    schema = ctx.dictionary.arrow_schema_of_ref("seg_2A.yaml#/$defs/tz_transitions")
    table = transitions_table(cache)
    write_parquet(
        table,
        staged / "tz_transitions.parquet",
        schema=schema,
        metadata=meta,
        where=f"{DATASET}/tz_transitions.parquet",
        state=STATE,
    )
    manifest = {
        "format_version": 2,
        "iana_release": tzdata.IANA_VERSION,
        "tzdata_version": tzdata.__version__,
        "world_horizon_start_utc": utc_str(s),
        "world_horizon_end_utc": utc_str(e),
        "coverage_start_utc": utc_str(cs),
        "coverage_end_utc": utc_str(ce),
        "margin_days": m,
        "tzid_count": len(cache.tzids),
        "transition_count": int(cache.count.sum()),
        "tz_cache_bin_sha256": hashlib.sha256(binary).hexdigest(),
        "tz_transitions_sha256": hashlib.sha256(
            (staged / "tz_transitions.parquet").read_bytes()
        ).hexdigest(),
    }
    ctx.dictionary.schemas.validate(
        manifest,
        "seg_2A.yaml#/$defs/tz_cache_manifest",
        file="tz_cache_manifest.json",
        code="SCHEMA_VIOLATION",
        state=STATE,
    )
    (staged / "tz_cache_manifest.json").write_bytes(canonical_json(manifest))
    io.publish_dir(DATASET, staged, rows=table.num_rows)
    return io.result(
        rows=len(cache.tzids),
        metadata={"tzids": len(cache.tzids), "transitions": int(cache.count.sum())},
    )
