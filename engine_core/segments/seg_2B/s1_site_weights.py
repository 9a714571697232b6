"""2B.S1 — site weights (RNG): w_raw = (population/ref)^η · exp(σz − σ²/2), z = AS241(u);
normalised per merchant and per merchant × tzid."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine_core.context import RunContext, StateResult
from engine_core.kernels.integerise import segment_sums_nb
from engine_core.kernels.runs import run_offsets
from engine_core.rng import RngLedger, as241, uniform01
from engine_core.rng.detmath import exp, log
from engine_core.rng.streams import row_words
from engine_core.segments.layer1_rng import DOMAIN_SEP, families
from engine_core.segments.state_io import open_state

STATE = "2B.S1"
DATASET = "s1_site_weights"
FAMILY = "2B.S1.site_weight.v1"


def group_sums(values: np.ndarray, keys: list[np.ndarray]) -> np.ndarray:
    """Σ values over rows sharing ``keys`` (sequential sums in key order), per row."""
    order = np.lexsort(keys[::-1])
    sk = [k[order] for k in keys]
    change = np.zeros(values.shape[0], dtype=bool)
    if values.shape[0]:
        change[0] = True
        for k in sk:
            change[1:] |= k[1:] != k[:-1]
    starts = np.flatnonzero(change)
    off = np.concatenate([starts, [values.shape[0]]]).astype(np.int64)
    sums = segment_sums_nb(values[order], off)
    out = np.empty_like(values)
    out[order] = np.repeat(sums, np.diff(off))
    return out


def build(ctx: RunContext, st: pa.Table, loc: pa.Table, tiles: pa.Table, ledger: RngLedger):
    pol = ctx.manifest.policies["routing_weights_2B"]["site_weight"]
    fam = families(ctx, "2B", "S1")
    pop = pc.take(tiles["population"], pc.index_in(loc["tile_id"], tiles["tile_id"]))
    pop = pop.to_numpy().astype(np.float64)
    sid = st.column("site_id").to_numpy()
    key, hi, lo = fam[FAMILY].derive_many(sid.astype(str).tolist())
    z = as241(uniform01(row_words(key, hi, lo, 1, STATE)[:, 0]))
    ledger.record_rows(FAMILY, 0, key, hi, lo, draws=1, blocks=1)
    s = pol["lognormal_sigma"]
    w = exp(pol["population_exponent"] * log(pop / pol["population_ref"])) * exp(
        s * z - s * s / 2.0
    )
    mid = st.column("merchant_id").to_numpy()
    tz = np.unique(np.asarray(st.column("tzid").to_pylist(), dtype=object), return_inverse=True)[
        1
    ].reshape(-1)
    m_off = run_offsets(mid)
    p_weight = w / np.repeat(segment_sums_nb(w, m_off), np.diff(m_off))
    p_in_tz = w / group_sums(w, [mid, tz])
    tz_share = group_sums(p_weight, [mid, tz])
    return pa.table(
        {
            "merchant_id": st["merchant_id"],
            "legal_country_iso": st["legal_country_iso"],
            "site_order": st["site_order"],
            "site_id": st["site_id"],
            "tzid": st["tzid"],
            "w_raw": w,
            "p_weight": p_weight,
            "p_weight_in_tz": p_in_tz,
            "tz_share": tz_share,
        }
    )


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    st = io.read_table("site_timezones")
    loc = io.read_table("site_locations", ["site_id", "tile_id"])
    tiles = io.read_table("s1_tile_index", ["tile_id", "population"])
    ledger = RngLedger(STATE, DOMAIN_SEP, (FAMILY,))
    table = build(ctx, st, loc, tiles, ledger)
    io.write(DATASET, [table])
    io.publish_ledger(ledger)
    return io.result(rows=table.num_rows)
