"""1B.S2 — tile weights (SF, RNG-free): population^β normalised within each country."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.kernels.integerise import segment_sums_nb
from engine_core.kernels.runs import run_offsets
from engine_core.rng.detmath import exp, log
from engine_core.segments.state_io import open_state

STATE = "1B.S2"
DATASET = "s2_tile_weights"


def build(ctx: RunContext, tiles: pa.Table) -> pa.Table:
    beta = float(ctx.manifest.policies["placement_1B"]["tile_weight"]["population_exponent"])
    pop = tiles.column("population").to_numpy().astype(np.float64)
    raw = pop if beta == 1.0 else exp(beta * log(pop))  # β = 1 keeps populations exact
    iso = np.asarray(tiles.column("country_iso").to_pylist(), dtype=object)
    off = run_offsets(iso)
    tot = segment_sums_nb(raw, off)
    weight = raw / np.repeat(tot, np.diff(off))
    return pa.table(
        {"country_iso": iso.tolist(), "tile_id": tiles.column("tile_id"), "weight": weight}
    )


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    tiles = io.read_table("s1_tile_index", ["tile_id", "country_iso", "population"])
    table = build(ctx, tiles)
    io.write(DATASET, [table])
    return io.result(rows=table.num_rows)
