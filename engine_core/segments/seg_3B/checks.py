"""Segment 3B checks (layer1 §6, REALISM)."""

from __future__ import annotations

import numpy as np
import polars as pl

from engine_core.checks import INTEGRITY, REALISM, Check, Outcome, at_least, not_evaluated, within
from engine_core.segments.alias_checks import alias_integrity
from engine_core.segments.common import dataset_checks, input_path, lookup, read_json, read_table
from engine_core.segments.rng_checks import rng_accounting
from engine_core.segments.seg_3B import constants as K
from engine_core.segments.seg_3B.s4_routing_contract import edge_universe, routing_policy

S = "3B.VAL"


def _pl(ctx, ds, cols=None):
    return pl.from_arrow(read_table(ctx, ds, cols, state=S))


def s1_classification_integrity(ctx):
    cls = _pl(ctx, "virtual_classification_3B")
    mu = _pl(ctx, "merchant_universe", ["merchant_id"])
    sett = _pl(ctx, "virtual_settlement_3B")
    ref = _pl(ctx, "s1_country_reference", ["country_iso", "tzids"]).explode("tzids")
    one = cls["merchant_id"].to_list() == mu["merchant_id"].to_list()
    vo_cnp = bool(
        cls.filter(pl.col("virtual_mode") == "VIRTUAL_ONLY")["channel"].eq("card_not_present").all()
    )
    floor = ctx.manifest.policies["mcc_channel_rules_3B"]["min_hybrid_merchants"]
    n_h = cls.filter(pl.col("virtual_mode") == "HYBRID").height
    virt = cls.filter(pl.col("is_virtual"))["merchant_id"].to_list()
    ok_tz = sett.join(
        ref,
        left_on=["settlement_country_iso", "tzid_settlement"],
        right_on=["country_iso", "tzids"],
        how="semi",
    ).height
    pv = cls["p_virtual"].to_numpy()
    mode = cls["virtual_mode"].to_numpy()
    p_ok = bool(
        np.all(np.where(mode == "NON_VIRTUAL", pv == 0, True))
        and np.all(np.where(mode == "VIRTUAL_ONLY", pv == 1, True))
        and np.all(np.where(mode == "HYBRID", (pv > 0) & (pv < 1), True))
    )
    ok = (
        one
        and vo_cnp
        and n_h >= floor
        and sett["merchant_id"].to_list() == virt
        and ok_tz == sett.height
        and p_ok
    )
    return Outcome(
        ok,
        {
            "one_row_per_merchant": one,
            "virtual_only_is_cnp": vo_cnp,
            "hybrid": n_h,
            "settlements": sett.height,
            "settlement_tz_ok": ok_tz,
            "p_virtual_by_mode": p_ok,
        },
        {"hybrid_min": floor},
    )


def _share(ctx, mode):
    m = _pl(ctx, "virtual_classification_3B", ["virtual_mode"])["virtual_mode"]
    return float((m == mode).mean())


def s1_virtual_only_share(ctx):
    return within(_share(ctx, "VIRTUAL_ONLY"), *K.VIRTUAL_ONLY_SHARE)


def s1_hybrid_share(ctx):
    return within(_share(ctx, "HYBRID"), *K.HYBRID_SHARE)


def s1_virtual_only_present(ctx):
    m = _pl(ctx, "virtual_classification_3B", ["virtual_mode"])["virtual_mode"]
    return at_least(int((m == "VIRTUAL_ONLY").sum()), K.VIRTUAL_ONLY_MIN)


def s1_floor_promotions(ctx):
    c = _pl(ctx, "virtual_classification_3B", ["virtual_mode", "rule"])
    h = c.filter(pl.col("virtual_mode") == "HYBRID")
    v = float((h["rule"] == "HYBRID_FLOOR").mean()) if h.height else 0.0
    return Outcome(v <= K.FLOOR_PROMOTIONS_MAX, v, {"max": K.FLOOR_PROMOTIONS_MAX})


def s1_rng_accounting(ctx):
    n = _pl(ctx, "virtual_classification_3B", ["merchant_id"]).height
    return rng_accounting(ctx, "rng_trace_log_3B_S1", {"3B.S1.virtual_mode.v1": (n, 2 * n, n)})


