"""The 6A check list (layer3 §3.8) over the published tables, every row: integrity checks
re-run from the files the states published (each state ran them before publishing), and
the realism gates R01–R14. S1/S2 checks live here, S3/S4 in ``checks_devices``, S5 in
``checks_posture``; the readers in ``checks_base``."""

from __future__ import annotations

import numpy as np
import polars as pl

from engine_core.checks import INTEGRITY, REALISM, Check, Outcome
from engine_core.segments.seg_6A import constants as K
from engine_core.segments.seg_6A.checks_base import (
    _fk,
    _ids,
    _json,
    _pairs_sorted,
    _t,
    per_entity_gate,
)
from engine_core.segments.seg_6A.checks_devices import (
    i04_cards_per_account,
    i06_link_targets,
    i06_tokens,
    r04_cards,
    r05_schemes,
    r06_devices,
    r07_users,
    r08_fixed_home,
    r09_pools,
    r10_hill,
    r11_ips_per_device,
)


def i03_parties(ctx):
    p = pl.from_arrow(_t(ctx, "s1_party_base_6A", ["country_iso", "party_type", "segment_id"]))
    got = p.group_by(pl.all().cast(pl.String)).len()
    s = pl.from_arrow(
        _t(ctx, "s1_party_summary_6A", ["country_iso", "party_type", "segment_id", "n_parties"])
    )
    s = s.with_columns(pl.col(pl.Categorical).cast(pl.String))
    j = s.join(got, on=["country_iso", "party_type", "segment_id"], how="full", coalesce=True)
    bad = j.filter(
        pl.col("n_parties").fill_null(0).cast(pl.Int64) != pl.col("len").fill_null(0).cast(pl.Int64)
    )
    plan = ctx.manifest.policies["population_6A"]
    world = _json(ctx, "s1_world_plan_6A")
    total_ok = int(s["n_parties"].sum()) == world["N"] == p.height
    return Outcome(
        bad.height == 0 and total_ok,
        {
            "cells": s.height,
            "mismatched_cells": bad.height,
            "parties": p.height,
            "N": world["N"],
            "n_world": plan["n_world"],
        },
        "exact",
    )


def i05_regions(ctx):
    countries = ctx.manifest.policies["countries_6A"]["countries"]
    by_code = {
        c: r
        for r, codes in ctx.manifest.policies["region_map_6A"]["regions"].items()
        for c in codes
    }
    p = pl.from_arrow(_t(ctx, "s1_party_base_6A", ["country_iso", "region_id"])).unique()
    p = p.with_columns(pl.all().cast(pl.String))
    want = pl.DataFrame(
        {"country_iso": list(countries), "expected": [by_code.get(m) for m in countries.values()]}
    )
    bad = p.join(want, on="country_iso", how="left").filter(
        pl.col("expected").is_null() | (pl.col("expected") != pl.col("region_id"))
    )
    return Outcome(bad.height == 0, {"pairs": p.height, "wrong": bad.head(10).to_dicts()}, "exact")


def r01_parties_per_country(ctx):
    p = pl.from_arrow(_t(ctx, "s1_party_base_6A", ["country_iso"])).group_by("country_iso").len()
    low = p.filter(pl.col("len") < K.R01_MIN_PARTIES_PER_COUNTRY)
    return Outcome(
        low.height == 0,
        {"countries": p.height, "below": low.height, "min": int(p["len"].min())},
        {"min": K.R01_MIN_PARTIES_PER_COUNTRY},
    )


def r02_households(ctx):
    p = pl.from_arrow(_t(ctx, "s1_party_base_6A", ["household_id"])).drop_nulls()
    sizes = p.group_by("household_id").len()["len"].to_numpy()
    mean, one = float(sizes.mean()), float((sizes == 1).mean())
    ok = (
        K.R02_HOUSEHOLD_MEAN[0] <= mean <= K.R02_HOUSEHOLD_MEAN[1]
        and K.R02_SHARE_SIZE_ONE[0] <= one <= K.R02_SHARE_SIZE_ONE[1]
    )
    return Outcome(
        ok,
        {"mean_size": mean, "share_size_1": one, "households": int(sizes.size)},
        {"mean": list(K.R02_HOUSEHOLD_MEAN), "share_1": list(K.R02_SHARE_SIZE_ONE)},
    )


