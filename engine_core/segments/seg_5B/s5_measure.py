"""5B.S5 measurements (layer2 §5): the orchestration. It loads the shared inputs once
(``Context5``), checks the schemas and replays the S2 latent field, then maps the dense-pass
worker over the S2/S3 parts and the arrival-pass worker over the arrival parts (re-cut from
S3 by the S4 part law, so rows zip exactly) on the thread pool, folding each pass's typed
partials left in part order so nothing depends on scheduling. Every row is read; the only
subset is R2's fixed replay rows (``domain_row mod 64 = 0``). The evidence builders then
derive the bundle's tables, and the checks turn ``Measures.values`` into outcomes."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from engine_core.context import RunContext
from engine_core.parallel import ordered_map
from engine_core.segments.common import input_parts, read_table
from engine_core.segments.seg_5B import s2_latent, s5_evidence
from engine_core.segments.seg_5B.s4_arrivals import plan
from engine_core.segments.seg_5B.s5_arrivals_pass import ArrivalPartial, ArrivalWorker
from engine_core.segments.seg_5B.s5_context import DENSE, HOURS_PAD, STATE, Context5
from engine_core.segments.seg_5B.s5_dense import DensePartial, DenseWorker

__all__ = ["DENSE", "HOURS_PAD", "STATE", "Context5", "Measures", "measure"]


@dataclass
class Measures:
    values: dict = field(default_factory=dict)
    evidence: dict = field(default_factory=dict)  # name → pa.Table
    seconds: dict = field(default_factory=dict)  # phase timings: metadata only, never data


def _schemas_ok(ctx: RunContext) -> dict:
    """T12 (schema part): every 5B Parquet file's schema equals its contract."""
    bad = []
    for ds in (
        "s1_time_grid_5B",
        "s1_grouping_5B",
        "s2_latent_field_5B",
        *DENSE,
        "arrival_events_5B",
    ):
        want = ctx.dictionary.arrow_schema_of(ds).remove_metadata()
        for p in input_parts(ctx, ds, state=STATE):
            if not pq.read_schema(p).remove_metadata().equals(want):
                bad.append(f"{ds}/{p.name}")
    return {"schema_mismatch": bad}


def _latent(c: Context5, v: dict) -> np.ndarray:
    """R2 (S2) replay of the factor matrix against the latent field table, T13 and the S2
    trace R1 expects; returns the factors ξ the dense pass realises λ with."""
    ctx = c.ctx
    z, xi, clipped, _, _, (key, hi, lo, model) = s2_latent.factor_matrix(
        ctx, c.s2.groups, c.hz.h, c.s2.band
    )
    lat = pl.from_arrow(
        read_table(ctx, "s2_latent_field_5B", ["z", "latent_factor", "clipped"], state=STATE)
    )
    v["replay_latent"] = (
        lat.height == z.size
        and np.array_equal(lat["z"].to_numpy(), z.reshape(-1))
        and np.array_equal(lat["latent_factor"].to_numpy(), xi.reshape(-1))
        and np.array_equal(lat["clipped"].to_numpy(), clipped.reshape(-1))
    )
    v["t13"] = (
        float(lat["latent_factor"].mean()) if lat.height else 1.0,
        float(lat["clipped"].mean()) if lat.height else 0.0,
    )
    g, h = c.s2.groups.height, c.hz.h
    v["s2_expected_trace"] = (
        {
            "streams": g,
            "events": g,
            "draws": 2 * g * h,
            "blocks": g * h,
            "first": (int(key[0]), int(hi[0]), int(lo[0])),
            "last_base": (int(key[-1]), int(hi[-1]), int(lo[-1])),
            "last_add": h - 1,
        }
        if model != 2 and g
        else {"streams": 0, "events": 0, "draws": 0, "blocks": 0}
    )
    return xi


def _fold(partials: Iterable, start):
    """Left fold with ``merge`` in part order: float sums match a serial scan exactly."""
    acc = start
    for p in partials:  # one merge per part
        acc = acc.merge(p)
    return acc


def measure(ctx: RunContext) -> Measures:
    m = Measures()
    t0 = time.perf_counter()
    c = Context5(ctx)
    m.seconds["inputs"] = time.perf_counter() - t0
    v = m.values
    v["t12_schema"] = _schemas_ok(ctx)
    xi = _latent(c, v)
    t0 = time.perf_counter()
    dw = DenseWorker(c, xi)
    dense = _fold(ordered_map(dw, dw.parts, ctx.workers), DensePartial.empty(c))
    v["dense"] = dense.values()
    m.seconds["dense_pass"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    aw = ArrivalWorker(c)
    arrivals = _fold(
        ordered_map(aw, plan(ctx, c.router, STATE), ctx.workers), ArrivalPartial.empty(c)
    )
    v["arrivals"] = arrivals.values(len(aw.files))
    m.seconds["arrival_pass"] = time.perf_counter() - t0
    tables, derived = s5_evidence.build(c, dense.exp_tb, v["arrivals"])
    m.evidence.update(tables)
    v.update(derived)
    v["expected_trace_s3"] = dense.trace_s3
    return m
