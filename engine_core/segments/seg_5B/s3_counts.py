"""5B.S3 — bucket counts (layer2 §3.4): the only place counts are drawn. Each bucket row with
λ_realised > 1e-9 derives its own stream from ``merchant_id|tzid|channel_group|bucket_index``
(numba SHA-256 with midstate) and draws Poisson (1 word) or NB2 (2 words); zero-λ rows derive
nothing. Written densely in the S2 part law."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.kernels.counts import LAW_NB2, LAW_POISSON, counts_nb
from engine_core.parallel import ordered_map
from engine_core.rng.sha256_nb import bucket_streams, midstate, string_buffers
from engine_core.segments.common import read_table
from engine_core.segments.parts import part_files, read_part
from engine_core.segments.seg_5B import constants as K
from engine_core.segments.seg_5B.base import (
    dense_keys,
    domain,
    family_prefix,
    horizon,
    ledger,
    n_parts,
    pl_table,
    require_trace,
    scenario_row,
)
from engine_core.segments.state_io import open_state

STATE = "5B.S3"
FAMILY = "5B.S3.bucket_count.v1"
LAWS = {"poisson": LAW_POISSON, "nb2": LAW_NB2}


def domain_key_prefixes(dom: pl.DataFrame):
    """Bytes of ``"{merchant_id}|{tzid}|{channel_group}|"`` per domain row (the key law's
    constant part; S3 and S4 append the decimal bucket index)."""
    s = dom.select(
        pl.concat_str(
            [pl.col("merchant_id").cast(pl.String), "tzid", "channel_group", pl.lit("")],
            separator="|",
        )
    ).to_series()
    return string_buffers(s.to_arrow())


def kappa_of_rows(ctx: RunContext, classes: pl.Series, band: str) -> np.ndarray:
    """κ per domain row: one value per distinct class, mapped vectorised."""
    k = ctx.manifest.policies["counts_5B"]["nb2"]["kappa"]
    cm = k["class_multiplier"]
    lo, hi = k["bounds"]
    table = {
        c: min(max(k["base"][band] * cm.get(c, cm["default"]), lo), hi)
        for c in classes.unique().to_list()
    }
    return classes.replace_strict(table, return_dtype=pl.Float64).to_numpy()


class Inputs:
    def __init__(self, ctx: RunContext, state: str = STATE):
        pol = ctx.manifest.policies["counts_5B"]
        law = pol["count_law_id"]
        if law not in LAWS:
            raise EngineError("COUNT_LAW_UNKNOWN", state, f"counts_5B /count_law_id {law!r}")
        self.law = LAWS[law]
        self.words = 2 if self.law == LAW_NB2 else 1
        self.hz = horizon(ctx, state)
        self.dom = domain(ctx, state)
        band = "baseline" if scenario_row(ctx, state)["is_baseline"] else "stress"
        grp = pl_table(read_table(ctx, "s1_grouping_5B", ["demand_class"], state=state))
        self.kappa_dom = kappa_of_rows(ctx, grp["demand_class"], band)
        self.keys = dense_keys(ctx, self.dom, self.hz.h, state)
        self.dom_bytes, self.dom_off = domain_key_prefixes(self.dom)
        self.ms = midstate(family_prefix(ctx, FAMILY))

    def draw(self, a: int, mu: np.ndarray, state: str = STATE):
        """Counts of a part whose first domain row is ``a``; returns (counts, nz rows, streams)."""
        h = self.hz.h
        nz = np.flatnonzero(mu > K.LAMBDA_ZERO_EPS)
        row_dom = a + nz // h
        key, hi, lo = bucket_streams(self.ms, self.dom_bytes, self.dom_off, row_dom, nz % h)
        vals = np.zeros(nz.shape[0], dtype=np.int64)
        bad = counts_nb(mu[nz], self.kappa_dom[row_dom], key, hi, lo, self.law, K.COUNT_CAP, vals)
        if bad >= 0:
            r = int(nz[bad])
            row = self.dom.row(a + r // h, named=True)
            raise EngineError(
                "COUNT_CAP_EXCEEDED",
                state,
                f"merchant_id={row['merchant_id']}, tzid={row['tzid']}, bucket {r % h}: "
                f"count > {K.COUNT_CAP}",
            )
        counts = np.zeros(mu.shape[0], dtype=np.uint32)
        counts[nz] = vals
        return counts, nz, (key, hi, lo)


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    require_trace(ctx, "S2", STATE)
    inp = Inputs(ctx)
    d, h = inp.dom.height, inp.hz.h
    src = part_files(ctx, "s2_realised_intensity_5B", STATE, n_parts(d))
    out = io.staged("s3_bucket_counts_5B")

    def work(p: int):
        a, b = p * K.PART_ROWS, min(d, (p + 1) * K.PART_ROWS)
        t = read_part(src[p])
        inp.keys.slice(a, b).verify(
            t, where=f"s2_realised_intensity_5B part {p}", code="INPUT_MISALIGNED", state=STATE
        )
        mu = t.column("lambda_realised").to_numpy()
        counts, nz, streams = inp.draw(a, mu)
        table = pa.table(
            {
                **{
                    c: t.column(c) for c in ("merchant_id", "tzid", "channel_group", "bucket_index")
                },
                "count_n": pa.array(counts, pa.uint32()),
            }
        )
        # T9a partials over rows with μ ≥ 1 (layer2 §5.2), reported as metadata
        m = mu >= 1.0
        kap = np.repeat(inp.kappa_dom[a:b], h)[m] if inp.law == LAW_NB2 else np.inf
        zz = (counts[m] - mu[m]) / np.sqrt(mu[m] * (1.0 + mu[m] / kap))
        return (
            out.write(p, table),
            streams,
            int(counts.sum(dtype=np.int64)),
            (int(m.sum()), float(zz.sum()), float((zz * zz).sum())),
        )

    led = ledger(ctx, STATE, FAMILY)
    rows = arrivals = 0
    t9 = np.zeros(3)
    for p, (n, (key, hi, lo), a, part_t9) in enumerate(
        ordered_map(work, range(n_parts(d)) if d else [], ctx.workers)
    ):
        rows += n
        arrivals += a
        t9 += part_t9
        led.record_rows(FAMILY, p, key, hi, lo, draws=inp.words, blocks=1)
        if (p, FAMILY) in led.rows:
            led.rows[(p, FAMILY)].streams += len(key)
        if ctx.progress:
            ctx.progress(STATE, min(d, (p + 1) * K.PART_ROWS), d)
    if not led.rows:
        led.record(FAMILY, 0, events=0, draws=0, blocks=0, first=None, last=None)
    io.add(out.publish(rows))
    io.publish_ledger(led)
    n9, s1, s2 = t9
    sd = float(np.sqrt(max(s2 / n9 - (s1 / n9) ** 2, 0.0))) if n9 else float("nan")
    return io.result(rows=rows, metadata={"arrivals": arrivals, "T9a_sd": sd, "T9a_rows": int(n9)})
