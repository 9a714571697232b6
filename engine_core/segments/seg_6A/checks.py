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


_CARDS = ("DEBIT_CARD", "CREDIT_CARD", "PREPAID_CARD", "VIRTUAL_CARD")
_PHYSICAL = ("DEBIT_CARD", "CREDIT_CARD", "PREPAID_CARD")


def _instruments(ctx, cols):
    return pl.from_arrow(_t(ctx, "s3_instrument_base_6A", cols)).with_columns(
        pl.col(pl.Categorical).cast(pl.String)
    )


def i04_cards_per_account(ctx):
    i = _instruments(ctx, ["account_id", "instrument_type"])
    per = i.filter(pl.col("instrument_type").is_in(_CARDS)).group_by("account_id").len()
    cap = ctx.manifest.policies["instruments_6A"]["max_cards_per_account"]
    worst = int(per["len"].max() or 0)
    return Outcome(
        worst <= cap, {"max_cards_on_an_account": worst, "accounts": per.height}, {"max": cap}
    )


def i06_tokens(ctx):
    """Every token has a physical-card parent on the same account and holder."""
    i = _instruments(
        ctx,
        [
            "instrument_id",
            "instrument_type",
            "account_id",
            "holder_party_id",
            "parent_instrument_id",
        ],
    )
    tok = i.filter(pl.col("instrument_type") == "WALLET_TOKEN")
    par = i.select(
        pl.col("instrument_id").alias("parent_instrument_id"),
        pl.col("instrument_type").alias("ptype"),
        pl.col("account_id").alias("pacc"),
        pl.col("holder_party_id").alias("pholder"),
    )
    j = tok.join(par, on="parent_instrument_id", how="left")
    bad = j.filter(
        ~pl.col("ptype").is_in(_PHYSICAL).fill_null(False)
        | (pl.col("pacc") != pl.col("account_id"))
        | (pl.col("pholder") != pl.col("holder_party_id"))
    )
    return Outcome(bad.height == 0, {"tokens": tok.height, "bad": bad.height}, "exact")


def r04_cards(ctx):
    parties = pl.from_arrow(
        _t(ctx, "s1_party_base_6A", ["party_id", "party_type", "segment_id", "region_id"])
    )
    parties = parties.with_columns(pl.col(pl.Categorical).cast(pl.String))
    i = _instruments(ctx, ["instrument_type", "holder_party_id", "parent_instrument_id"])
    retail = parties.filter(pl.col("party_type") == "RETAIL")
    holders = (
        i.filter(pl.col("instrument_type").is_in(_PHYSICAL))
        .select(pl.col("holder_party_id").alias("party_id"))
        .unique()
    )
    share = retail.join(holders, on="party_id").height / max(retail.height, 1)
    phys = i.filter(pl.col("instrument_type").is_in(_PHYSICAL)).join(
        parties.rename({"party_id": "holder_party_id"}), on="holder_party_id"
    )
    pt = ctx.manifest.policies["instruments_6A"]["p_token"]
    cells = phys.group_by("party_type", "segment_id", "region_id").len()
    p = [
        min(
            1.0,
            pt["by_region"].get(r, pt["by_region"]["default"])
            * pt["segment_multiplier"].get("BUSINESS" if t == "BUSINESS" else s, 1.0),
        )
        for t, s, r in zip(
            cells["party_type"], cells["segment_id"], cells["region_id"], strict=True
        )
    ]
    want = float((cells["len"].to_numpy() * np.array(p)).sum() / max(phys.height, 1))
    tokenised = i.filter(pl.col("instrument_type") == "WALLET_TOKEN")["parent_instrument_id"]
    got = tokenised.n_unique() / max(phys.height, 1)  # cards with ≥ 1 token (2nd tokens apart)
    lo, hi = K.R04_RETAIL_WITH_CARD
    ok = lo <= share <= hi and abs(got - want) <= K.R04_TOKEN_SHARE_TOLERANCE
    return Outcome(
        ok,
        {"retail_with_card": share, "token_share": got, "token_share_plan": want},
        {"retail_with_card": [lo, hi], "token_share_abs": K.R04_TOKEN_SHARE_TOLERANCE},
    )


