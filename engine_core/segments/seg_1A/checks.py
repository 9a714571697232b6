"""Segment 1A checks (layer1 §1A, REALISM): integrity checks block; realism gates report
their measured value (WARN in tiny). Each is a pure function of the published files."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.compute as pc

from engine_core.checks import (
    INTEGRITY,
    REALISM,
    Check,
    Outcome,
    at_least,
    equals,
    not_evaluated,
    within,
)
from engine_core.refdata.world import tzdata_zone_bytes
from engine_core.rng.detmath import exp, log
from engine_core.segments.common import dataset_checks, lookup, read_table
from engine_core.segments.ids import mint_ids
from engine_core.segments.rng_checks import rng_accounting
from engine_core.segments.seg_1A import constants as K
from engine_core.segments.seg_1A.s3_outlet_counts import neighbour_matrix

S = "1A.VAL"  # errors raised while a check reads data name the validation state


def _t(ctx, ds, cols=None):
    return read_table(ctx, ds, cols, state=S)


# --- S1 ------------------------------------------------------------------------------------
def s1_universe_size(ctx):
    return within(_t(ctx, "s1_country_reference", ["country_iso"]).num_rows, *K.UNIVERSE_SIZE)


def s1_weights_sum(ctx):
    w = _t(ctx, "s1_country_reference", ["merchant_weight"]).column(0).to_numpy()
    s = math.fsum(w.tolist())
    return Outcome(abs(s - 1.0) <= K.WEIGHT_SUM_TOL and bool((w > 0).all()), s, "1 ± 1e-12")


def s1_tzids_load(ctx):
    import io
    import zoneinfo

    zones = sorted(
        {z for zs in _t(ctx, "s1_country_reference", ["tzids"]).column(0).to_pylist() for z in zs}
    )
    bad = []
    for z in zones:  # ~355 zones of the reference universe
        try:
            zoneinfo.ZoneInfo.from_file(io.BytesIO(tzdata_zone_bytes(z)), key=z)
        except Exception:  # noqa: BLE001
            bad.append(z)
    return Outcome(not bad and bool(zones), {"zones": len(zones), "failed": bad}, {"failed": []})


def s1_currency_present(ctx):
    cur = _t(ctx, "s1_country_reference", ["currency"]).column(0)
    missing = cur.null_count + int(
        pc.sum(pc.equal(pc.utf8_length(cur), 0).cast("int64")).as_py() or 0
    )
    return Outcome(missing == 0, missing, 0)


def s1_top10_share(ctx):
    w = np.sort(_t(ctx, "s1_country_reference", ["merchant_weight"]).column(0).to_numpy())[::-1]
    return within(float(w[:10].sum()), *K.TOP10_COUNTRY_SHARE)


# --- S2 ------------------------------------------------------------------------------------
def s2_rows(ctx):
    return equals(
        _t(ctx, "merchant_universe", ["merchant_id"]).num_rows,
        int(ctx.manifest.policies["merchant_model_1A"]["n_merchants"]),
    )


def s2_ids_unique(ctx):
    ids = _t(ctx, "merchant_universe", ["merchant_id"]).column(0).to_numpy()
    dup = ids.shape[0] - np.unique(ids).shape[0]
    sorted_ok = bool(np.all(ids[1:] > ids[:-1]))
    return Outcome(
        dup == 0 and not (ids == 0).any() and sorted_ok,
        {"duplicates": dup, "zeros": int((ids == 0).sum()), "sorted": sorted_ok},
        0,
    )


def s2_home_alloc_bounds(ctx):
    mu = _t(ctx, "merchant_universe", ["home_country_iso"])
    c = _t(ctx, "s1_country_reference", ["country_iso", "merchant_weight"])
    n = mu.num_rows
    counts = pc.value_counts(mu.column(0)).to_pylist()
    got = {r["values"]: r["counts"] for r in counts}
    iso = c.column(0).to_pylist()
    n_c = np.array([got.get(i, 0) for i in iso])  # per country of the universe
    dev = np.abs(n_c - n * c.column(1).to_numpy())
    outside = int(sum(v for k, v in got.items() if k not in set(iso)))
    return Outcome(bool(dev.max() < 1) and outside == 0, float(dev.max()), {"max_abs_dev": 1})


def s2_id_collisions(ctx):
    """Re-mint every merchant id in canonical (home iso, local index) order; the published ids
    must be exactly those, and re-derivations are reported (expected 0)."""
    homes = _t(ctx, "merchant_universe", ["merchant_id", "home_country_iso"])
    iso, n_c = np.unique(np.asarray(homes.column(1).to_pylist(), dtype=object), return_counts=True)
    rows = list(
        zip(
            np.repeat(iso, n_c),
            np.concatenate([np.arange(k) for k in n_c]).astype(str),
            strict=True,
        )
    )
    ids, retries = mint_ids("merchant", ctx.mf, ctx.seed, rows, state=S)
    same = bool(np.array_equal(np.sort(ids), np.sort(homes.column(0).to_numpy())))
    return Outcome(
        same and retries <= K.ID_RETRIES_MAX,
        {"retries": retries, "ids_match": same},
        {"retries_max": K.ID_RETRIES_MAX},
    )


def s2_cnp_share(ctx):
    ch = _t(ctx, "merchant_universe", ["channel"]).column(0)
    return within(pc.mean(pc.equal(ch, "card_not_present").cast("float64")).as_py(), *K.CNP_SHARE)


def s2_group_shares(ctx):
    groups = ctx.manifest.policies["mcc_taxonomy_1A"]["groups"]
    g = _t(ctx, "merchant_universe", ["mcc_group"]).column(0).to_numpy(zero_copy_only=False)
    n = g.shape[0]
    total = math.fsum(v["share"] for v in groups.values())
    worst, detail = 0.0, {}
    ok = True
    for name, v in sorted(groups.items()):
        p = v["share"] / total
        obs = float((g == name).mean())
        tol = max(K.GROUP_SHARE_MIN_TOL, K.GROUP_SHARE_SIGMAS * math.sqrt(p * (1 - p) / n))
        detail[name] = round(obs - p, 6)
        ok &= abs(obs - p) <= tol
        worst = max(worst, abs(obs - p) / tol)
    return Outcome(ok, {"worst_dev_over_tol": worst, "dev": detail}, "±max(0.03, 4·sqrt(p(1−p)/N))")


def s2_home_countries(ctx):
    h = _t(ctx, "merchant_universe", ["home_country_iso"]).column(0)
    floor = K.HOME_COUNTRIES_MIN.get(ctx.manifest.profile_id)
    return at_least(len(pc.unique(h)), floor) if floor else not_evaluated(len(pc.unique(h)))


def s2_rng_accounting(ctx):
    n = _t(ctx, "merchant_universe", ["merchant_id"]).num_rows
    return rng_accounting(
        ctx,
        "rng_trace_log_1A_S2",
        {"1A.S2.home_alloc.v1": (1, 1, 1), "1A.S2.merchant_attrs.v1": (n, 3 * n, 2 * n)},
    )


# --- S3 ------------------------------------------------------------------------------------
def _per_merchant(ctx):
    t = _t(ctx, "s3_outlet_counts")
    mid = t.column("merchant_id").to_numpy()
    first = np.concatenate([[True], mid[1:] != mid[:-1]]) if mid.size else np.array([], bool)
    run = np.cumsum(first) - 1
    n_m = np.bincount(run, weights=t.column("n_outlets").to_numpy()).astype(np.int64)
    k = np.bincount(run).astype(np.int64) - 1
    homes = np.bincount(run, weights=t.column("is_home").to_numpy(zero_copy_only=False))
    return mid[first], n_m, k, homes


def s3_home_row(ctx):
    ids, _, _, homes = _per_merchant(ctx)
    mu = _t(ctx, "merchant_universe", ["merchant_id"]).column(0).to_numpy()
    same = ids.shape[0] == mu.shape[0] and bool(np.array_equal(ids, mu))
    bad = int((homes != 1).sum())
    return Outcome(same and bad == 0, {"merchants_match": same, "bad_home_rows": bad}, 0)


def s3_outlet_bounds(ctx):
    _, n_m, _, _ = _per_merchant(ctx)
    rows = _t(ctx, "s3_outlet_counts", ["n_outlets"]).column(0).to_numpy()
    size = _t(ctx, "merchant_universe", ["size_class"]).column(0).to_numpy(zero_copy_only=False)
    cap = lookup(size, ctx.manifest.policies["merchant_model_1A"]["outlets"]["cap"], np.int64)
    bad = int(((n_m < 1) | (n_m > cap)).sum()) + int((rows < 1).sum())
    return Outcome(bad == 0, {"violations": bad}, "1 ≤ N_m ≤ cap_s; n_outlets ≥ 1")


def s3_single_site_share(ctx):
    _, n_m, _, _ = _per_merchant(ctx)
    return within(float((n_m == 1).mean()), *K.SINGLE_SITE_SHARE)


def s3_mean_outlets(ctx):
    _, n_m, _, _ = _per_merchant(ctx)
    return within(float(n_m.mean()), *K.MEAN_OUTLETS)


def s3_top1pct_share(ctx):
    _, n_m, _, _ = _per_merchant(ctx)
    top = np.sort(n_m)[::-1][: max(1, int(math.ceil(0.01 * n_m.shape[0])))]
    return within(float(top.sum() / n_m.sum()), *K.TOP1PCT_OUTLET_SHARE)


def s3_crossborder_share(ctx):
    _, _, k, _ = _per_merchant(ctx)
    return within(float((k > 0).mean()), *K.CROSSBORDER_SHARE)


def s3_max_outlets(ctx):
    _, n_m, _, _ = _per_merchant(ctx)
    floor = K.MAX_OUTLETS_MIN.get(ctx.manifest.profile_id)
    return at_least(int(n_m.max()), floor) if floor else not_evaluated(int(n_m.max()))


def s3_sys_bounds(ctx):
    """Recompute every outlet split's quotas from the outputs: Σ(n−1) = N_m − K − 1 and
    |(n_i − 1) − q_i| < 1 over [home, chosen in iso order]."""
    t = _t(ctx, "s3_outlet_counts")
    c = _t(
        ctx, "s1_country_reference", ["country_iso", "continent", "neighbours", "merchant_weight"]
    )
    cb = ctx.manifest.policies["merchant_model_1A"]["crossborder"]
    mid = t.column("merchant_id").to_numpy()
    first = np.concatenate([[True], mid[1:] != mid[:-1]]) if mid.size else np.array([], bool)
    run = np.cumsum(first) - 1
    k = np.bincount(run) - 1
    sel = k[run] > 0
    if not sel.any():
        return Outcome(True, {"splits": 0}, "Σ = N_m − K − 1; |n − q| < 1")
    iso = np.asarray(c.column("country_iso").to_pylist(), dtype=object)
    cidx = np.searchsorted(
        iso, np.asarray(t.column("legal_country_iso").to_pylist(), dtype=object)
    )[sel]
    is_home = t.column("is_home").to_numpy(zero_copy_only=False)[sel]
    n = t.column("n_outlets").to_numpy().astype(np.int64)[sel]
    r = run[sel]
    home_of = np.zeros(run.max() + 1, dtype=np.int64)
    home_of[r[is_home]] = cidx[is_home]
    h = home_of[r]
    cont = np.asarray(c.column("continent").to_pylist(), dtype=object)
    nbm = neighbour_matrix(iso, c.column("neighbours").to_pylist())
    f = np.where(
        nbm[h, cidx],
        cb["neighbour_factor"],
        np.where(cont[h] == cont[cidx], cb["continent_factor"], 1.0),
    )
    a = exp(cb["candidate_exponent"] * log(c.column("merchant_weight").to_numpy()))[cidx] * f
    kk = k[r].astype(np.float64)
    sum_a = np.bincount(r, weights=np.where(is_home, 0.0, a))
    w = np.where(is_home, float(cb["home_weight"]), a * kk / sum_a[r])
    total = np.bincount(r, weights=n - 1)[r]
    want_total = np.bincount(r, weights=n)[r] - kk - 1
    q = want_total * w / np.bincount(r, weights=w)[r]
    dev = float(np.abs((n - 1) - q).max())
    ok = bool(np.all(total == want_total)) and dev < 1
    return Outcome(
        ok, {"splits": int(len(np.unique(r))), "max_abs_dev": dev}, "Σ = N_m − K − 1; |n − q| < 1"
    )


def s3_rng_accounting(ctx):
    _, n_m, k, _ = _per_merchant(ctx)
    mu = _t(ctx, "merchant_universe", ["size_class"]).column(0).to_numpy(zero_copy_only=False)
    lam = lookup(mu, ctx.manifest.policies["merchant_model_1A"]["crossborder"]["lambda"])
    c = _t(ctx, "s1_country_reference", ["country_iso"]).num_rows - 1
    multi = int((n_m >= 2).sum())
    kk = int(((n_m >= 2) & (lam > 0)).sum())
    cb = int((k > 0).sum())
    n = n_m.shape[0]
    return rng_accounting(
        ctx,
        "rng_trace_log_1A_S3",
        {
            "1A.S3.hurdle.v1": (n, n, n),
            "1A.S3.outlet_count.v1": (multi, 2 * multi, multi),
            "1A.S3.crossborder_k.v1": (kk, kk, kk),
            "1A.S3.crossborder_pick.v1": (cb, cb * c, cb * ((c + 1) // 2)),
            "1A.S3.outlet_split.v1": (cb, cb, cb),
        },
    )


# --- S4 ------------------------------------------------------------------------------------
def s4_id_collisions(ctx):
    cat = _t(ctx, "outlet_catalogue", ["merchant_id", "legal_country_iso", "site_order", "site_id"])
    rows = list(
        zip(
            cat.column(0).to_numpy().astype(str),
            np.asarray(cat.column(1).to_pylist(), dtype=object),
            cat.column(2).to_numpy().astype(str),
            strict=True,
        )
    )
    ids, retries = mint_ids("site", ctx.mf, ctx.seed, rows, state=S)
    same = bool(np.array_equal(ids, cat.column(3).to_numpy()))
    return Outcome(
        same and retries <= K.ID_RETRIES_MAX,
        {"retries": retries, "ids_match": same},
        {"retries_max": K.ID_RETRIES_MAX},
    )


def s4_catalogue(ctx):
    cat = _t(ctx, "outlet_catalogue", ["merchant_id", "site_id", "is_registered_site"])
    total = int(pc.sum(_t(ctx, "s3_outlet_counts", ["n_outlets"]).column(0)).as_py() or 0)
    sid = cat.column("site_id").to_numpy()
    reg = pc.sum(cat.column("is_registered_site").cast("int64")).as_py() or 0
    merchants = len(pc.unique(cat.column("merchant_id")))
    dup = sid.shape[0] - np.unique(sid).shape[0]
    ok = cat.num_rows == total and dup == 0 and reg == merchants and not (sid == 0).any()
    return Outcome(
        ok,
        {
            "rows": cat.num_rows,
            "sum_n_outlets": total,
            "dup_site_ids": dup,
            "registered": reg,
            "merchants": merchants,
        },
        "rows = Σ n_outlets; unique site_id; one registered site per merchant",
    )


CHECKS = [
    Check("1A.S1.universe_size", INTEGRITY, "s1_country_reference", s1_universe_size),
    Check("1A.S1.weight_sum", INTEGRITY, "s1_country_reference", s1_weights_sum),
    Check("1A.S1.tzids_load", INTEGRITY, "s1_country_reference", s1_tzids_load),
    Check("1A.S1.currency_present", INTEGRITY, "s1_country_reference", s1_currency_present),
    Check("1A.S1.top10_country_share", REALISM, "s1_country_reference", s1_top10_share),
    Check("1A.S2.row_count", INTEGRITY, "merchant_universe", s2_rows),
    Check("1A.S2.ids_unique", INTEGRITY, "merchant_universe", s2_ids_unique),
    Check("1A.S2.home_alloc_bound", INTEGRITY, "merchant_universe", s2_home_alloc_bounds),
    Check("1A.S2.sys_bounds", INTEGRITY, "merchant_universe", s2_home_alloc_bounds),
    Check("1A.S2.rng_accounting", INTEGRITY, "merchant_universe", s2_rng_accounting),
    Check("1A.S2.id_collisions", INTEGRITY, "merchant_universe", s2_id_collisions),
    Check("1A.S2.cnp_share", REALISM, "merchant_universe", s2_cnp_share),
    Check("1A.S2.group_shares", REALISM, "merchant_universe", s2_group_shares),
    Check("1A.S2.home_countries", REALISM, "merchant_universe", s2_home_countries),
    Check("1A.S3.home_row", INTEGRITY, "s3_outlet_counts", s3_home_row),
    Check("1A.S3.outlet_bounds", INTEGRITY, "s3_outlet_counts", s3_outlet_bounds),
    Check("1A.S3.sys_bounds", INTEGRITY, "s3_outlet_counts", s3_sys_bounds),
    Check("1A.S3.rng_accounting", INTEGRITY, "s3_outlet_counts", s3_rng_accounting),
    Check("1A.S3.single_site_share", REALISM, "s3_outlet_counts", s3_single_site_share),
    Check("1A.S3.mean_outlets", REALISM, "s3_outlet_counts", s3_mean_outlets),
    Check("1A.S3.top1pct_outlet_share", REALISM, "s3_outlet_counts", s3_top1pct_share),
    Check("1A.S3.crossborder_share", REALISM, "s3_outlet_counts", s3_crossborder_share),
    Check("1A.S3.max_outlets", REALISM, "s3_outlet_counts", s3_max_outlets),
    Check("1A.S4.catalogue_integrity", INTEGRITY, "outlet_catalogue", s4_catalogue),
    Check("1A.S4.id_collisions", INTEGRITY, "outlet_catalogue", s4_id_collisions),
    *dataset_checks(
        "1A",
        {
            "s1_country_reference": "S1",
            "merchant_universe": "S2",
            "s3_outlet_counts": "S3",
            "outlet_catalogue": "S4",
        },
    ),
]
