"""1B.S2 — tile weights (SF, RNG-free): population^β normalised within each country."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.io.datasets import write_parquet_dataset
from engine_core.kernels.integerise import segment_sums_nb
from engine_core.rng.detmath import exp, log
from engine_core.segments.common import keys_for, load_sealed, read_table

STATE = "1B.S2"
DATASET = "s2_tile_weights"


def run_offsets(keys: np.ndarray) -> np.ndarray:
    """Start offsets of runs of equal consecutive keys, plus the end."""
    if keys.shape[0] == 0:
        return np.zeros(1, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return np.concatenate([starts, [keys.shape[0]]]).astype(np.int64)


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
    load_sealed(ctx, "1B", state=STATE).require("placement_1B", state=STATE)
    tiles = read_table(ctx, "s1_tile_index", ["tile_id", "country_iso", "population"], state=STATE)
    table = build(ctx, tiles)
    res = write_parquet_dataset(
        ctx.dictionary, DATASET, ctx.data_root, keys_for(ctx, DATASET), [table], state=STATE
    )
    return StateResult(STATE, [res], rows=table.num_rows)
