"""5A.S6 checks A1–A14 (layer2 §2.7): full scans of the published 5A files. Hard checks are
blocking ERROR; realism gates are ERROR except advisory in tiny."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from engine_core.checks import INTEGRITY, REALISM, Check, Outcome, within
from engine_core.errors import EngineError
from engine_core.kernels.civil import local_hour_exposure
from engine_core.kernels.surface import surface_reference
from engine_core.segments.calendar import conventions
from engine_core.segments.common import input_parts, read_table
from engine_core.segments.seg_5A import constants as K
from engine_core.segments.seg_5A.s0_gate import check_domain
from engine_core.segments.seg_5A.s1_scenarios import horizon
from engine_core.segments.seg_5A.s5_surfaces import SurfaceInputs, part_surfaces
from engine_core.segments.tz import check_cache

S = "5A.S6"
BASELINE = "baseline"
STR = ("tzid", "channel_group", "demand_class", "size_class", "virtual_mode")


def _pl(ctx, ds, cols=None, scenario=None):
    if scenario is not None and scenario != ctx.scenario_id:
        from dataclasses import replace

        ctx = replace(ctx, scenario_id=scenario)
    df = pl.from_arrow(read_table(ctx, ds, cols, state=S))
    return df.with_columns(pl.col(c).cast(pl.String) for c in STR if c in df.columns)


def _parts(ctx, ds, cols=None, scenario=None):
    """The parts of a dense 5A dataset one at a time (part p = domain rows [2048p, …)), so a
    check's memory is bounded by the part size, not the world."""
    if scenario is not None and scenario != ctx.scenario_id:
        from dataclasses import replace

        ctx = replace(ctx, scenario_id=scenario)
    for path in input_parts(ctx, ds):
        df = pl.from_arrow(pq.read_table(path, columns=cols).replace_schema_metadata(None))
        yield df.with_columns(pl.col(c).cast(pl.String) for c in STR if c in df.columns)


def _profile(ctx):
    return _pl(ctx, "merchant_zone_profile_5A")


def a1_domain(ctx):
    prof = _profile(ctx)
    keys = ["merchant_id", "tzid", "channel_group"]
    za = _pl(ctx, "zone_alloc", ["merchant_id", "tzid"]).sort(["merchant_id", "tzid"])
    unique = prof.select(keys).n_unique() == prof.height
    same = prof.select("merchant_id", "tzid").equals(za)
    s_ok = True
    for ds in ("merchant_zone_scenario_utc_5A", "merchant_zone_scenario_local_5A"):
        got = pl.concat([p.select(keys).unique(maintain_order=True) for p in _parts(ctx, ds, keys)])
        s_ok &= got.equals(prof.select(keys))
    return Outcome(
        unique and same and s_ok,
        {"unique": unique, "equals_zone_alloc": same, "surfaces_cover_profile": s_ok},
        "exact",
    )


def a2_zone_site(ctx):
    try:
        return Outcome(True, check_domain(ctx), "exact")
    except EngineError as e:
        return Outcome(False, e.message, "exact")


def a3_shapes(ctx):
    sh = _pl(ctx, "class_zone_shape_5A")
    g = sh.group_by(["demand_class", "channel_group", "country_iso"]).agg(
        pl.col("weight").sum().alias("s"),
        (pl.col("weight") > 0).sum().alias("pos"),
        pl.len().alias("n"),
    )
    dev = float((g["s"] - 1).abs().max())
    cp = g.filter(pl.col("channel_group") == "card_present")
    cnp = g.filter(pl.col("channel_group") == "card_not_present")
    n_c = _pl(ctx, "s1_country_reference", ["country_iso"]).height
    n_k = len(ctx.manifest.policies["shapes_5A"]["classes"])
    ok = (
        dev <= K.SUM_TOL
        and bool((sh["weight"] >= 0).all())
        and bool((g["n"] == 168).all())
        and bool((cp["pos"] >= 35).all())
        and bool((cnp["pos"] == 168).all())
        and g.height == n_c * n_k * 2
    )
    return Outcome(ok, {"max_sum_dev": dev, "shapes": g.height}, {"shapes": n_c * n_k * 2})


