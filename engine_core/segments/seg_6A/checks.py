"""6A asset checks (layer3 §3.8) over the published tables, every row: integrity checks
I01–I03, I05 re-run from the files the states published (the states ran them before
publishing), and the realism gates of the states built so far (R01–R03)."""

from __future__ import annotations

import numpy as np
import polars as pl

from engine_core.checks import INTEGRITY, REALISM, Check, Outcome
from engine_core.errors import EngineError
from engine_core.segments.common import read_table
from engine_core.segments.seg_6A import constants as K
from engine_core.segments.seg_6A.checks_integrity import i01_ids, i02_fk

V = "6A.S5"  # the state whose bundle reports these checks


def _t(ctx, ds, cols=None):
    return read_table(ctx, ds, cols, state=V)


def _ok(fn):
    """An integrity function that raises on failure → an Outcome."""

    def run(ctx):
        try:
            detail = fn(ctx)
        except EngineError as e:
            return Outcome(False, e.message, "exact")
        return Outcome(True, detail, "exact")

    return run


def _ids(ds, col):
    def fn(ctx):
        ids = _t(ctx, ds, [col]).column(0).to_numpy()
        i01_ids(V, ds, ids, sorted_=True)
        return {"rows": int(ids.size)}

    return _ok(fn)


def _pairs_sorted(ds, cols):
    def fn(ctx):
        t = pl.from_arrow(_t(ctx, ds, cols)).with_columns(pl.col(pl.Categorical).cast(pl.String))
        if not t.equals(t.sort(cols)) or t.is_duplicated().any():
            raise EngineError(
                "INTEGRITY_CHECK_FAILED", V, f"6A-I01 {ds}: not sorted/unique by {cols}"
            )
        return {"rows": t.height}

    return _ok(fn)


def _fk(child_ds, child_col, parent_ds, parent_col):
    def fn(ctx):
        child = _t(ctx, child_ds, [child_col]).column(0).to_numpy()
        parent = _t(ctx, parent_ds, [parent_col]).column(0).to_numpy()
        i02_fk(V, f"{child_ds}.{child_col} → {parent_ds}", child, parent)
        return {"rows": int(child.size)}

    return _ok(fn)


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


def _json(ctx, ds):
    from engine_core.segments.common import read_json

    return read_json(ctx, ds, state=V)


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
    mean, one, p99 = float(per.mean()), float((per == 1).mean()), float(np.quantile(per, 0.99))
    ok = (
        abs(mean / plan - 1) <= K.R03_MEAN_TOLERANCE
        and K.R03_SHARE_EXACTLY_ONE[0] <= one <= K.R03_SHARE_EXACTLY_ONE[1]
        and p99 <= K.R03_P99_MAX
    )
    return Outcome(
        ok,
        {"mean": mean, "plan": plan, "share_1": one, "p99": p99},
        {
            "mean_rel": K.R03_MEAN_TOLERANCE,
            "share_1": list(K.R03_SHARE_EXACTLY_ONE),
            "p99_max": K.R03_P99_MAX,
        },
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
    Check("6A.S1.R01", REALISM, "s1_party_base_6A", r01_parties_per_country),
    Check("6A.S1.R02", REALISM, "s1_party_base_6A", r02_households),
    Check("6A.S2.R03", REALISM, "s2_account_base_6A", r03_accounts),
]
