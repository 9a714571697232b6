"""Segment 2B checks (layer1 §4, REALISM)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow.compute as pc

from engine_core.checks import INTEGRITY, REALISM, Check, Outcome, within
from engine_core.kernels import alias_blob
from engine_core.segments.alias_checks import alias_integrity
from engine_core.segments.common import dataset_checks, input_path, lookup, read_table
from engine_core.segments.rng_checks import rng_accounting
from engine_core.segments.seg_2B import constants as K
from engine_core.segments.seg_2B.s3_day_effects import horizon_days

S = "2B.VAL"


def _t(ctx, ds, cols=None):
    return read_table(ctx, ds, cols, state=S)


def _pl(ctx, ds, cols=None):
    return pl.from_arrow(_t(ctx, ds, cols))


def s1_weight_integrity(ctx):
    w = _pl(ctx, "s1_site_weights")
    sites = _t(ctx, "site_timezones", ["site_id"]).column(0).to_numpy()
    same = bool(np.array_equal(w["site_id"].to_numpy(), sites))
    by_m = w.group_by("merchant_id").agg(pl.col("p_weight").sum())
    by_mt = w.group_by(["merchant_id", "tzid"]).agg(
        pl.col("p_weight_in_tz").sum(),
        pl.col("p_weight").sum().alias("share"),
        pl.col("tz_share").first(),
    )
    dev_m = float((by_m["p_weight"] - 1).abs().max() or 0)
    dev_t = float((by_mt["p_weight_in_tz"] - 1).abs().max() or 0)
    dev_s = float((by_mt["share"] - by_mt["tz_share"]).abs().max() or 0)
    vals = w.select("w_raw", "p_weight", "p_weight_in_tz").to_numpy()
    positive = bool(np.isfinite(vals).all() and (vals > 0).all())
    ok = same and positive and max(dev_m, dev_t, dev_s) <= K.SUM_TOL
    return Outcome(
        ok,
        {
            "rows_match_sites": same,
            "positive_finite": positive,
            "merchant_sum_dev": dev_m,
            "tz_sum_dev": dev_t,
            "tz_share_dev": dev_s,
        },
        {"tol": K.SUM_TOL},
    )


def _big_merchants(ctx):
    w = _pl(ctx, "s1_site_weights", ["merchant_id", "p_weight"])
    return w.filter(pl.len().over("merchant_id") >= K.GINI_MIN_SITES)


def s1_median_gini(ctx):
    w = _big_merchants(ctx)
    if w.height == 0:
        return Outcome(True, {"merchants": 0}, "skipped: no merchant with ≥ 10 sites")
    g = (
        w.sort(["merchant_id", "p_weight"])
        .with_columns(
            pl.int_range(1, pl.len() + 1).over("merchant_id").alias("i"),
            pl.len().over("merchant_id").alias("n"),
        )
        .group_by("merchant_id")
        .agg(((2 * pl.col("i") - pl.col("n") - 1) * pl.col("p_weight")).sum() / pl.col("n").first())
    )
    med = float(g[g.columns[1]].median())
    return within(med, *K.MEDIAN_GINI)


def s1_median_top_site_share(ctx):
    w = _big_merchants(ctx)
    if w.height == 0:
        return Outcome(True, {"merchants": 0}, "skipped: no merchant with ≥ 10 sites")
    med = float(w.group_by("merchant_id").agg(pl.col("p_weight").max())["p_weight"].median())
    return Outcome(med <= K.MEDIAN_TOP_SITE_SHARE_MAX, med, {"max": K.MEDIAN_TOP_SITE_SHARE_MAX})


def s1_rng_accounting(ctx):
    n = _t(ctx, "s1_site_weights", ["site_id"]).num_rows
    return rng_accounting(ctx, "rng_trace_log_2B_S1", {"2B.S1.site_weight.v1": (n, n, n)})


def s2_alias_integrity(ctx):
    idx = _t(ctx, "s2_alias_index")
    pairs = (
        _pl(ctx, "site_timezones", ["merchant_id", "tzid"]).unique().sort(["merchant_id", "tzid"])
    )
    keys_ok = (
        pairs["merchant_id"].to_numpy().tolist() == idx.column("merchant_id").to_pylist()
        and pairs["tzid"].to_list() == idx.column("tzid").to_pylist()
    )
    tz = np.asarray(idx.column("tzid").to_pylist(), dtype=object)
    subkeys = lookup(tz, {z: alias_blob.site_subkey(z) for z in set(tz.tolist())}, np.uint64)
    w = _t(ctx, "s1_site_weights", ["site_id", "p_weight_in_tz"])
    return alias_integrity(
        idx,
        input_path(ctx, "s2_alias_index"),
        input_path(ctx, "s2_alias_blob"),
        want_keys=keys_ok,
        subkeys=subkeys,
        entity=w.column(0).to_numpy(),
        weight=w.column(1).to_numpy(),
        state=S,
    )


def s3_coverage(ctx):
    d = _pl(ctx, "s3_day_effects", ["merchant_id", "tzid", "day_index", "gamma"])
    pairs = _pl(ctx, "site_timezones", ["merchant_id", "tzid"]).unique().height
    _, days = horizon_days(ctx)
    per = d.group_by(["merchant_id", "tzid"]).agg(
        pl.col("day_index").n_unique().alias("u"), pl.len().alias("n")
    )
    full = bool(((per["u"] == days) & (per["n"] == days)).all()) and per.height == pairs
    g = d["gamma"].to_numpy()
    ok = full and d.height == pairs * days and bool((np.isfinite(g) & (g > 0)).all())
    return Outcome(
        ok,
        {"rows": d.height, "pairs": pairs, "days": days, "complete": full},
        "rows = pairs × D; gamma > 0 and finite",
    )


def s3_gamma_mean(ctx):
    g = _t(ctx, "s3_day_effects", ["gamma"]).column(0)
    return within(pc.mean(g).as_py(), *K.GAMMA_MEAN[ctx.manifest.profile_id])


def s3_gamma_cv(ctx):
    sig = ctx.manifest.policies["routing_weights_2B"]["day_effects"]["sigma_by_group"]
    d = _pl(ctx, "s3_day_effects", ["merchant_id", "gamma"]).join(
        _pl(ctx, "merchant_universe", ["merchant_id", "mcc_group"]), on="merchant_id"
    )
    g = d.group_by("mcc_group").agg(
        pl.len().alias("n"), (pl.col("gamma").std() / pl.col("gamma").mean()).alias("cv")
    )
    g = g.filter(pl.col("n") >= K.GAMMA_CV_MIN_ROWS).sort("mcc_group")
    dev = {
        grp: cv / sig[grp] - 1
        for grp, cv in zip(g["mcc_group"].to_list(), g["cv"].to_list(), strict=True)
    }  # ≤ 11 groups
    worst = max((abs(v) for v in dev.values()), default=0.0)
    return Outcome(
        worst <= K.GAMMA_CV_REL_TOL,
        {"worst": worst, "rel_dev": dev},
        {"max_rel_dev": K.GAMMA_CV_REL_TOL, "support_rows": K.GAMMA_CV_MIN_ROWS},
    )


def s3_lag1_autocorr(ctx):
    d = _pl(ctx, "s3_day_effects", ["merchant_id", "tzid", "gamma"])
    x = d["gamma"].to_numpy()
    same = np.concatenate(
        [
            [False],
            (d["merchant_id"].to_numpy()[1:] == d["merchant_id"].to_numpy()[:-1])
            & (d["tzid"].to_numpy()[1:] == d["tzid"].to_numpy()[:-1]),
        ]
    )
    c = x - x.mean()
    rho = float((c[1:][same[1:]] * c[:-1][same[1:]]).sum() / (c * c).sum()) if x.size else 0.0
    return Outcome(abs(rho) <= K.LAG1_AUTOCORR_MAX, rho, {"max_abs": K.LAG1_AUTOCORR_MAX})


def s3_rng_accounting(ctx):
    pairs = _pl(ctx, "site_timezones", ["merchant_id", "tzid"]).unique().height
    _, d = horizon_days(ctx)
    return rng_accounting(
        ctx,
        "rng_trace_log_2B_S3",
        {"2B.S3.day_effect.v1": (pairs, pairs * d, pairs * ((d + 1) // 2))},
    )


def s4_group_weights_integrity(ctx):
    g = _pl(ctx, "s4_group_weights", ["merchant_id", "utc_day", "tz_group_id", "p_group"])
    d = _pl(ctx, "s3_day_effects", ["merchant_id", "utc_day", "tzid"])
    sums = g.group_by(["merchant_id", "utc_day"]).agg(pl.col("p_group").sum())
    dev = float((sums["p_group"] - 1).abs().max() or 0)
    cov = g.height == d.height and g.select("merchant_id", "utc_day", "tz_group_id").sort(
        ["merchant_id", "utc_day", "tz_group_id"]
    ).equals(d.rename({"tzid": "tz_group_id"}).sort(["merchant_id", "utc_day", "tz_group_id"]))
    return Outcome(
        cov and dev <= K.SUM_TOL,
        {"coverage_equals_s3": cov, "max_sum_dev": dev},
        {"tol": K.SUM_TOL},
    )


CHECKS = [
    Check("2B.S1.weight_integrity", INTEGRITY, "s1_site_weights", s1_weight_integrity),
    Check("2B.S1.rng_accounting", INTEGRITY, "s1_site_weights", s1_rng_accounting),
    Check("2B.S1.median_gini", REALISM, "s1_site_weights", s1_median_gini),
    Check("2B.S1.median_top_site_share", REALISM, "s1_site_weights", s1_median_top_site_share),
    Check("2B.S2.alias_integrity", INTEGRITY, "s2_alias_index", s2_alias_integrity),
    Check("2B.S3.coverage", INTEGRITY, "s3_day_effects", s3_coverage),
    Check("2B.S3.rng_accounting", INTEGRITY, "s3_day_effects", s3_rng_accounting),
    Check("2B.S3.gamma_mean", REALISM, "s3_day_effects", s3_gamma_mean),
    Check("2B.S3.gamma_cv", REALISM, "s3_day_effects", s3_gamma_cv),
    Check("2B.S3.lag1_autocorr", REALISM, "s3_day_effects", s3_lag1_autocorr),
    Check(
        "2B.S4.group_weights_integrity", INTEGRITY, "s4_group_weights", s4_group_weights_integrity
    ),
    *dataset_checks(
        "2B",
        {
            "s1_site_weights": "S1",
            "s2_alias_index": "S2",
            "s3_day_effects": "S3",
            "s4_group_weights": "S4",
        },
    ),
]