def _edge_counts(ctx):
    pol = ctx.manifest.policies["virtual_edges_3B"]["edge_count"]
    cls = _pl(ctx, "virtual_classification_3B").filter(pl.col("is_virtual"))
    key = (cls["virtual_mode"] + "|" + cls["size_class"]).to_numpy()
    table = {f"{m}|{s}": n for m, by in pol.items() for s, n in by.items()}
    return cls.select("merchant_id").with_columns(pl.Series("want", lookup(key, table, np.int64)))


def s2_edge_integrity(ctx):
    e = _pl(ctx, "edge_catalogue_3B")
    ref = _pl(ctx, "s1_country_reference", ["country_iso", "tzids"]).explode("tzids")
    counts = e.group_by("merchant_id").agg(
        pl.len(), pl.col("edge_weight").sum(), pl.col("edge_seq_index").max().alias("mx")
    )
    j = _edge_counts(ctx).join(counts, on="merchant_id", how="left")
    counts_ok = (
        bool((j["len"] == j["want"]).all())
        and bool((j["mx"] == j["want"] - 1).all())
        and j.height == counts.height
    )
    ids = e["edge_id"].to_numpy()
    unique = ids.shape[0] == np.unique(ids).shape[0] and not (ids == 0).any()
    dev = float((counts["edge_weight"] - 1).abs().max() or 0.0)
    tz_ok = (
        e.join(
            ref,
            left_on=["country_iso", "tzid_operational"],
            right_on=["country_iso", "tzids"],
            how="semi",
        ).height
        == e.height
    )
    ok = counts_ok and unique and dev <= K.SUM_TOL and tz_ok
    return Outcome(
        ok,
        {
            "edge_counts": counts_ok,
            "ids_unique": unique,
            "weight_sum_dev": dev,
            "tz_in_country": tz_ok,
        },
        "exact",
    )


def s2_edge_countries(ctx):
    e = _pl(ctx, "edge_catalogue_3B", ["merchant_id", "country_iso"])
    vo = _pl(ctx, "virtual_classification_3B", ["merchant_id", "virtual_mode"]).filter(
        pl.col("virtual_mode") == "VIRTUAL_ONLY"
    )
    per = (
        e.join(vo, on="merchant_id", how="semi")
        .group_by("merchant_id")
        .agg(pl.col("country_iso").n_unique())
    )
    v = float(per["country_iso"].mean()) if per.height else 0.0
    floor = K.EDGE_COUNTRIES_MIN.get(ctx.manifest.profile_id)
    return at_least(v, floor) if floor else not_evaluated(v)


def s2_foreign_edge_weight(ctx):
    e = _pl(ctx, "edge_catalogue_3B", ["merchant_id", "country_iso", "edge_weight"])
    home = _pl(ctx, "merchant_universe", ["merchant_id", "home_country_iso"])
    f = (
        e.join(home, on="merchant_id")
        .with_columns(
            pl.when(pl.col("country_iso") != pl.col("home_country_iso"))
            .then(pl.col("edge_weight"))
            .otherwise(0.0)
            .alias("foreign")
        )
        .group_by("merchant_id")
        .agg(pl.col("foreign").sum())
    )
    return within(float(f["foreign"].mean()) if f.height else 0.0, *K.FOREIGN_EDGE_WEIGHT)


def s2_top10_edge_tz(ctx):
    e = _pl(ctx, "edge_catalogue_3B", ["tzid_operational", "edge_weight"])
    w = (
        e.group_by("tzid_operational")
        .agg(pl.col("edge_weight").sum())
        .sort("edge_weight", descending=True)["edge_weight"]
        .to_numpy()
    )
    v = float(w[:10].sum() / w.sum()) if w.size else 0.0
    return Outcome(v <= K.TOP10_EDGE_TZ_MAX, v, {"max": K.TOP10_EDGE_TZ_MAX})


def s2_rng_accounting(ctx):
    c = _edge_counts(ctx)["want"].to_numpy().astype(np.int64) - 1
    return rng_accounting(
        ctx,
        "rng_trace_log_3B_S2",
        {"3B.S2.edge_place.v1": (int((c > 0).sum()), int(2 * c.sum()), int(c.sum()))},
    )