def a4_dst_exposure(ctx):
    inp = SurfaceInputs(ctx)
    cols = ["tzid", "local_bucket_index", "exposure_seconds"]
    loc = (
        pl.concat([p.unique(cols) for p in _parts(ctx, "merchant_zone_scenario_local_5A", cols)])
        .unique(["tzid", "local_bucket_index"])
        .sort(["tzid", "local_bucket_index"])
    )
    bad, days_checked = 0, 0
    for tz, g in loc.group_by("tzid", maintain_order=True):  # one civil-segment set per zone
        seg = inp.segs(tz[0])
        hours, exposure = local_hour_exposure(seg)
        pub = np.zeros(hours.shape[0], dtype=np.int64)
        pub[g["local_bucket_index"].to_numpy()] = g["exposure_seconds"].to_numpy()
        bad += int((pub != exposure).sum())
        days = np.unique(seg.local_day)[1:-1]  # local dates fully inside the horizon
        for d in days.tolist():  # ≤ 92 days per zone
            m = seg.local_day == d
            # real length = 24 h − (offset at the day's end − offset in force as it began,
            # i.e. at the end of the previous local day): handles changes at local midnight
            before = int(seg.offset[seg.local_day == d - 1][-1])
            real = 86_400 - int(seg.offset[m][-1]) + before
            bad += int(seg.seconds[m].sum() != real)
            days_checked += 1
    return Outcome(bad == 0, {"violations": bad, "zone_days": days_checked}, 0)


