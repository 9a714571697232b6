"""3B.S1 — virtual classification and settlement (RNG): NON_VIRTUAL / HYBRID / VIRTUAL_ONLY
from channel rules, a CP hybrid draw and a HYBRID floor; p_virtual per HYBRID merchant."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.rng import RngLedger, as241, uniform01
from engine_core.rng.detmath import exp
from engine_core.rng.streams import row_words
from engine_core.segments.common import lookup
from engine_core.segments.layer1_rng import DOMAIN_SEP, families
from engine_core.segments.state_io import open_state

STATE = "3B.S1"
FAMILY = "3B.S1.virtual_mode.v1"


def classify(ctx: RunContext, mu: pl.DataFrame, outlets: np.ndarray, ledger: RngLedger):
    pol = ctx.manifest.policies["mcc_channel_rules_3B"]
    fam = families(ctx, "3B", "S1")
    ids = mu["merchant_id"].to_numpy()
    key, hi, lo = fam[FAMILY].derive_many(ids.astype(str).tolist())
    w = row_words(key, hi, lo, 2, STATE)
    ledger.record_rows(FAMILY, 0, key, hi, lo, draws=2, blocks=1)
    u0, u1 = uniform01(w[:, 0]), uniform01(w[:, 1])
    group = mu["mcc_group"].to_numpy()
    cnp = mu["channel"].to_numpy() == "card_not_present"
    cnp_rule = lookup(group, {g: r["cnp"] for g, r in pol["groups"].items()}, object)
    over = {int(k): v["cnp"] for k, v in pol["mcc_overrides"].items()}
    mcc = mu["mcc"].to_numpy()
    for code, mode in sorted(over.items()):  # a handful of MCC overrides
        cnp_rule[mcc == code] = mode
    eligible = lookup(
        group, {g: r["cp"] == "HYBRID_ELIGIBLE" for g, r in pol["groups"].items()}, bool
    )
    big = np.isin(mu["size_class"].to_numpy(), pol["cp_hybrid"]["size_classes"])
    mode = np.full(ids.shape[0], "NON_VIRTUAL", dtype=object)
    rule = np.full(ids.shape[0], "DEFAULT", dtype=object)
    vo = cnp & (cnp_rule == "VIRTUAL_ONLY")
    multi = vo & (outlets >= pol["cnp_hybrid_min_outlets"])
    mode[vo], rule[cnp] = "VIRTUAL_ONLY", "CNP_RULE"
    mode[multi], rule[multi] = "HYBRID", "CNP_MULTISITE_HYBRID"
    draw = ~cnp & eligible & big & (u0 < pol["cp_hybrid"]["probability"])
    mode[draw], rule[draw] = "HYBRID", "CP_HYBRID_DRAW"
    short = pol["min_hybrid_merchants"] - int((mode == "HYBRID").sum())
    if short > 0:
        pool = np.flatnonzero(~cnp & eligible & (mode == "NON_VIRTUAL"))
        if pool.shape[0] < short:
            raise EngineError(
                "VIRTUAL_MODE_FLOOR_UNMET",
                STATE,
                f"{short} HYBRID merchants needed, {pool.shape[0]} eligible",
            )
        pick = pool[np.lexsort((ids[pool], u0[pool]))[:short]]  # (u0, merchant_id) ascending
        mode[pick], rule[pick] = "HYBRID", "HYBRID_FLOOR"
    pv = pol["p_virtual"]
    base = np.where(cnp, pv["cnp_base"], pv["cp_base"])
    s = pv["sigma"]
    p_h = np.clip(base * exp(s * as241(u1) - s * s / 2.0), *pv["clip"])
    p = np.where(mode == "HYBRID", p_h, np.where(mode == "VIRTUAL_ONLY", 1.0, 0.0))
    return pa.table(
        {
            "merchant_id": pa.array(ids, pa.uint64()),
            "mcc": mu["mcc"].to_arrow(),
            "channel": mu["channel"].to_list(),
            "size_class": mu["size_class"].to_list(),
            "virtual_mode": mode.tolist(),
            "is_virtual": mode != "NON_VIRTUAL",
            "p_virtual": p,
            "rule": rule.tolist(),
        }
    )


def settlement(cls: pa.Table, cat: pl.DataFrame, st: pl.DataFrame, loc: pl.DataFrame) -> pa.Table:
    virt = pl.from_arrow(cls).filter(pl.col("is_virtual")).select("merchant_id")
    reg = cat.filter(pl.col("is_registered_site")).select(
        "merchant_id", "legal_country_iso", "site_id"
    )
    out = (
        virt.join(reg, on="merchant_id", how="left")
        .join(st.select("site_id", "tzid"), on="site_id", how="left")
        .join(loc.select("site_id", "lat_deg", "lon_deg"), on="site_id", how="left")
        .sort("merchant_id")
    )
    if out.null_count().sum_horizontal().item():
        raise EngineError("SETTLEMENT_MISSING", STATE, "a virtual merchant has no registered site")
    return out.select(
        "merchant_id",
        pl.col("legal_country_iso").alias("settlement_country_iso"),
        pl.col("site_id").alias("settlement_site_id"),
        pl.col("tzid").alias("tzid_settlement"),
        "lat_deg",
        "lon_deg",
    ).to_arrow()


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    mu = pl.from_arrow(io.read_table("merchant_universe"))
    cat = pl.from_arrow(
        io.read_table(
            "outlet_catalogue",
            [
                "merchant_id",
                "legal_country_iso",
                "site_id",
                "is_registered_site",
                "n_outlets_merchant",
            ],
        )
    )
    outlets = (
        mu.select("merchant_id")
        .join(
            cat.select("merchant_id", "n_outlets_merchant").unique(), on="merchant_id", how="left"
        )
        .sort("merchant_id")["n_outlets_merchant"]
        .fill_null(0)
        .to_numpy()
    )
    ledger = RngLedger(STATE, DOMAIN_SEP, (FAMILY,))
    cls = classify(ctx, mu.sort("merchant_id"), outlets, ledger)
    st = pl.from_arrow(io.read_table("site_timezones", ["site_id", "tzid"]))
    loc = pl.from_arrow(io.read_table("site_locations", ["site_id", "lat_deg", "lon_deg"]))
    sett = settlement(cls, cat, st, loc)
    io.write("virtual_classification_3B", [cls])
    io.write("virtual_settlement_3B", [sett])
    io.publish_ledger(ledger)
    modes = pl.from_arrow(cls)["virtual_mode"].value_counts().sort("virtual_mode")
    return io.result(
        rows=cls.num_rows, metadata={r["virtual_mode"]: r["count"] for r in modes.to_dicts()}
    )
