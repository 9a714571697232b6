"""Segment 1B checks (layer1 §2, REALISM): pure functions of the published files."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine_core.checks import INTEGRITY, REALISM, Check, Outcome, at_least, within
from engine_core.kernels.integerise import segment_sums_nb
from engine_core.kernels.runs import run_offsets
from engine_core.refdata.tzfinder import zone_ids
from engine_core.segments.common import dataset_checks, lookup, read_table, zone_of_country
from engine_core.segments.rng_checks import rng_accounting
from engine_core.segments.seg_1B import constants as K
from engine_core.segments.seg_1B.s1_tile_index import build as build_tiles

S = "1B.VAL"


def _t(ctx, ds, cols=None):
    return read_table(ctx, ds, cols, state=S)


def s1_tile_integrity(ctx):
    tiles = _t(ctx, "s1_tile_index", ["tile_id", "country_iso", "tzid"])
    ref = _t(ctx, "s1_country_reference", ["country_iso", "tzids"])
    bad_tz = int((~zone_of_country(ref, tiles["country_iso"], tiles["tzid"])).sum())
    ids = tiles.column("tile_id").to_numpy()
    dup = ids.shape[0] - np.unique(ids).shape[0]
    missing = sorted(
        set(ref.column(0).to_pylist()) - set(pc.unique(tiles["country_iso"]).to_pylist())
    )
    return Outcome(
        not missing and dup == 0 and bad_tz == 0,
        {"countries_without_tiles": missing, "duplicate_ids": dup, "tzid_outside_country": bad_tz},
        "exact",
    )


def _drop_stats(ctx):
    # recomputed from the sealed reference data and the published countries (RNG-free)
    _, meta = build_tiles(ctx, _t(ctx, "s1_country_reference", ["country_iso", "tzids"]))
    return meta


def s1_dropped_population(ctx):
    m = _drop_stats(ctx)
    share = m["dropped_population"] / m["source_population"] if m["source_population"] else 0.0
    return Outcome(share <= K.DROPPED_POPULATION_MAX, share, {"max": K.DROPPED_POPULATION_MAX})


def s1_polygon_share(ctx):
    src = _t(ctx, "s1_tile_index", ["tz_source"]).column(0)
    return at_least(pc.mean(pc.equal(src, "POLYGON").cast("float64")).as_py(), K.POLYGON_SHARE_MIN)


def s2_weight_sum(ctx):
    w = _t(ctx, "s2_tile_weights")
    iso = np.asarray(w.column("country_iso").to_pylist(), dtype=object)
    sums = segment_sums_nb(w.column("weight").to_numpy(), run_offsets(iso))
    dev = float(np.abs(sums - 1.0).max()) if sums.size else 0.0
    return Outcome(dev <= K.WEIGHT_SUM_TOL, dev, {"max_abs_dev": K.WEIGHT_SUM_TOL})


def s4_alloc_integrity(ctx):
    plan = _t(ctx, "s4_alloc_plan")
    req = _t(ctx, "s3_site_requirements")
    iso = np.asarray(plan.column("country_iso").to_pylist(), dtype=object)
    off = run_offsets(iso)
    sums = (
        np.add.reduceat(plan.column("n_sites").to_numpy().astype(np.int64), off[:-1])
        if iso.size
        else np.zeros(0, np.int64)
    )
    need = req.filter(pc.greater(req["n_sites"], 0))
    same = iso[off[:-1]].tolist() == need.column("country_iso").to_pylist() and bool(
        np.array_equal(sums, need.column("n_sites").to_numpy().astype(np.int64))
    )
    dev = (
        float(np.abs(plan.column("n_sites").to_numpy() - plan.column("quota").to_numpy()).max())
        if plan.num_rows
        else 0.0
    )
    # tiles left out of the plan got 0 sites: their quotas must be < 1 as well
    w = _t(ctx, "s2_tile_weights")
    n_c = dict(
        zip(need.column("country_iso").to_pylist(), need.column("n_sites").to_pylist(), strict=True)
    )
    wi = np.asarray(w.column("country_iso").to_pylist(), dtype=object)
    tot = np.array([n_c.get(c, 0) for c in np.unique(wi)])[np.unique(wi, return_inverse=True)[1]]
    q0 = tot * w.column("weight").to_numpy()
    planned = pc.is_in(w["tile_id"], plan["tile_id"]).to_numpy(zero_copy_only=False)
    dev0 = float(q0[~planned].max()) if (~planned).any() else 0.0
    return Outcome(
        same and dev < 1 and dev0 < 1,
        {"sums_match": same, "max_abs_dev": dev, "max_unplanned_quota": dev0},
        "Σn_t = N_c; |n_t − quota_t| < 1",
    )


def s4_big_city_share(ctx):
    """Pooled over the supported countries (N_c ≥ 200): the share of their sites placed on
    tiles of ≥ 100k people vs the share SYS is expected to place there (Σ N_c·weight share).
    Pooling is the reading that tests what the gate is for — the LRR bias towards big cities
    (layer1 §0.5) — since one country's SYS noise alone is ≈ 0.025 (see the issue note)."""
    plan = _t(ctx, "s4_alloc_plan")
    req = _t(ctx, "s3_site_requirements")
    tiles = _t(ctx, "s1_tile_index", ["tile_id", "population"])
    w = _t(ctx, "s2_tile_weights")
    big_ids = pc.filter(
        tiles["tile_id"], pc.greater_equal(tiles["population"], K.BIG_CITY_POPULATION)
    )
    sup = req.filter(pc.greater_equal(req["n_sites"], K.BIG_CITY_MIN_SITES))
    n_c = dict(
        zip(sup.column("country_iso").to_pylist(), sup.column("n_sites").to_pylist(), strict=True)
    )
    if not n_c:
        return Outcome(True, {"countries": 0}, "skipped: no country with N_c ≥ 200")
    in_sup = pa.array(sorted(n_c), pa.string())
    wb = w.filter(pc.and_(pc.is_in(w["country_iso"], in_sup), pc.is_in(w["tile_id"], big_ids)))
    iso_w = np.asarray(wb.column("country_iso").to_pylist(), dtype=object)
    expected = float((lookup(iso_w, n_c) * wb.column("weight").to_numpy()).sum())
    pb = plan.filter(
        pc.and_(pc.is_in(plan["country_iso"], in_sup), pc.is_in(plan["tile_id"], big_ids))
    )
    placed = int(pc.sum(pb["n_sites"]).as_py() or 0)
    total = sum(n_c.values())
    dev = abs(placed - expected) / total
    return Outcome(
        dev <= K.BIG_CITY_SHARE_TOL,
        {
            "abs_dev": dev,
            "site_share": placed / total,
            "weight_share": expected / total,
            "countries": len(n_c),
            "sites": total,
        },
        {"max": K.BIG_CITY_SHARE_TOL, "support_min_sites": K.BIG_CITY_MIN_SITES},
    )


