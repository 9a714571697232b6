"""5B.S5 — validation bundle (layer2 §5): recompute — never echo — every check over every row
(T1–T16, R1, R2, G1), publish the bundle with its evidence files, and the flag only on PASS.
On FAIL the report is published and ``5B.S5.VALIDATION_FAILED`` is raised."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from engine_core.context import RunContext, StateResult
from engine_core.segments.common import run_validation
from engine_core.segments.seg_5B.base import SEGMENT, require_trace
from engine_core.segments.seg_5B.checks import CHECKS, measured
from engine_core.segments.state_io import open_state

STATE = "5B.S5"


def parquet_bytes(t: pa.Table) -> bytes:
    """Deterministic Parquet bytes for evidence (no time, fixed settings)."""
    sink = pa.BufferOutputStream()
    pq.write_table(t.replace_schema_metadata(None), sink, compression="zstd", compression_level=3)
    return sink.getvalue().to_pybytes()


def evidence(ctx: RunContext):
    def build(rows: list[dict]) -> dict[str, bytes]:
        m = measured(ctx)
        gate = pa.table(
            {
                "check_id": [r["check_id"] for r in rows],
                "kind": [r["kind"] for r in rows],
                "status": [r["status"] for r in rows],
                "measured": [json.dumps(r["measured"], sort_keys=True) for r in rows],
                "threshold": [json.dumps(r["threshold"], sort_keys=True) for r in rows],
                "enforced": [r["enforced"] for r in rows],
            }
        )
        r1 = next(r for r in rows if r["check_id"].endswith(".R1"))["measured"]
        acct = pa.table(
            {
                "state": list(r1["recomputed"]),
                **{
                    k: pa.array([v[k] for v in r1["recomputed"].values()], pa.int64())
                    for k in ("streams", "events", "draws", "blocks")
                },
            }
        )
        tables = {"gate_results": gate, "rng_accounting": acct, **m.evidence}
        return {f"evidence_{k}.parquet": parquet_bytes(t) for k, t in sorted(tables.items())}

    return build


def run(ctx: RunContext) -> StateResult:
    open_state(ctx, STATE)
    for st in ("S2", "S3", "S4"):
        require_trace(ctx, st, STATE)
    import time

    t0 = time.perf_counter()
    measured(ctx)  # infrastructure errors (missing/misaligned inputs) raise before publishing
    res = run_validation(
        ctx, SEGMENT, "S5", CHECKS, evidence=evidence(ctx), exclude=("stability_panel_5B",)
    )
    m = measured(ctx)
    phases = {k: round(v, 2) for k, v in m.seconds.items()}
    phases["total"] = round(time.perf_counter() - t0, 2)
    res.metadata["phase_seconds"] = json.dumps(phases)
    a = m.values["arrivals"]
    res.metadata.update({"arrivals": a["rows"], "virtual": a["virtual"]})
    res.metadata["top_tzids_md"] = _md(m.evidence["tz_concentration"])
    res.metadata["hour_of_week_md"] = _md(m.evidence["hourly_profile"])
    return res


def _md(t: pa.Table) -> str:
    """A small evidence table as Markdown for the Dagster UI (≤ 168 rows)."""
    cols = t.column_names
    rows = zip(*(t.column(c).to_pylist() for c in cols), strict=True)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        fmt = [f"{v:.6g}" if isinstance(v, float) else str(v) for v in r]
        lines.append("| " + " | ".join(fmt) + " |")
    return "\n".join(lines)