def r05_schemes(ctx):
    """Scheme share per (region, card type) vs policy, cells ≥ 2 000 cards."""
    pol = ctx.manifest.policies["instruments_6A"]
    parties = pl.from_arrow(_t(ctx, "s1_party_base_6A", ["party_id", "party_type", "region_id"]))
    parties = parties.with_columns(pl.col(pl.Categorical).cast(pl.String))
    i = (
        _instruments(ctx, ["instrument_type", "holder_party_id", "scheme"])
        .filter(pl.col("instrument_type").is_in(_CARDS))
        .join(parties.rename({"party_id": "holder_party_id"}), on="holder_party_id")
    )
    i = i.filter(pl.col("party_type") == "RETAIL")  # business cards follow the BUSINESS mix
    cells = i.group_by("region_id", "instrument_type").len()
    got = i.group_by("region_id", "instrument_type", "scheme").len().rename({"len": "k"})
    j = got.join(cells, on=["region_id", "instrument_type"])
    worst, tested, skipped = 0.0, 0, 0
    rows = []
    mix = pol["scheme_mix"]
    for r, t, sc, k, n in zip(
        *(j[c].to_list() for c in ("region_id", "instrument_type", "scheme", "k", "len")),
        strict=True,
    ):
        if n < K.R05_MIN_CARDS:
            skipped += 1
            continue
        shares = mix.get(r, {}).get(t) or mix["default"][t]
        p = shares.get(sc, 0.0)
        tol = max(K.R05_FLOOR, K.R05_SIGMAS * float(np.sqrt(p * (1 - p) / n)))
        dev = abs(k / n - p)
        tested += 1
        worst = max(worst, dev / tol)
        if dev > tol:
            rows.append({"region": r, "type": t, "scheme": sc, "share": k / n, "policy": p})
    measured = {
        "cells_tested": tested,
        "cells_below_support": skipped,
        "worst_dev_over_tol": worst,
        "failing": rows[:10],
    }
    thr = {"tol": "max(0.02, 4·sqrt(p(1-p)/n))", "min_cards": K.R05_MIN_CARDS}
    if tested == 0:
        return Outcome(True, measured, thr, skipped=True)
    return Outcome(not rows, measured, thr)


def _s4(ctx, ds, cols):
    return pl.from_arrow(_t(ctx, ds, cols)).with_columns(pl.col(pl.Categorical).cast(pl.String))


def i06_link_targets(ctx):
    """Each link row has exactly its role's target columns; TOKEN_BINDING once per token, to
    a device whose primary owner holds the token."""
    ln = _s4(
        ctx,
        "s4_device_links_6A",
        [
            "device_id",
            "link_role",
            "party_id",
            "account_id",
            "instrument_id",
            "merchant_id",
            "site_id",
        ],
    )
    want = {
        "PRIMARY_OWNER": ["party_id"],
        "SHARED_USER": ["party_id"],
        "ACCOUNT_ACCESS": ["account_id"],
        "CARD_ON_FILE": ["instrument_id"],
        "TOKEN_BINDING": ["instrument_id"],
        "MERCHANT_TERMINAL": ["merchant_id", "site_id"],
    }
    cols = ["party_id", "account_id", "instrument_id", "merchant_id", "site_id"]
    bad = 0
    for role, on in want.items():
        r = ln.filter(pl.col("link_role") == role)
        ok = pl.all_horizontal(
            [pl.col(c).is_not_null() if c in on else pl.col(c).is_null() for c in cols]
        )
        bad += r.filter(~ok).height
    tok = ln.filter(pl.col("link_role") == "TOKEN_BINDING")
    inst = _instruments(ctx, ["instrument_id", "instrument_type", "holder_party_id"])
    tokens = inst.filter(pl.col("instrument_type") == "WALLET_TOKEN")
    dev = _s4(ctx, "s4_device_base_6A", ["device_id", "primary_party_id"])
    j = tokens.join(tok.select("device_id", "instrument_id"), on="instrument_id", how="left")
    j = j.join(dev, on="device_id", how="left")
    once = tok["instrument_id"].n_unique() == tok.height == tokens.height
    wrong = j.filter(
        pl.col("primary_party_id").is_null()
        | (pl.col("primary_party_id") != pl.col("holder_party_id"))
    ).height
    return Outcome(
        bad == 0 and once and wrong == 0,
        {"bad_rows": bad, "tokens": tokens.height, "bindings": tok.height, "bound_to_other": wrong},
        "exact",
    )


