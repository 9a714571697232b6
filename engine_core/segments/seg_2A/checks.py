"""Segment 2A checks (layer1 §3, REALISM): site time zones and the tz cache."""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine_core.checks import INTEGRITY, REALISM, Check, Outcome, at_least, not_evaluated, within
from engine_core.errors import EngineError
from engine_core.kernels import tzcache
from engine_core.refdata.world import tzdata_zone_bytes
from engine_core.segments.common import dataset_checks, input_path, read_table, zone_of_country
from engine_core.segments.seg_2A import constants as K
from engine_core.segments.seg_2A.s2_tz_timetable_cache import coverage, transitions_table
from engine_core.timeutil import parse_utc

S = "2A.VAL"


def _t(ctx, ds, cols=None):
    return read_table(ctx, ds, cols, state=S)


def load_cache(ctx) -> tuple[tzcache.TzCache, dict]:
    d = input_path(ctx, "tz_timetable_cache")
    try:
        return (
            tzcache.decode((d / "tz_cache.bin").read_bytes()),
            json.loads((d / "tz_cache_manifest.json").read_bytes()),
        )
    except FileNotFoundError as e:
        raise EngineError("SEALED_INPUT_MISSING", S, f"tz_timetable_cache: {e.filename}") from None


def s1_tz_integrity(ctx):
    st = _t(ctx, "site_timezones")
    loc = _t(ctx, "site_locations", ["site_id", "tile_id"])
    tiles = _t(ctx, "s1_tile_index", ["tile_id", "tzid"])
    ref = _t(ctx, "s1_country_reference", ["country_iso", "tzids"])
    same_sites = bool(
        np.array_equal(st.column("site_id").to_numpy(), loc.column("site_id").to_numpy())
    )
    outside = int((~zone_of_country(ref, st["legal_country_iso"], st["tzid"])).sum())
    tile_tz = pc.take(tiles["tzid"], pc.index_in(loc["tile_id"], tiles["tile_id"]))
    differs = int(pc.sum(pc.invert(pc.equal(tile_tz, st["tzid"])).cast("int64")).as_py() or 0)
    return Outcome(
        same_sites and outside == 0 and differs == 0,
        {
            "one_row_per_site": same_sites,
            "tzid_outside_country": outside,
            "differs_from_tile": differs,
        },
        "exact",
    )


def _share(ctx, col, value):
    c = _t(ctx, "site_timezones", [col]).column(0)
    return pc.mean(pc.equal(c, value).cast("float64")).as_py() or 0.0


def s1_city_tiebreak_share(ctx):
    v = _share(ctx, "tz_source", "CITY_TIEBREAK")
    return Outcome(v <= K.CITY_TIEBREAK_SHARE_MAX, v, {"max": K.CITY_TIEBREAK_SHARE_MAX})


def s1_top10_tzid_share(ctx):
    vc = pc.value_counts(_t(ctx, "site_timezones", ["tzid"]).column(0)).to_pylist()
    counts = np.sort(np.array([r["counts"] for r in vc]))[::-1]
    v = float(counts[:10].sum() / counts.sum()) if counts.size else 0.0
    return Outcome(v <= K.TOP10_TZID_SHARE_MAX, v, {"max": K.TOP10_TZID_SHARE_MAX})


def s1_dst_site_share(ctx):
    cache, _ = load_cache(ctx)
    s, e, *_ = coverage(ctx)
    zkey = np.repeat(np.arange(len(cache.tzids)), cache.count)
    inside = (cache.instants >= s) & (cache.instants < e)
    dst_zones = set(np.array(cache.tzids, dtype=object)[np.unique(zkey[inside])].tolist())
    tz = _t(ctx, "site_timezones", ["tzid"]).column(0)
    n_dst = int(
        pc.sum(pc.is_in(tz, pa.array(sorted(dst_zones), pa.string())).cast("int64")).as_py() or 0
    )
    share = n_dst / len(tz) if len(tz) else 0.0
    band = K.DST_SITE_SHARE.get(ctx.manifest.profile_id)
    if band is None:
        return at_least(n_dst, K.DST_SITES_MIN_TINY)
    return within(share, *band)


def s1_distinct_tzids(ctx):
    n = len(pc.unique(_t(ctx, "site_timezones", ["tzid"]).column(0)))
    floor = K.DISTINCT_TZIDS_MIN.get(ctx.manifest.profile_id)
    return at_least(n, floor) if floor else not_evaluated(n)


