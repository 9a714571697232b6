"""1B.S4 — allocation plan (RNG): SYS-integerise each country's sites over its tiles."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.kernels.integerise import sys_batch_nb
from engine_core.kernels.runs import run_offsets
from engine_core.rng import RngLedger, uniform01
from engine_core.rng.streams import row_words
from engine_core.segments.layer1_rng import DOMAIN_SEP, families
from engine_core.segments.state_io import open_state

STATE = "1B.S4"
DATASET = "s4_alloc_plan"
FAMILY = "1B.S4.alloc_sys.v1"


def build(ctx: RunContext, weights: pa.Table, req: pa.Table, ledger: RngLedger) -> pa.Table:
    fam = families(ctx, "1B", "S4")
    need = req.filter(pc.greater(req["n_sites"], 0))
    iso_need = need.column("country_iso").to_pylist()
    w = weights.filter(pc.is_in(weights["country_iso"], pa.array(iso_need, pa.string())))
    iso_w = np.asarray(w.column("country_iso").to_pylist(), dtype=object)
    off = run_offsets(iso_w)
    if list(iso_w[off[:-1]]) != iso_need:
        missing = sorted(set(iso_need) - set(iso_w[off[:-1]]))
        raise EngineError("COUNTRY_WITHOUT_TILES", STATE, f"{missing[:1]} has sites but no tile")
    key, hi, lo = fam[FAMILY].derive_many(iso_need)
    u = uniform01(row_words(key, hi, lo, 1, STATE)[:, 0])
    ledger.record_rows(FAMILY, 0, key, hi, lo, draws=1, blocks=1)
    totals = need.column("n_sites").to_numpy().astype(np.int64)
    wt = w.column("weight").to_numpy()
    n = sys_batch_nb(totals, wt, off, u)
    if (n[off[:-1]] < 0).any():
        raise EngineError("ALLOC_SUM_MISMATCH", STATE, "tile quotas inconsistent")
    quota = np.repeat(totals, np.diff(off)) * wt
    keep = n > 0
    return pa.table(
        {
            "country_iso": iso_w[keep].tolist(),
            "tile_id": pc.filter(w.column("tile_id"), pa.array(keep)),
            "quota": quota[keep],
            "n_sites": pa.array(n[keep], pa.uint32()),
        }
    )


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    weights = io.read_table("s2_tile_weights")
    req = io.read_table("s3_site_requirements")
    ledger = RngLedger(STATE, DOMAIN_SEP, (FAMILY,))
    table = build(ctx, weights, req, ledger)
    io.write(DATASET, [table])
    io.publish_ledger(ledger)
    return io.result(rows=table.num_rows)
