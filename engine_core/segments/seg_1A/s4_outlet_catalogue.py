"""1A.S4 — outlet catalogue (RNG-free): one row per outlet, with its minted ``site_id``."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine_core.context import RunContext, StateResult
from engine_core.segments.ids import mint_ids
from engine_core.segments.state_io import open_state

STATE = "1A.S4"
DATASET = "outlet_catalogue"


def build(ctx: RunContext, counts: pa.Table, merchants: pa.Table) -> tuple[pa.Table, dict]:
    n = counts.column("n_outlets").to_numpy().astype(np.int64)
    rows = np.repeat(np.arange(counts.num_rows), n)
    starts = np.repeat(np.cumsum(n) - n, n)
    site_order = (np.arange(rows.shape[0]) - starts + 1).astype(np.uint32)
    mid = counts.column("merchant_id").to_numpy()
    # per-merchant totals (counts are sorted by merchant, so runs are contiguous)
    first = np.concatenate([[True], mid[1:] != mid[:-1]])
    run_id = np.cumsum(first) - 1
    tot = np.bincount(run_id, weights=n).astype(np.int64)
    ncountries = np.bincount(run_id).astype(np.int64)
    m_rows = pc.index_in(
        pa.array(mid[first], pa.uint64()), merchants.column("merchant_id")
    ).to_numpy()
    attrs = merchants.take(pa.array(m_rows))
    rep = run_id[rows]
    legal = np.array(counts.column("legal_country_iso").to_pylist(), dtype=object)[rows]
    is_home = counts.column("is_home").to_numpy(zero_copy_only=False)[rows]
    merchant = mid[rows]
    site_ids, retries = mint_ids(
        "site",
        ctx.mf,
        ctx.seed,
        list(zip(merchant.astype(str), legal, site_order.astype(str), strict=True)),
        state=STATE,
    )
    table = pa.table(
        {
            "merchant_id": pa.array(merchant, pa.uint64()),
            "legal_country_iso": legal.tolist(),
            "site_order": pa.array(site_order, pa.uint32()),
            "site_id": pa.array(site_ids, pa.uint64()),
            "home_country_iso": attrs.column("home_country_iso").take(pa.array(rep)),
            "is_home_country": is_home,
            "is_registered_site": is_home & (site_order == 1),
            "mcc": attrs.column("mcc").take(pa.array(rep)),
            "channel": attrs.column("channel").take(pa.array(rep)),
            "size_class": attrs.column("size_class").take(pa.array(rep)),
            "n_outlets_merchant": pa.array(tot[rep], pa.uint32()),
            "n_countries_merchant": pa.array(ncountries[rep], pa.uint16()),
        }
    )
    return table, {"sites": table.num_rows, "id_retries": retries}


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    counts = io.read_table("s3_outlet_counts")
    merchants = io.read_table("merchant_universe")
    table, meta = build(ctx, counts, merchants)
    io.write(DATASET, [table])
    return io.result(rows=table.num_rows, metadata=meta)
