"""Segment 3A checks (layer1 §5, REALISM)."""

from __future__ import annotations

import json

import polars as pl

from engine_core.checks import INTEGRITY, REALISM, Check, Outcome, within
from engine_core.segments.common import (
    dataset_checks,
    input_path,
    read_json,
    read_table,
)
from engine_core.segments.seg_3A import constants as K
from engine_core.segments.seg_3A.s3_universe_hash import universe_doc

S = "3A.VAL"


def _pl(ctx, ds, cols=None):
    return pl.from_arrow(read_table(ctx, ds, cols, state=S))


def s2_universe_match(ctx):
    za = _pl(ctx, "zone_alloc", ["merchant_id", "tzid"])
    st = _pl(ctx, "site_timezones", ["merchant_id", "tzid"]).unique().sort(["merchant_id", "tzid"])
    ai = _pl(ctx, "s2_alias_index", ["merchant_id", "tzid"])
    a, b = za.equals(st), za.equals(ai)
    return Outcome(a and b, {"equals_site_timezones": a, "equals_alias_index": b}, "exact")


def s2_share_sums(ctx):
    za = _pl(ctx, "zone_alloc")
    m = za.group_by("merchant_id").agg(
        pl.col("merchant_zone_share").sum(), pl.col("zone_site_count").sum()
    )
    c = za.group_by(["merchant_id", "legal_country_iso"]).agg(
        pl.col("zone_share_in_country").sum(),
        pl.col("zone_site_count").sum().alias("n"),
        pl.col("country_site_count").first(),
    )
    pr = _pl(ctx, "s1_country_zone_priors").group_by("country_iso").agg(pl.col("prior_share").sum())
    cat = _pl(ctx, "outlet_catalogue", ["merchant_id", "n_outlets_merchant"]).unique()
    outlets = m.join(cat, on="merchant_id")
    dev = max(
        float((m["merchant_zone_share"] - 1).abs().max() or 0),
        float((c["zone_share_in_country"] - 1).abs().max() or 0),
        float((pr["prior_share"] - 1).abs().max() or 0),
    )
    counts = (
        bool((outlets["zone_site_count"] == outlets["n_outlets_merchant"]).all())
        and outlets.height == m.height
        and bool((c["n"] == c["country_site_count"]).all())
    )
    return Outcome(
        dev <= K.SUM_TOL and counts,
        {"max_sum_dev": dev, "site_counts_match": counts},
        {"tol": K.SUM_TOL},
    )


def s2_key_unique(ctx):
    za = _pl(ctx, "zone_alloc", ["merchant_id", "legal_country_iso", "tzid"])
    d1 = za.height - za.select("merchant_id", "tzid").n_unique()
    d2 = za.height - za.n_unique()
    return Outcome(d1 == 0 and d2 == 0, {"duplicates": d1 + d2}, 0)


def s2_pair_count(ctx):
    n = _pl(ctx, "zone_alloc", ["merchant_id"]).height
    return within(n, *K.PAIR_COUNT[ctx.manifest.profile_id])


def s2_multi_zone_share(ctx):
    za = _pl(ctx, "zone_alloc", ["merchant_id"])
    per = za.group_by("merchant_id").len()
    return within(float((per["len"] >= 2).mean()), *K.MULTI_ZONE_SHARE)


def s2_prior_tv(ctx):
    za = _pl(ctx, "zone_alloc", ["legal_country_iso", "tzid", "zone_site_count"])
    pr = _pl(ctx, "s1_country_zone_priors")
    sites = za.group_by(["legal_country_iso", "tzid"]).agg(pl.col("zone_site_count").sum())
    tot = sites.group_by("legal_country_iso").agg(pl.col("zone_site_count").sum().alias("n"))
    big = tot.filter(pl.col("n") >= K.PRIOR_TV_MIN_SITES)["legal_country_iso"]
    p = pr.filter((pl.col("n_zones_country") > 1) & pl.col("country_iso").is_in(big.implode()))
    if p.height == 0:
        return Outcome(True, {"countries": 0}, "skipped: no multi-zone country with ≥ 500 sites")
    j = (
        p.join(
            sites.rename({"legal_country_iso": "country_iso"}),
            on=["country_iso", "tzid"],
            how="left",
        )
        .fill_null(0)
        .join(tot.rename({"legal_country_iso": "country_iso"}), on="country_iso")
    )
    tv = (
        j.with_columns(
            (pl.col("zone_site_count") / pl.col("n") - pl.col("prior_share")).abs().alias("d")
        )
        .group_by("country_iso")
        .agg(pl.col("d").sum() / 2)
    )
    worst = float(tv["d"].max())
    return Outcome(
        worst <= K.PRIOR_TV_MAX,
        {"worst_tv": worst, "countries": tv.height},
        {"max": K.PRIOR_TV_MAX, "support_min_sites": K.PRIOR_TV_MIN_SITES},
    )


def s3_hash_recompute(ctx):
    doc = read_json(ctx, "zone_alloc_universe_hash")
    flag = json.loads(
        (
            input_path(ctx, "validation_bundle_2B", scope="METADATA_ONLY") / "_passed.flag"
        ).read_bytes()
    )
    want = universe_doc(ctx, flag["bundle_digest_sha256"])
    return Outcome(
        doc == want,
        {"hash": doc.get("zone_alloc_universe_hash")},
        {"hash": want["zone_alloc_universe_hash"]},
    )


CHECKS = [
    Check("3A.S2.universe_match", INTEGRITY, "zone_alloc", s2_universe_match),
    Check("3A.S2.share_sums", INTEGRITY, "zone_alloc", s2_share_sums),
    Check("3A.S2.key_unique", INTEGRITY, "zone_alloc", s2_key_unique),
    Check("3A.S2.pair_count", REALISM, "zone_alloc", s2_pair_count),
    Check("3A.S2.multi_zone_share", REALISM, "zone_alloc", s2_multi_zone_share),
    Check("3A.S2.prior_tv", REALISM, "zone_alloc", s2_prior_tv),
    Check("3A.S3.hash_recompute", INTEGRITY, "zone_alloc_universe_hash", s3_hash_recompute),
    *dataset_checks("3A", {"s1_country_zone_priors": "S1", "zone_alloc": "S2"}),
]