def s2_id_collisions(ctx):
    from engine_core.segments.ids import mint_ids

    e = _pl(ctx, "edge_catalogue_3B", ["merchant_id", "edge_seq_index", "edge_id"])
    ids, retries = mint_ids(
        "edge",
        ctx.mf,
        ctx.seed,
        list(
            zip(
                e["merchant_id"].to_numpy().astype(str),
                e["edge_seq_index"].to_numpy().astype(str),
                strict=True,
            )
        ),
        state=S,
    )
    same = bool(np.array_equal(ids, e["edge_id"].to_numpy()))
    return Outcome(same, {"retries": retries, "ids_match": same}, {"retries_max": 8})


def s3_alias_integrity(ctx):
    idx = read_table(ctx, "edge_alias_index_3B", state=S)
    e = _pl(ctx, "edge_catalogue_3B", ["merchant_id", "edge_id", "edge_weight"])
    keys_ok = (
        idx.column("merchant_id").to_pylist()
        == e["merchant_id"].unique(maintain_order=True).to_list()
    )
    return alias_integrity(
        idx,
        input_path(ctx, "edge_alias_index_3B"),
        input_path(ctx, "edge_alias_blob_3B"),
        want_keys=keys_ok,
        subkeys=np.zeros(idx.num_rows, np.uint64),
        entity=e["edge_id"].to_numpy(),
        weight=e["edge_weight"].to_numpy(),
        state=S,
    )


def s4_hash_recompute(ctx):
    eu = read_json(ctx, "edge_universe_hash_3B", scope="METADATA_ONLY")
    pol = read_json(ctx, "virtual_routing_policy_3B")
    want_eu = edge_universe(ctx)
    want_pol = routing_policy(ctx, want_eu["edge_universe_hash"])
    ctx.dictionary.schemas.validate(
        pol,
        "seg_3B.yaml#/$defs/virtual_routing_policy_3B",
        file="virtual_routing_policy_3B.json",
        code="SCHEMA_VIOLATION",
        state=S,
    )
    ok = eu == want_eu and pol == want_pol
    return Outcome(
        ok,
        {"routing_universe_hash": pol.get("routing_universe_hash")},
        {"routing_universe_hash": want_pol["routing_universe_hash"]},
    )


CHECKS = [
    Check(
        "3B.S1.classification_integrity",
        INTEGRITY,
        "virtual_classification_3B",
        s1_classification_integrity,
    ),
    Check("3B.S1.rng_accounting", INTEGRITY, "virtual_classification_3B", s1_rng_accounting),
    Check("3B.S1.virtual_only_share", REALISM, "virtual_classification_3B", s1_virtual_only_share),
    Check("3B.S1.hybrid_share", REALISM, "virtual_classification_3B", s1_hybrid_share),
    Check(
        "3B.S1.virtual_only_present", REALISM, "virtual_classification_3B", s1_virtual_only_present
    ),
    Check("3B.S1.floor_promotions", REALISM, "virtual_classification_3B", s1_floor_promotions),
    Check("3B.S2.edge_integrity", INTEGRITY, "edge_catalogue_3B", s2_edge_integrity),
    Check("3B.S2.rng_accounting", INTEGRITY, "edge_catalogue_3B", s2_rng_accounting),
    Check("3B.S2.id_collisions", INTEGRITY, "edge_catalogue_3B", s2_id_collisions),
    Check("3B.S2.edge_countries", REALISM, "edge_catalogue_3B", s2_edge_countries),
    Check("3B.S2.foreign_edge_weight", REALISM, "edge_catalogue_3B", s2_foreign_edge_weight),
    Check("3B.S2.top10_edge_tz", REALISM, "edge_catalogue_3B", s2_top10_edge_tz),
    Check("3B.S3.alias_integrity", INTEGRITY, "edge_alias_index_3B", s3_alias_integrity),
    Check("3B.S4.hash_recompute", INTEGRITY, "virtual_routing_policy_3B", s4_hash_recompute),
    *dataset_checks(
        "3B",
        {"virtual_classification_3B": "S1", "edge_catalogue_3B": "S2", "edge_alias_index_3B": "S3"},
    ),
]