def r03_accounts(ctx):
    parties = pl.from_arrow(
        _t(
            ctx,
            "s1_party_base_6A",
            ["party_id", "party_type", "country_iso", "segment_id", "region_id"],
        )
    )
    retail = parties.filter(pl.col("party_type").cast(pl.String) == "RETAIL")
    acc = pl.from_arrow(_t(ctx, "s2_account_base_6A", ["owner_party_id"]))
    per = (
        retail.select("party_id")
        .join(
            acc.group_by("owner_party_id").len().rename({"owner_party_id": "party_id"}),
            on="party_id",
            how="left",
        )
        .fill_null(0)["len"]
        .to_numpy()
    )
    prod = ctx.manifest.policies["products_6A"]
    # plan: 1 primary + Σ_a λ_a·segtilt·regtilt per retail party (before zero-gated cells)
    lam = prod["extra_lambda"]["RETAIL"]
    r = retail.with_columns(pl.col("segment_id", "region_id").cast(pl.String))
    plan = 1.0 + _plan_mean(r, lam, prod)
    return per_entity_gate(
        per, plan, 1, K.R03_SHARE_EXACTLY_ONE, K.R03_MEAN_TOLERANCE, K.R03_P99_MAX
    )


def _plan_mean(r, lam, prod) -> float:
    cells = r.group_by("segment_id", "region_id").len()  # ≤ 48 cells
    segs, regs = cells["segment_id"].to_list(), cells["region_id"].to_list()
    per = [
        sum(
            lam[a]
            * prod["segment_tilt"].get(s, {}).get(a, 1.0)
            * prod["region_tilt"].get(g, {}).get(a, 1.0)
            for a in lam
        )
        for s, g in zip(segs, regs, strict=True)
    ]
    return float((cells["len"].to_numpy() * np.array(per)).sum() / max(r.height, 1))


