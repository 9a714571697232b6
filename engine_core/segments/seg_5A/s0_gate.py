"""5A.S0 — gate: verify the six layer-1 HashGates, seal everything 5A's states declare,
and check the temporal coverage and merchant-domain consistency 5A needs before any work
(layer2 §2.1)."""

from __future__ import annotations

import polars as pl

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.segments.common import read_table
from engine_core.segments.sealing import gate
from engine_core.segments.seg_5A.s1_scenarios import horizon
from engine_core.segments.state_io import open_state
from engine_core.segments.tz import check_cache

STATE = "5A.S0"


def check_domain(ctx: RunContext) -> dict:
    za = pl.from_arrow(read_table(ctx, "zone_alloc", state=STATE))
    if za.select("merchant_id", "tzid").n_unique() != za.height:
        raise EngineError("DOMAIN_DUPLICATE", STATE, "zone_alloc (merchant_id, tzid) not unique")
    st = pl.from_arrow(read_table(ctx, "site_timezones", ["merchant_id", "tzid"], state=STATE))
    if (
        not za.select("merchant_id", "tzid")
        .sort(["merchant_id", "tzid"])
        .equals(st.unique().sort(["merchant_id", "tzid"]))
    ):
        raise EngineError("ZONE_UNIVERSE_MISMATCH", STATE, "zone_alloc keys != site_timezones")
    cat = pl.from_arrow(
        read_table(ctx, "outlet_catalogue", ["merchant_id", "n_outlets_merchant"], state=STATE)
    ).unique()
    per = (
        za.group_by("merchant_id")
        .agg(pl.col("zone_site_count").sum(), pl.col("merchant_zone_share").sum())
        .join(cat, on="merchant_id", how="left")
    )
    if not (per["zone_site_count"] == per["n_outlets_merchant"]).all():
        raise EngineError("OUTLET_COUNT_MISMATCH", STATE, "Σ zone_site_count != n_outlets")
    if float((per["merchant_zone_share"] - 1).abs().max()) > 1e-12:
        raise EngineError("ZONE_UNIVERSE_MISMATCH", STATE, "merchant_zone_share does not sum to 1")
    mu = pl.from_arrow(read_table(ctx, "merchant_universe", ["merchant_id"], state=STATE))
    vc = pl.from_arrow(read_table(ctx, "virtual_classification_3B", ["merchant_id"], state=STATE))
    ids = za["merchant_id"].unique()
    if (
        not ids.is_in(mu["merchant_id"].implode()).all()
        or not ids.is_in(vc["merchant_id"].implode()).all()
    ):
        raise EngineError("MERCHANT_UNIVERSE_MISSING", STATE, "a zone_alloc merchant is unknown")
    return {"domain_pairs": za.height, "merchants": len(ids)}


def coverage(ctx: RunContext) -> dict:
    """Merchant-domain consistency and tz-cache coverage, before any work (layer2 §2.1)."""
    s, e, _ = horizon(ctx.manifest.policies["scenarios_5A"], ctx.manifest.policies["horizon_world"])
    domain = check_domain(ctx)
    tzids = sorted(
        pl.from_arrow(read_table(ctx, "zone_alloc", ["tzid"], state=STATE))["tzid"]
        .unique()
        .to_list()
    )
    return {**domain, **check_cache(ctx, s, e, tzids)}


def run(ctx: RunContext) -> StateResult:
    open_state(ctx, STATE)
    return gate(ctx, checks=coverage)
