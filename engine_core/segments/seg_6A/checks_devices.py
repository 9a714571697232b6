"""6A asset checks of S3 and S4 over the published tables, every row (layer3 §3.8):
cards per account, tokens and link targets (I04, I06) and the realism gates R04–R11."""

from __future__ import annotations

import numpy as np
import polars as pl

from engine_core.checks import Outcome
from engine_core.segments.seg_6A import constants as K
from engine_core.segments.seg_6A.checks_base import _t, per_entity_gate

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
    return per_entity_gate(per, plan, 0, K.R06_SHARE_ZERO, K.R06_MEAN_TOLERANCE, K.R06_P99_MAX)


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
