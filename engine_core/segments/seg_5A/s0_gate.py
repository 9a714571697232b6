"""5A.S0 — gate: verify the six layer-1 HashGates, seal everything 5A reads, and check the
temporal coverage and merchant-domain consistency 5A needs before any work (layer2 §2.1)."""

from __future__ import annotations

import numpy as np
import polars as pl

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.gates import SealedInput
from engine_core.kernels import tzcache
from engine_core.refdata import BASE_ARTEFACTS, artefact_digest
from engine_core.segments.common import (
    dataset_path,
    read_table,
    run_gate,
    seal_policy,
    seal_upstream,
    verify_upstream,
)
from engine_core.segments.seg_5A.s1_scenarios import horizon

SEGMENT = "5A"
STATE = "5A.S0"
LAYER1 = ("1A", "1B", "2A", "2B", "3A", "3B")
MARGIN = 14 * 86_400


def seal_package(name: str, read_by) -> SealedInput:
    art = next(a for a in BASE_ARTEFACTS if a.name == name)
    version, digest, _ = artefact_digest(art)
    return SealedInput(
        f"{name}=={version}",
        "refdata",
        f"{art.package}:",
        digest,
        role="refdata",
        read_by=tuple(read_by),
    )


def check_cache(ctx: RunContext, s: int, e: int, tzids: list[str]) -> dict:
    """Coverage ⊇ [S − 14 d, E + 14 d); every hour of [S, E) and every transition in the
    window agrees with the sealed zoneinfo for every domain tzid (T11)."""
    import tzdata

    d = dataset_path(ctx, "tz_timetable_cache")
    cache = tzcache.decode((d / "tz_cache.bin").read_bytes())
    if cache.coverage_start > s - MARGIN or cache.coverage_end < e + MARGIN:
        raise EngineError("TZ_CACHE_COVERAGE", STATE, f"{d}: coverage misses [S − 14 d, E + 14 d)")
    import json

    man = json.loads((d / "tz_cache_manifest.json").read_bytes())
    if man["tzdata_version"] != tzdata.__version__:
        raise EngineError(
            "TZDATA_VERSION_MISMATCH",
            STATE,
            f"{d}: tzdata {man['tzdata_version']} != sealed {tzdata.__version__}",
        )
    grid = np.arange(s, e, 3600, dtype=np.int64)
    zi = cache.zone_index(tzids)
    mismatches = 0
    for z, tz in zip(zi.tolist(), tzids, strict=True):  # one zoneinfo scan per domain tzid
        lo, n = int(cache.first[z]), int(cache.count[z])
        tr = cache.instants[lo : lo + n]
        tr = tr[(tr >= s - MARGIN) & (tr < e + MARGIN)]
        pts = np.concatenate([grid, tr, tr - 1])
        got = cache.offset_at(np.full(pts.shape[0], z), pts)
        mismatches += int((got != tzcache.zoneinfo_offsets((tz, pts))).sum())
    if mismatches:
        raise EngineError("TZ_CACHE_DISAGREES_ZONEINFO", STATE, f"{mismatches} offsets differ")
    return {"tzids": len(tzids), "hours_checked": int(grid.shape[0] * len(tzids))}


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


def run(ctx: RunContext) -> StateResult:
    up = verify_upstream(ctx, SEGMENT, list(LAYER1))
    s, e, _ = horizon(ctx.manifest.policies["scenarios_5A"], ctx.manifest.policies["world_horizon"])
    domain = check_domain(ctx)
    tzids = sorted(
        pl.from_arrow(read_table(ctx, "zone_alloc", ["tzid"], state=STATE))["tzid"]
        .unique()
        .to_list()
    )
    cache = check_cache(ctx, s, e, tzids)
    inputs = [
        *(
            seal_policy(ctx, n, ("S1", "S2", "S3", "S4"))
            for n in ("scenarios_5A", "demand_5A", "shapes_5A", "overlays_5A", "world_horizon")
        ),
        seal_package("holidays", ("S1",)),
        seal_package("tzdata", ("S0",)),
        *(
            seal_upstream(ctx, f"validation_bundle_{g}", up[g], ("S0",), scope="METADATA_ONLY")
            for g in LAYER1
        ),
        seal_upstream(ctx, "s1_country_reference", up["1A"], ("S1", "S2")),
        seal_upstream(ctx, "merchant_universe", up["1A"], ("S3",)),
        seal_upstream(ctx, "outlet_catalogue", up["1A"], ("S0",)),
        seal_upstream(ctx, "zone_alloc", up["3A"], ("S3",)),
        seal_upstream(ctx, "site_timezones", up["2A"], ("S0",)),
        seal_upstream(ctx, "virtual_classification_3B", up["3B"], ("S3",)),
        seal_upstream(ctx, "tz_timetable_cache", up["2A"], ("S4", "S5")),
    ]
    res = run_gate(ctx, SEGMENT, up, inputs)
    res.metadata.update({**domain, **cache})
    return res
