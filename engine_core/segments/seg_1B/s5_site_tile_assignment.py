"""1B.S5 — site → tile assignment (RNG): a raw-word shuffle of each country's sites onto the
slots of its plan (tile_id order)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.kernels.runs import run_offsets
from engine_core.rng import RngLedger
from engine_core.rng.philox import fill_words
from engine_core.segments.layer1_rng import DOMAIN_SEP, families
from engine_core.segments.state_io import open_state

STATE = "1B.S5"
DATASET = "s5_site_tile_assignment"
FAMILY = "1B.S5.site_shuffle.v1"


def build(ctx: RunContext, cat: pa.Table, plan: pa.Table, ledger: RngLedger) -> pa.Table:
    fam = families(ctx, "1B", "S5")
    iso = np.asarray(cat.column("legal_country_iso").to_pylist(), dtype=object)
    mid = cat.column("merchant_id").to_numpy()
    order_site = np.lexsort((cat.column("site_order").to_numpy(), mid, iso))  # country, (m, o)
    iso_sorted = iso[order_site]
    off = run_offsets(iso_sorted)
    countries = iso_sorted[off[:-1]].tolist()
    plan_iso = np.asarray(plan.column("country_iso").to_pylist(), dtype=object)
    poff = run_offsets(plan_iso)
    if plan_iso[poff[:-1]].tolist() != countries:
        raise EngineError("CHECK_FAILED", STATE, "allocation plan countries differ from sites")
    # raw word i of the country's stream is site i's key (one stream per country)
    keys = np.empty(iso.shape[0], dtype=np.uint64)
    for j, c in enumerate(countries):  # one stream per country (≤ 198), words vectorised
        k, h, lo = fam[FAMILY].derive(c)
        n = int(off[j + 1] - off[j])
        keys[off[j] : off[j + 1]] = fill_words(k, h, lo, 0, n)
        ledger.record_rows(FAMILY, 0, [k], [h], [lo], draws=n, blocks=(n + 1) // 2)
    country_idx = np.repeat(np.arange(len(countries)), np.diff(off))
    local = np.arange(iso.shape[0]) - np.repeat(off[:-1], np.diff(off))
    rank = np.lexsort((local, keys, country_idx))  # by (country, k_i, i)
    slots = np.repeat(plan.column("tile_id").to_numpy(), plan.column("n_sites").to_numpy())
    if slots.shape[0] != iso.shape[0]:
        raise EngineError("CHECK_FAILED", STATE, "plan slots differ from the number of sites")
    tile = np.empty(iso.shape[0], dtype=np.uint64)
    tile[order_site[rank]] = slots  # slots are in (country, tile_id) order
    return pa.table(
        {
            "merchant_id": cat.column("merchant_id"),
            "legal_country_iso": cat.column("legal_country_iso"),
            "site_order": cat.column("site_order"),
            "site_id": cat.column("site_id"),
            "tile_id": pa.array(tile, pa.uint64()),
        }
    )


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    cat = io.read_table(
        "outlet_catalogue", ["merchant_id", "legal_country_iso", "site_order", "site_id"]
    )
    plan = io.read_table("s4_alloc_plan")
    ledger = RngLedger(STATE, DOMAIN_SEP, (FAMILY,))
    table = build(ctx, cat, plan, ledger)
    io.write(DATASET, [table])
    io.publish_ledger(ledger)
    return io.result(rows=table.num_rows)