CHECKS = [
    Check(
        "6A.S1.I01_party_ids", INTEGRITY, "s1_party_base_6A", _ids("s1_party_base_6A", "party_id")
    ),
    Check("6A.S1.I03_party_counts", INTEGRITY, "s1_party_summary_6A", i03_parties),
    Check("6A.S1.I05_regions", INTEGRITY, "s1_party_base_6A", i05_regions),
    Check(
        "6A.S2.I01_account_ids",
        INTEGRITY,
        "s2_account_base_6A",
        _ids("s2_account_base_6A", "account_id"),
    ),
    Check(
        "6A.S2.I01_holders_sorted",
        INTEGRITY,
        "s2_account_holders_6A",
        _pairs_sorted("s2_account_holders_6A", ["account_id", "party_id"]),
    ),
    Check(
        "6A.S2.I01_holdings_sorted",
        INTEGRITY,
        "s2_party_product_holdings_6A",
        _pairs_sorted("s2_party_product_holdings_6A", ["party_id", "account_type"]),
    ),
    Check(
        "6A.S2.I02_account_owner",
        INTEGRITY,
        "s2_account_base_6A",
        _fk("s2_account_base_6A", "owner_party_id", "s1_party_base_6A", "party_id"),
    ),
    Check(
        "6A.S2.I02_holder_account",
        INTEGRITY,
        "s2_account_holders_6A",
        _fk("s2_account_holders_6A", "account_id", "s2_account_base_6A", "account_id"),
    ),
    Check(
        "6A.S2.I02_holder_party",
        INTEGRITY,
        "s2_account_holders_6A",
        _fk("s2_account_holders_6A", "party_id", "s1_party_base_6A", "party_id"),
    ),
    Check(
        "6A.S3.I01_instrument_ids",
        INTEGRITY,
        "s3_instrument_base_6A",
        _ids("s3_instrument_base_6A", "instrument_id"),
    ),
    Check(
        "6A.S3.I01_links_sorted",
        INTEGRITY,
        "s3_account_instrument_links_6A",
        _pairs_sorted("s3_account_instrument_links_6A", ["account_id", "instrument_id"]),
    ),
    Check("6A.S3.I01_bins", INTEGRITY, "s3_bin_catalogue_6A", _ids("s3_bin_catalogue_6A", "bin6")),
    Check(
        "6A.S3.I02_instrument_account",
        INTEGRITY,
        "s3_instrument_base_6A",
        _fk("s3_instrument_base_6A", "account_id", "s2_account_base_6A", "account_id"),
    ),
    Check(
        "6A.S3.I02_instrument_holder",
        INTEGRITY,
        "s3_instrument_base_6A",
        _fk("s3_instrument_base_6A", "holder_party_id", "s1_party_base_6A", "party_id"),
    ),
    Check(
        "6A.S3.I02_link_instrument",
        INTEGRITY,
        "s3_account_instrument_links_6A",
        _fk(
            "s3_account_instrument_links_6A",
            "instrument_id",
            "s3_instrument_base_6A",
            "instrument_id",
        ),
    ),
    Check("6A.S3.I04_cards_per_account", INTEGRITY, "s3_instrument_base_6A", i04_cards_per_account),
    Check("6A.S3.I06_tokens", INTEGRITY, "s3_instrument_base_6A", i06_tokens),
    Check(
        "6A.S4.I01_device_ids",
        INTEGRITY,
        "s4_device_base_6A",
        _ids("s4_device_base_6A", "device_id"),
    ),
    Check("6A.S4.I01_ip_ids", INTEGRITY, "s4_ip_base_6A", _ids("s4_ip_base_6A", "ip_id")),
    Check(
        "6A.S4.I01_ip_links_sorted",
        INTEGRITY,
        "s4_ip_links_6A",
        _pairs_sorted("s4_ip_links_6A", ["device_id", "ip_id"]),
    ),
    Check(
        "6A.S4.I02_link_device",
        INTEGRITY,
        "s4_device_links_6A",
        _fk("s4_device_links_6A", "device_id", "s4_device_base_6A", "device_id"),
    ),
    Check(
        "6A.S4.I02_ip_link_device",
        INTEGRITY,
        "s4_ip_links_6A",
        _fk("s4_ip_links_6A", "device_id", "s4_device_base_6A", "device_id"),
    ),
    Check(
        "6A.S4.I02_ip_link_ip",
        INTEGRITY,
        "s4_ip_links_6A",
        _fk("s4_ip_links_6A", "ip_id", "s4_ip_base_6A", "ip_id"),
    ),
    Check("6A.S4.I06_link_targets", INTEGRITY, "s4_device_links_6A", i06_link_targets),
    Check("6A.S1.R01", REALISM, "s1_party_base_6A", r01_parties_per_country),
    Check("6A.S1.R02", REALISM, "s1_party_base_6A", r02_households),
    Check("6A.S2.R03", REALISM, "s2_account_base_6A", r03_accounts),
    Check("6A.S3.R04", REALISM, "s3_instrument_base_6A", r04_cards),
    Check("6A.S3.R05", REALISM, "s3_instrument_base_6A", r05_schemes),
    Check("6A.S4.R06", REALISM, "s4_device_base_6A", r06_devices),
    Check("6A.S4.R07", REALISM, "s4_device_links_6A", r07_users),
    Check("6A.S4.R08", REALISM, "s4_ip_links_6A", r08_fixed_home),
    Check("6A.S4.R09", REALISM, "s4_ip_links_6A", r09_pools),
    Check("6A.S4.R10", REALISM, "s4_ip_links_6A", r10_hill),
    Check("6A.S4.R11", REALISM, "s4_ip_links_6A", r11_ips_per_device),
]

from engine_core.segments.seg_6A.checks_posture import CHECKS as _POSTURE  # noqa: E402

CHECKS += _POSTURE
