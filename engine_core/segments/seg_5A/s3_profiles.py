"""5A.S3 — merchant-zone profiles (RNG-free): the merchant domain (layer2 §1.3) in domain
order, with demand class and the expected weekly volume of each row."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from engine_core.errors import EngineError
from engine_core.kernels.integerise import segment_sums_nb
from engine_core.rng.detmath import exp, log
from engine_core.segments.common import lookup
from engine_core.segments.state_io import open_state

STATE = "5A.S3"


def fixed_dictionary(values, vocabulary: list[str]) -> pa.DictionaryArray:
    """A ``dictionary<int32, string>`` column over a fixed sorted vocabulary, so identical data
    gives identical bytes in every part (layer2 §1.4)."""
    vocab = np.asarray(sorted(vocabulary), dtype=object)
    vals = np.asarray(values, dtype=object)
    idx = np.searchsorted(vocab, vals)
    idx = np.minimum(idx, len(vocab) - 1)
    if vals.size and not np.all(vocab[idx] == vals):
        raise EngineError("SCHEMA_VIOLATION", STATE, "a value is outside its fixed dictionary")
    return pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), pa.array(vocab.tolist()))


def profiles(
    zone_alloc: pa.Table, merchants: pa.Table, virtual: pa.Table, demand: dict
) -> pl.DataFrame:
    """Domain rows sorted (merchant_id, tzid bytes, channel_group) with the volume law."""
    za = pl.from_arrow(zone_alloc)
    mu = pl.from_arrow(merchants).select("merchant_id", "mcc", "mcc_group", "channel", "size_class")
    vc = pl.from_arrow(virtual).select("merchant_id", "virtual_mode")
    df = (
        za.join(mu, on="merchant_id", how="left")
        .join(vc, on="merchant_id", how="left")
        .rename(
            {
                "channel": "channel_group",
                "mcc_group": "demand_class",
                "zone_site_count": "site_count",
            }
        )
    )
    if df["demand_class"].null_count():
        raise EngineError("MERCHANT_UNIVERSE_MISSING", STATE, "a zone_alloc merchant has no row")
    if df["virtual_mode"].null_count():
        raise EngineError("VIRTUAL_MODE_MISSING", STATE, "a zone_alloc merchant has no mode")
    df = df.sort(["merchant_id", "tzid", "channel_group"])
    v = demand["volume"]
    n_sites = df.group_by("merchant_id", maintain_order=True).agg(
        pl.col("site_count").sum().alias("n_sites_m")
    )
    df = df.join(n_sites, on="merchant_id", how="left")
    raw_m = (
        lookup(df["demand_class"].to_numpy(), v["base_weekly_per_site"])
        * lookup(df["size_class"].to_numpy(), v["size_multiplier"])
        * lookup(df["channel_group"].to_numpy(), v["channel_multiplier"])
        * lookup(df["virtual_mode"].to_numpy(), v["virtual_mode_multiplier"])
        * exp(v["site_elasticity"] * log(df["n_sites_m"].to_numpy().astype(np.float64)))
    )
    raw = raw_m * df["merchant_zone_share"].to_numpy()
    total = segment_sums_nb(raw, np.array([0, raw.shape[0]], dtype=np.int64))[0]
    if not total > 0:
        raise EngineError("VOLUME_NONPOSITIVE", STATE, "the domain has no positive volume")
    weekly = raw * v["target_weekly_arrivals"] / total
    return df.with_columns(
        pl.Series("domain_row", np.arange(df.height, dtype=np.int32)),
        pl.Series("weekly_volume", weekly),
    ).select(
        "merchant_id",
        "tzid",
        "channel_group",
        "domain_row",
        "legal_country_iso",
        "mcc",
        "demand_class",
        "size_class",
        "virtual_mode",
        "site_count",
        "merchant_zone_share",
        "weekly_volume",
    )


def to_table(df: pl.DataFrame, tz_vocabulary: list[str], classes: list[str]) -> pa.Table:
    """The profile with its fixed-dictionary string columns (layer2 §1.4)."""
    t = df.to_arrow()
    fixed = {
        "tzid": tz_vocabulary,
        "channel_group": ["card_not_present", "card_present"],
        "demand_class": classes,
        "size_class": ["large", "medium", "micro", "small"],
        "virtual_mode": ["HYBRID", "NON_VIRTUAL", "VIRTUAL_ONLY"],
    }
    for col, vocab in fixed.items():
        i = t.schema.get_field_index(col)
        t = t.set_column(i, col, fixed_dictionary(t.column(col).to_pylist(), vocab))
    return t


def run(ctx):
    from engine_core.kernels import tzcache

    io = open_state(ctx, STATE)
    df = profiles(
        io.read_table("zone_alloc"),
        io.read_table("merchant_universe"),
        io.read_table("virtual_classification_3B"),
        ctx.manifest.policies["demand_5A"],
    )
    cache = tzcache.decode((io.path("tz_timetable_cache") / "tz_cache.bin").read_bytes())
    classes = sorted(ctx.manifest.policies["demand_5A"]["volume"]["base_weekly_per_site"])
    table = to_table(df, cache.tzids, classes)
    io.write("merchant_zone_profile_5A", [table])
    return io.result(
        rows=table.num_rows,
        metadata={"weekly_volume": float(df["weekly_volume"].sum())},
    )