def _retail_devices(ctx):
    parties = _s4(ctx, "s1_party_base_6A", ["party_id", "party_type", "segment_id", "region_id"])
    retail = parties.filter(pl.col("party_type") == "RETAIL")
    dev = _s4(ctx, "s4_device_base_6A", ["primary_party_id", "owner_kind"]).filter(
        pl.col("owner_kind") == "PARTY"
    )
    per = (
        retail.select("party_id")
        .join(
            dev.group_by("primary_party_id").len().rename({"primary_party_id": "party_id"}),
            on="party_id",
            how="left",
        )
        .fill_null(0)["len"]
        .to_numpy()
    )
    return retail, per


def r06_devices(ctx):
    retail, per = _retail_devices(ctx)
    pol = ctx.manifest.policies["devices_6A"]
    cells = retail.group_by("segment_id", "region_id").len()
    per_party = [
        sum(
            pol["lambda"]["RETAIL"][d]
            * pol["segment_tilt"].get(s, {}).get(d, 1.0)
            * pol["region_tilt"].get(r, {}).get(d, 1.0)
            for d in pol["lambda"]["RETAIL"]
        )
        for s, r in zip(cells["segment_id"], cells["region_id"], strict=True)
    ]
    plan = float((cells["len"].to_numpy() * np.array(per_party)).sum() / max(retail.height, 1))
    mean, zero, p99 = float(per.mean()), float((per == 0).mean()), float(np.quantile(per, 0.99))
    ok = (
        abs(mean / plan - 1) <= K.R06_MEAN_TOLERANCE
        and K.R06_SHARE_ZERO[0] <= zero <= K.R06_SHARE_ZERO[1]
        and p99 <= K.R06_P99_MAX
    )
    return Outcome(
        ok,
        {"mean": mean, "plan": plan, "share_0": zero, "p99": p99},
        {
            "mean_rel": K.R06_MEAN_TOLERANCE,
            "share_0": list(K.R06_SHARE_ZERO),
            "p99_max": K.R06_P99_MAX,
        },
    )


def r07_users(ctx):
    dev = _s4(ctx, "s4_device_base_6A", ["device_id", "owner_kind"])
    ln = _s4(ctx, "s4_device_links_6A", ["device_id", "link_role"]).filter(
        pl.col("link_role").is_in(["PRIMARY_OWNER", "SHARED_USER"])
    )
    users = dev.join(ln.group_by("device_id").len(), on="device_id", how="left").fill_null(0)
    cust = users.filter(pl.col("owner_kind") == "PARTY")
    shared = float((cust["len"] >= 2).mean())
    pub = users.filter(pl.col("owner_kind") == "PUBLIC")
    pub_max = int(pub["len"].max() or 0)
    lo, hi = K.R07_SHARED_SHARE
    ok = lo <= shared <= hi
    measured = {"shared_share": shared, "public_devices": pub.height, "public_max_users": pub_max}
    thr = {"shared_share": [lo, hi], "public_max_users_min": K.R07_PUBLIC_MAX_USERS_MIN}
    if pub.height >= K.R07_PUBLIC_MIN_DEVICES:
        ok = ok and pub_max >= K.R07_PUBLIC_MAX_USERS_MIN
    else:
        measured["public_power"] = "low (public part not evaluated)"
    return Outcome(ok, measured, thr)


