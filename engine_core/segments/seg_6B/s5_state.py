"""6B.S5 — the validation bundle of one scenario (layer3 §4.6, RNG-free): every 6B check of
``checks.CHECKS`` (integrity re-runs and the realism gates R01–R13) over the scenario's
published outputs, then ``validation_bundle_6B`` at
``layer3/6B/validation/seed=…/manifest_fingerprint=…/scenario_id=…/`` with ``index.json``,
``validation_report_6B.json``, ``metrics_6B.parquet`` and, only without an enforced FAIL,
``_passed.flag``; an enforced FAIL raises ``6B.S5.VALIDATION_FAILED`` naming the checks
(after the report is published, as 6A.S5)."""

from __future__ import annotations

from engine_core.segments.common import metrics_parquet, run_validation
from engine_core.segments.seg_6B import gates_base

STATE = "6B.S5"


def metrics(rows) -> dict[str, bytes]:
    return metrics_parquet(rows, "metrics_6B.parquet")


def run(ctx):
    from engine_core.segments.seg_6B.checks import CHECKS

    try:
        return run_validation(ctx, "6B", "S5", CHECKS, evidence=metrics)
    finally:
        gates_base._MEMO.clear()  # the gates' shared scans die with the state