def a5_conservation(ctx):
    keys = ["merchant_id", "tzid", "channel_group"]
    s, e, b = horizon(ctx.manifest.policies["scenarios_5A"], ctx.manifest.policies["horizon_world"])
    worst, rows, ok = 0.0, 0, True
    for u, lo in zip(
        _parts(ctx, "merchant_zone_scenario_utc_5A"),
        _parts(ctx, "merchant_zone_scenario_local_5A"),
        strict=True,
    ):
        j = (
            u.group_by(keys, maintain_order=True)
            .agg(pl.col("lambda_utc").sum())
            .join(lo.group_by(keys, maintain_order=True).agg(pl.col("lambda_local").sum()), on=keys)
        )
        worst = max(
            worst,
            float(
                ((j["lambda_utc"] - j["lambda_local"]).abs() / j["lambda_utc"].clip(1e-300)).max()
                or 0.0
            ),
        )
        lam = u["lambda_utc"].to_numpy()
        ok &= bool(np.isfinite(lam).all() and (lam >= 0).all() and (lo["lambda_local"] >= 0).all())
        rows += u.height
    ok &= worst <= K.CONSERVATION_REL and rows == _profile(ctx).height * ((e - s) // b)
    return Outcome(
        ok, {"max_rel_diff": worst, "utc_rows": rows}, {"max_rel_diff": K.CONSERVATION_REL}
    )


def a6_recomputation(ctx):
    """Both surfaces recomputed with the numpy reference (np.add.at sums) from S3/S4."""
    inp = SurfaceInputs(ctx)
    prof = _profile(ctx)
    ov_parts = input_parts(ctx, "merchant_zone_overlay_factors_5A")
    utc_parts = input_parts(ctx, "merchant_zone_scenario_utc_5A")
    worst = 0.0
    for p, start in enumerate(range(0, prof.height, K.PART_ROWS)):  # part by part
        ov = pl.from_arrow(pq.read_table(ov_parts[p]).replace_schema_metadata(None))
        ov = ov.with_columns(pl.col(c).cast(pl.String) for c in ("tzid", "channel_group"))
        u, _ = part_surfaces(inp, prof.slice(start, K.PART_ROWS), ov, kernel=surface_reference)
        pub = pq.read_table(utc_parts[p], columns=["lambda_utc"]).column(0).to_numpy()
        ref = u["lambda_utc"]
        worst = max(worst, float((np.abs(pub - ref) / np.maximum(np.abs(ref), 1e-300)).max()))
    return Outcome(worst <= K.RECOMPUTE_REL, worst, {"max_rel_diff": K.RECOMPUTE_REL})


def a7_volume(ctx):
    target = ctx.manifest.policies["demand_5A"]["volume"]["target_weekly_arrivals"]
    v = math.fsum(_profile(ctx)["weekly_volume"].to_list())
    rel = abs(v / target - 1)
    return Outcome(rel <= K.VOLUME_REL, rel, {"max": K.VOLUME_REL})


def _baseline_only(ctx, fn):
    if ctx.scenario_id != BASELINE:
        return Outcome(True, "evaluated in the baseline bundle", "baseline scenario only")
    return fn(ctx)


def a8_baseline_mass(ctx):
    def f(ctx):
        s, e, _ = horizon(
            ctx.manifest.policies["scenarios_5A"], ctx.manifest.policies["horizon_world"]
        )
        target = ctx.manifest.policies["demand_5A"]["volume"]["target_weekly_arrivals"]
        mass = math.fsum(
            float(p["lambda_utc"].sum())
            for p in _parts(ctx, "merchant_zone_scenario_utc_5A", ["lambda_utc"])
        )
        return within(
            mass / (target * (e - s) / 86_400 / 7), *K.BASELINE_MASS[ctx.manifest.profile_id]
        )

    return _baseline_only(ctx, f)


def _daily_mass(ctx, scenario):
    cols = ["merchant_id", "tzid", "channel_group", "local_bucket_start", "lambda_local"]
    for lo in _parts(ctx, "merchant_zone_scenario_local_5A", cols, scenario=scenario):
        yield (
            lo.with_columns(pl.col("local_bucket_start").dt.date().alias("local_date"))
            .group_by(["merchant_id", "tzid", "channel_group", "local_date"])
            .agg(pl.col("lambda_local").sum())
        )


def a9_scenario_response(ctx):
    if ctx.scenario_id == BASELINE:
        return Outcome(True, "not a stress scenario", "stress scenarios only")
    bands = K.SCENARIO_RESPONSE[ctx.manifest.profile_id].get(ctx.scenario_id)
    if bands is None:
        return Outcome(True, "no response band for this scenario", "SKIPPED")
    keys = ["merchant_id", "tzid", "channel_group", "local_date"]
    base_ov = _pl(ctx, "merchant_zone_overlay_factors_5A", scenario=BASELINE)
    if ctx.scenario_id == "holiday_peak":
        tgt = base_ov.filter((pl.col("holiday_factor") > 1) | (pl.col("event_factor") > 1))
    else:
        tgt = base_ov.filter(pl.col("is_payday"))
    tgt = tgt.select(keys)
    acc = np.zeros(4)  # stress target, base target, stress other, base other
    n_target = 0
    for ms, mb in zip(
        _daily_mass(ctx, ctx.scenario_id), _daily_mass(ctx, BASELINE), strict=True
    ):  # parts align across scenarios (the same domain rows)
        m = ms.join(mb, on=keys, suffix="_base")
        is_t = m.join(tgt, on=keys, how="semi")
        other = m.join(tgt, on=keys, how="anti")
        n_target += is_t.height
        acc += [
            is_t["lambda_local"].sum(),
            is_t["lambda_local_base"].sum(),
            other["lambda_local"].sum(),
            other["lambda_local_base"].sum(),
        ]
    if n_target == 0:
        return Outcome(True, "SKIPPED: no target dates in the horizon", "target ≥ band")
    rt, ro = float(acc[0] / acc[1]), float(acc[2] / acc[3])
    t_min, (o_lo, o_hi) = bands
    return Outcome(
        rt >= t_min and o_lo <= ro <= o_hi,
        {"target": rt, "other": ro},
        {"target_min": t_min, "other": [o_lo, o_hi]},
    )


def a10_holiday_coverage(ctx):
    def f(ctx):
        hol = set(_pl(ctx, "holiday_calendar_5A", ["country_iso"])["country_iso"].to_list())
        prof = _profile(ctx)
        s, e, b = horizon(
            ctx.manifest.policies["scenarios_5A"], ctx.manifest.policies["horizon_world"]
        )
        per_row = np.concatenate(
            [
                p["lambda_utc"].to_numpy().reshape(-1, (e - s) // b).sum(axis=1)
                for p in _parts(ctx, "merchant_zone_scenario_utc_5A", ["lambda_utc"])
            ]
        )
        covered = prof["legal_country_iso"].is_in(sorted(hol)).to_numpy()
        return at_least_share(
            float(per_row[covered].sum() / per_row.sum()),
            K.HOLIDAY_COVERAGE_MIN[ctx.manifest.profile_id],
        )

    return _baseline_only(ctx, f)


def at_least_share(v, lo):
    return Outcome(v >= lo, v, {"min": lo})


def a11_volume_tail(ctx):
    w = np.sort(_profile(ctx)["weekly_volume"].to_numpy())[::-1]
    top = int(math.ceil(0.01 * w.shape[0]))
    v = float(w[:top].sum() / w.sum())
    lim = K.VOLUME_TAIL_MAX[ctx.manifest.profile_id]
    return Outcome(v <= lim, v, {"max": lim})


def a12_weekend_share(ctx):
    def f(ctx):
        prof = _profile(ctx).select("merchant_id", "tzid", "channel_group", "legal_country_iso")
        conv = conventions(
            ctx.manifest.policies["shapes_5A"], prof["legal_country_iso"].unique().to_list()
        )
        wk = pl.DataFrame(
            {
                "legal_country_iso": list(conv),
                "w0": [c[0][0] for c in conv.values()],
                "w1": [c[0][1] for c in conv.values()],
            }
        )
        cols = ["merchant_id", "tzid", "channel_group", "slot_index", "lambda_local"]
        total = weekend = 0.0
        for lo in _parts(ctx, "merchant_zone_scenario_local_5A", cols):
            cp = (
                lo.filter(pl.col("channel_group") == "card_present")
                .join(prof, on=["merchant_id", "tzid", "channel_group"])
                .join(wk, on="legal_country_iso")
                .with_columns((pl.col("slot_index") // 24).alias("dow"))
            )
            total += float(cp["lambda_local"].sum())
            weekend += float(
                cp.filter((pl.col("dow") == pl.col("w0")) | (pl.col("dow") == pl.col("w1")))[
                    "lambda_local"
                ].sum()
            )
        return within(weekend / total if total else 0.0, *K.WEEKEND_SHARE[ctx.manifest.profile_id])

    return _baseline_only(ctx, f)


def a13_tz_cache(ctx):
    s, e, _ = horizon(ctx.manifest.policies["scenarios_5A"], ctx.manifest.policies["horizon_world"])
    tz = sorted(_profile(ctx)["tzid"].unique().to_list())
    try:
        return Outcome(True, check_cache(ctx, s, e, tz), "100 %")
    except EngineError as err:
        return Outcome(False, err.message, "100 %")


def a14_schemas(ctx):
    bad = []
    for ds, spec in ctx.dictionary.datasets.items():
        if spec.segment != "5A" or spec.format != "parquet":
            continue
        want = ctx.dictionary.arrow_schema_of(ds).remove_metadata()
        for p in input_parts(ctx, ds):
            if not pq.read_schema(p).remove_metadata().equals(want):
                bad.append(f"{ds}/{p.name}")
    return Outcome(not bad, {"mismatches": bad}, "100 %")


V = "validation_bundle_5A"
CHECKS = [
    Check("5A.S6.A1", INTEGRITY, V, a1_domain),
    Check("5A.S6.A2", INTEGRITY, V, a2_zone_site),
    Check("5A.S6.A3", INTEGRITY, V, a3_shapes),
    Check("5A.S6.A4", INTEGRITY, V, a4_dst_exposure),
    Check("5A.S6.A5", INTEGRITY, V, a5_conservation),
    Check("5A.S6.A6", INTEGRITY, V, a6_recomputation),
    Check("5A.S6.A7", INTEGRITY, V, a7_volume),
    Check("5A.S6.A8", REALISM, V, a8_baseline_mass),
    Check("5A.S6.A9", REALISM, V, a9_scenario_response),
    Check("5A.S6.A10", REALISM, V, a10_holiday_coverage),
    Check("5A.S6.A11", REALISM, V, a11_volume_tail),
    Check("5A.S6.A12", REALISM, V, a12_weekend_share),
    Check("5A.S6.A13", INTEGRITY, V, a13_tz_cache),
    Check("5A.S6.A14", INTEGRITY, V, a14_schemas),
]