def s2_horizon_coverage(ctx):
    cache, man = load_cache(ctx)
    s, e, m, cs, ce = coverage(ctx)
    ok = (
        cache.coverage_start <= cs
        and cache.coverage_end >= ce
        and parse_utc(man["coverage_start_utc"]) == cache.coverage_start
        and parse_utc(man["coverage_end_utc"]) == cache.coverage_end
    )
    return Outcome(
        ok,
        {"coverage": [man["coverage_start_utc"], man["coverage_end_utc"]]},
        {"start_max": cs, "end_min": ce},
    )


def s2_hourly_agreement(ctx):
    """Every tzid at every h + 1800 s of the whole coverage against ZoneInfo (sealed bytes)."""
    cache, _ = load_cache(ctx)
    grid = np.arange(cache.coverage_start + 1800, cache.coverage_end, 3600, dtype=np.int64)
    jobs = [(z, grid) for z in cache.tzids]
    if ctx.workers > 1:
        with ProcessPoolExecutor(max_workers=ctx.workers) as ex:
            ref = list(ex.map(tzcache.zoneinfo_offsets, jobs, chunksize=8))
    else:
        ref = [tzcache.zoneinfo_offsets(j) for j in jobs]
    mismatches = 0
    for zi, r in enumerate(ref):  # one comparison per zone, vectorised over the grid
        got = cache.offset_at(np.full(grid.shape[0], zi), grid)
        mismatches += int((got != r).sum())
    return Outcome(
        mismatches == 0,
        {"lookups": int(grid.shape[0] * len(ref)), "mismatches": mismatches},
        {"mismatches": 0},
    )


def s2_transition_exactness(ctx):
    cache, _ = load_cache(ctx)
    zone = np.repeat(np.arange(len(cache.tzids)), cache.count)
    t = cache.instants
    ok_after = cache.offset_at(zone, t) == cache.offsets
    ok_before = cache.offset_at(zone, t - 1) == cache.before
    bad = int((~ok_after).sum() + (~ok_before).sum())
    return Outcome(bad == 0, {"transitions": int(t.shape[0]), "violations": bad}, 0)


def s2_tz_complete(ctx):
    cache, _ = load_cache(ctx)
    have = set(cache.tzids)
    need = set(pc.unique(_t(ctx, "s1_tile_index", ["tzid"]).column(0)).to_pylist())
    need |= set(pc.unique(_t(ctx, "site_timezones", ["tzid"]).column(0)).to_pylist())
    missing = sorted(need - have)
    not_in_tzdata = []
    for z in sorted(have):  # ≈ 356 zones
        try:
            tzdata_zone_bytes(z)
        except EngineError:
            not_in_tzdata.append(z)
    return Outcome(
        not missing and not not_in_tzdata,
        {"missing_from_cache": missing, "not_in_tzdata": not_in_tzdata},
        "exact",
    )


def s2_bin_parquet_agree(ctx):
    cache, man = load_cache(ctx)
    d = input_path(ctx, "tz_timetable_cache")
    pq_table = pq.read_table(d / "tz_transitions.parquet").replace_schema_metadata(None)
    rebuilt = transitions_table(cache)
    schema = ctx.dictionary.arrow_schema_of_ref("seg_2A.yaml#/$defs/tz_transitions")
    same = pq_table.cast(schema).equals(rebuilt.cast(schema))
    counts = man["tzid_count"] == len(cache.tzids) and man["transition_count"] == int(
        cache.count.sum()
    )
    return Outcome(same and counts, {"tables_equal": same, "manifest_counts": counts}, "exact")


CHECKS = [
    Check("2A.S1.tz_integrity", INTEGRITY, "site_timezones", s1_tz_integrity),
    Check("2A.S1.city_tiebreak_share", REALISM, "site_timezones", s1_city_tiebreak_share),
    Check("2A.S1.top10_tzid_share", REALISM, "site_timezones", s1_top10_tzid_share),
    Check("2A.S1.dst_site_share", REALISM, "site_timezones", s1_dst_site_share),
    Check("2A.S1.distinct_tzids", REALISM, "site_timezones", s1_distinct_tzids),
    Check("2A.S2.horizon_coverage", INTEGRITY, "tz_timetable_cache", s2_horizon_coverage),
    Check("2A.S2.hourly_agreement", INTEGRITY, "tz_timetable_cache", s2_hourly_agreement),
    Check("2A.S2.transition_exactness", INTEGRITY, "tz_timetable_cache", s2_transition_exactness),
    Check("2A.S2.tz_complete", INTEGRITY, "tz_timetable_cache", s2_tz_complete),
    Check("2A.S2.bin_parquet_agree", INTEGRITY, "tz_timetable_cache", s2_bin_parquet_agree),
    *dataset_checks("2A", {"site_timezones": "S1"}),
]