def s4_rng_accounting(ctx):
    n = _t(ctx, "s4_alloc_plan", ["country_iso"])
    c = len(pc.unique(n.column(0)))
    return rng_accounting(ctx, "rng_trace_log_1B_S4", {"1B.S4.alloc_sys.v1": (c, c, c)})


def s5_assignment_integrity(ctx):
    a = _t(ctx, "s5_site_tile_assignment")
    cat = _t(ctx, "outlet_catalogue", ["site_id", "legal_country_iso"])
    plan = _t(ctx, "s4_alloc_plan")
    tiles = _t(ctx, "s1_tile_index", ["tile_id", "country_iso"])
    same_sites = bool(
        np.array_equal(a.column("site_id").to_numpy(), cat.column("site_id").to_numpy())
    )
    counts = pc.value_counts(a["tile_id"]).to_pylist()
    got = {r["values"]: r["counts"] for r in counts}
    want = dict(
        zip(plan.column("tile_id").to_pylist(), plan.column("n_sites").to_pylist(), strict=True)
    )
    idx = pc.index_in(a["tile_id"], tiles["tile_id"])
    tile_country = pc.take(tiles["country_iso"], idx)
    wrong_country = (
        int(
            pc.sum(pc.invert(pc.equal(tile_country, a["legal_country_iso"])).cast("int64")).as_py()
            or 0
        )
        + idx.null_count
    )
    ok = same_sites and got == want and wrong_country == 0
    return Outcome(
        ok,
        {
            "sites_match": same_sites,
            "tile_counts_match": got == want,
            "outside_legal_country": wrong_country,
        },
        "exact",
    )