def _devices_per_ip(ctx):
    ip = _s4(ctx, "s4_ip_base_6A", ["ip_id", "ip_type"])
    ln = _s4(ctx, "s4_ip_links_6A", ["ip_id"])
    return ip.join(ln.group_by("ip_id").len(), on="ip_id", how="left").fill_null(0)


def r08_fixed_home(ctx):
    d = _devices_per_ip(ctx).filter(pl.col("ip_type") == "FIXED_HOME")["len"].to_numpy()
    p50, p99 = float(np.quantile(d, 0.5)), float(np.quantile(d, 0.99))
    ok = K.R08_FIXED_P50[0] <= p50 <= K.R08_FIXED_P50[1] and p99 <= K.R08_FIXED_P99_MAX
    return Outcome(
        ok,
        {"p50": p50, "p99": p99, "ips": int(d.size)},
        {"p50": list(K.R08_FIXED_P50), "p99_max": K.R08_FIXED_P99_MAX},
    )


def r09_pools(ctx):
    d = _devices_per_ip(ctx)
    out, ok, powered = {}, True, False
    for t in ("MOBILE_CGNAT", "VPN_EXIT"):
        x = d.filter(pl.col("ip_type") == t)["len"].to_numpy()
        if x.size < K.R09_MIN_POOL:
            out[t] = {"ips": int(x.size), "power": "low"}
            continue
        powered = True
        p50, p99 = float(np.quantile(x, 0.5)), float(np.quantile(x, 0.99))
        out[t] = {"ips": int(x.size), "p50": p50, "p99_over_p50": p99 / max(p50, 1e-9)}
        ok &= p99 / max(p50, 1e-9) >= K.R09_TAIL_RATIO_MIN
        if t == "MOBILE_CGNAT":
            ok &= p50 >= K.R09_CGNAT_P50_MIN
    thr = {
        "min_pool": K.R09_MIN_POOL,
        "cgnat_p50_min": K.R09_CGNAT_P50_MIN,
        "p99_over_p50_min": K.R09_TAIL_RATIO_MIN,
    }
    return Outcome(ok, out, thr, skipped=not powered)


def r10_hill(ctx):
    from engine_core.segments.seg_6A.s4_state import hill_alpha

    d = _devices_per_ip(ctx)
    out, ok, powered = {}, True, False
    for t in ("MOBILE_CGNAT", "VPN_EXIT"):
        x = d.filter(pl.col("ip_type") == t)["len"].to_numpy()
        a = hill_alpha(x) if x.size >= K.R10_MIN_IPS else None
        out[t] = {"ips": int(x.size), "hill_alpha": a}
        if a is not None:
            powered = True
            ok &= K.R10_ALPHA[0] <= a <= K.R10_ALPHA[1]
    return Outcome(
        ok, out, {"alpha": list(K.R10_ALPHA), "min_ips": K.R10_MIN_IPS}, skipped=not powered
    )


def r11_ips_per_device(ctx):
    dev = _s4(ctx, "s4_device_base_6A", ["device_id", "owner_kind", "device_type"])
    ln = _s4(ctx, "s4_ip_links_6A", ["device_id", "link_role"])
    per = dev.join(ln.group_by("device_id").len(), on="device_id", how="left").fill_null(0)
    mean = float(per["len"].mean())
    personal = dev.filter(pl.col("owner_kind") == "PARTY")
    proxied = ln.filter(pl.col("link_role") == "PROXY_EXIT")["device_id"].unique()
    share = float(personal["device_id"].is_in(proxied.implode()).mean())
    ok = (
        K.R11_IPS_PER_DEVICE[0] <= mean <= K.R11_IPS_PER_DEVICE[1]
        and K.R11_PROXY_SHARE[0] <= share <= K.R11_PROXY_SHARE[1]
    )
    return Outcome(
        ok,
        {"ips_per_device": mean, "proxy_share": share},
        {"ips_per_device": list(K.R11_IPS_PER_DEVICE), "proxy_share": list(K.R11_PROXY_SHARE)},
    )


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
