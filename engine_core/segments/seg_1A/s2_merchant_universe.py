"""1A.S2 — merchant universe (RNG): N merchants with home country, MCC, channel, size class."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.kernels.integerise import sys_integerise
from engine_core.rng import RngLedger, build_alias_table, uniform01
from engine_core.rng.streams import Stream, row_words
from engine_core.segments.common import lookup
from engine_core.segments.ids import mint_ids
from engine_core.segments.layer1_rng import DOMAIN_SEP, families
from engine_core.segments.state_io import open_state

STATE = "1A.S2"
DATASET = "merchant_universe"
HOME = "1A.S2.home_alloc.v1"
ATTRS = "1A.S2.merchant_attrs.v1"
SIZES = ("micro", "small", "medium", "large")


def mcc_table(taxonomy: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MCC codes in code order with their group and weight group.share · mcc_share."""
    rows = sorted(
        (int(code), group, g["share"] * share)
        for group, g in taxonomy["groups"].items()
        for code, share in g["mccs"].items()
    )
    return (
        np.array([r[0] for r in rows], dtype=np.uint16),
        np.array([r[1] for r in rows], dtype=object),
        np.array([r[2] for r in rows], dtype=np.float64),
    )


def build(ctx: RunContext, countries: pa.Table, ledger: RngLedger) -> tuple[pa.Table, dict]:
    model = ctx.manifest.policies["merchant_model_1A"]
    taxonomy = ctx.manifest.policies["mcc_taxonomy_1A"]
    fam = families(ctx, "1A", "S2")
    n = int(model["n_merchants"])
    iso = countries.column("country_iso").to_pylist()
    # 1. home allocation: SYS over the universe in iso order, one uniform
    home_stream = Stream(*fam[HOME].derive("world"), state=STATE)
    u = float(home_stream.uniforms(1)[0])
    ledger.record_stream(HOME, 0, home_stream)
    n_c = sys_integerise(n, countries.column("merchant_weight").to_numpy(), u, state=STATE)
    # 2. ids minted in (iso, local_index) order
    home = np.repeat(np.array(iso, dtype=object), n_c)
    local = np.concatenate([np.arange(k) for k in n_c]) if n else np.array([], dtype=np.int64)
    ids, retries = mint_ids(
        "merchant", ctx.mf, ctx.seed, list(zip(home, local.astype(str), strict=True)), state=STATE
    )
    order = np.argsort(ids, kind="stable")
    ids, home = ids[order], home[order]
    # 3. attributes from each merchant's stream: alias MCC, channel coin, size inverse CDF
    key, hi, lo = fam[ATTRS].derive_many([str(int(m)) for m in ids])
    w = row_words(key, hi, lo, 3, STATE)
    ledger.record_rows(ATTRS, 0, key, hi, lo, draws=3, blocks=2)
    codes, groups, weights = mcc_table(taxonomy)
    table = build_alias_table(codes, weights, state=STATE)
    slot = table.pick(w[:, 0])
    mcc, group = codes[table.order][slot], groups[table.order][slot]
    p_cnp = lookup(group, {g: v["p_cnp"] for g, v in taxonomy["groups"].items()})
    cnp = uniform01(w[:, 1]) < p_cnp
    mix = np.array([model["size_mix"][s] for s in SIZES])  # the 4 classes, in listed order
    cdf = np.cumsum(mix) / math.fsum(mix.tolist())
    cdf[-1] = 1.0
    size = np.searchsorted(cdf, uniform01(w[:, 2]), side="right")
    out = pa.table(
        {
            "merchant_id": pa.array(ids, pa.uint64()),
            "home_country_iso": home.tolist(),
            "mcc": pa.array(mcc, pa.uint16()),
            "mcc_group": group.tolist(),
            "channel": np.where(cnp, "card_not_present", "card_present").tolist(),
            "size_class": np.array(SIZES, dtype=object)[size].tolist(),
        }
    )
    return out, {"merchants": n, "id_retries": retries, "home_countries": int((n_c > 0).sum())}


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    countries = io.read_table("s1_country_reference", ["country_iso", "merchant_weight"])
    ledger = RngLedger(STATE, DOMAIN_SEP, (HOME, ATTRS))
    table, meta = build(ctx, countries, ledger)
    io.write(DATASET, [table])
    io.publish_ledger(ledger)
    return io.result(rows=table.num_rows, metadata=meta)