def s5_rng_accounting(ctx):
    req = _t(ctx, "s3_site_requirements")
    n = req.column("n_sites").to_numpy().astype(np.int64)
    n = n[n > 0]
    return rng_accounting(
        ctx,
        "rng_trace_log_1B_S5",
        {"1B.S5.site_shuffle.v1": (int(n.shape[0]), int(n.sum()), int(((n + 1) // 2).sum()))},
    )


def _locations(ctx):
    loc = _t(ctx, "site_locations")
    tiles = _t(ctx, "s1_tile_index", ["tile_id", "radius_km", "tz_poly_id"])
    idx = pc.index_in(loc["tile_id"], tiles["tile_id"]).to_numpy()
    return (
        loc,
        tiles.column("radius_km").to_numpy()[idx],
        tiles.column("tz_poly_id").to_numpy()[idx],
    )


def s6_jitter_integrity(ctx):
    loc, radius, poly = _locations(ctx)
    cat_rows = _t(ctx, "outlet_catalogue", ["site_id"]).num_rows
    lat, lon = loc.column("lat_deg").to_numpy(), loc.column("lon_deg").to_numpy()
    off = loc.column("offset_km").to_numpy()
    fb = loc.column("jitter_fallback").to_numpy(zero_copy_only=False)
    in_range = bool(((np.abs(lat) <= 90) & (lon >= -180) & (lon <= 180)).all())
    off_ok = bool((off <= radius + K.OFFSET_TOL_KM).all() and (off >= 0).all())
    ids = zone_ids(lat[~fb], lon[~fb], land_only=False)  # the acceptance rule, recomputed
    bad_accept = int((ids != poly[~fb]).sum())
    ok = loc.num_rows == cat_rows and in_range and off_ok and bad_accept == 0
    return Outcome(
        ok,
        {
            "rows": loc.num_rows,
            "catalogue_rows": cat_rows,
            "in_range": in_range,
            "offset_within_radius": off_ok,
            "acceptance_violations": bad_accept,
        },
        "exact",
    )


def s6_fallback_rate(ctx):
    fb = _t(ctx, "site_locations", ["jitter_fallback"]).column(0)
    return Outcome(
        (rate := pc.mean(fb.cast("float64")).as_py() or 0.0) <= K.FALLBACK_RATE_MAX,
        rate,
        {"max": K.FALLBACK_RATE_MAX},
    )


def s6_mean_attempts(ctx):
    a = _t(ctx, "site_locations", ["jitter_attempts"]).column(0)
    m = pc.mean(a.cast("float64")).as_py() or 0.0
    return Outcome(m <= K.MEAN_ATTEMPTS_MAX, m, {"max": K.MEAN_ATTEMPTS_MAX})


def s6_median_offset_ratio(ctx):
    loc, radius, _ = _locations(ctx)
    ratio = loc.column("offset_km").to_numpy() / radius
    return within(float(np.median(ratio)) if ratio.size else math.nan, *K.MEDIAN_OFFSET_RATIO)


def s6_rng_accounting(ctx):
    a = _t(ctx, "site_locations", ["jitter_attempts"]).column(0).to_numpy().astype(np.int64)
    return rng_accounting(
        ctx,
        "rng_trace_log_1B_S6",
        {"1B.S6.jitter.v1": (int(a.shape[0]), int(2 * a.sum()), int(a.sum()))},
    )


CHECKS = [
    Check("1B.S1.tile_integrity", INTEGRITY, "s1_tile_index", s1_tile_integrity),
    Check("1B.S1.dropped_population", REALISM, "s1_tile_index", s1_dropped_population),
    Check("1B.S1.polygon_share", REALISM, "s1_tile_index", s1_polygon_share),
    Check("1B.S2.weight_sum", INTEGRITY, "s2_tile_weights", s2_weight_sum),
    Check("1B.S4.alloc_integrity", INTEGRITY, "s4_alloc_plan", s4_alloc_integrity),
    Check("1B.S4.sys_bounds", INTEGRITY, "s4_alloc_plan", s4_alloc_integrity),
    Check("1B.S4.rng_accounting", INTEGRITY, "s4_alloc_plan", s4_rng_accounting),
    Check("1B.S4.big_city_share", REALISM, "s4_alloc_plan", s4_big_city_share),
    Check(
        "1B.S5.assignment_integrity", INTEGRITY, "s5_site_tile_assignment", s5_assignment_integrity
    ),
    Check("1B.S5.rng_accounting", INTEGRITY, "s5_site_tile_assignment", s5_rng_accounting),
    Check("1B.S6.jitter_integrity", INTEGRITY, "site_locations", s6_jitter_integrity),
    Check("1B.S6.rng_accounting", INTEGRITY, "site_locations", s6_rng_accounting),
    Check("1B.S6.fallback_rate", REALISM, "site_locations", s6_fallback_rate),
    Check("1B.S6.mean_attempts", REALISM, "site_locations", s6_mean_attempts),
    Check("1B.S6.median_offset_ratio", REALISM, "site_locations", s6_median_offset_ratio),
    *dataset_checks(
        "1B",
        {
            "s1_tile_index": "S1",
            "s2_tile_weights": "S2",
            "s3_site_requirements": "S3",
            "s4_alloc_plan": "S4",
            "s5_site_tile_assignment": "S5",
            "site_locations": "S6",
        },
    ),
]
