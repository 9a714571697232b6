"""Reuse policy: a scenario-free state whose outputs are all published for this partition is
not recomputed (A§7: same mf and seed ⇒ same bytes, so a later scenario reuses them)."""

from __future__ import annotations

import json

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.io.datasets import PublishResult
from engine_core.io.publish import REUSED, partition_files
from engine_core.segments.common import dataset_path
from engine_core.statespec import StateSpec


def published_outputs(spec: StateSpec, ctx: RunContext) -> StateResult | None:
    """The state's outputs if every one is already published for this partition, else None.
    A validation bundle without its flag is a failed segment and is re-raised, never reused."""
    if spec.scenario_scoped:
        return None
    outs = []
    for ds in spec.outputs:
        path = dataset_path(ctx, ds)
        if not path.exists():
            return None
        if ds.startswith("validation_bundle_") and not (path / "_passed.flag").exists():
            report = json.loads((path / f"validation_report_{spec.segment}.json").read_bytes())
            failed = [
                c["check_id"] for c in report["checks"] if c["status"] == "FAIL" and c["enforced"]
            ]
            raise EngineError(
                "VALIDATION_FAILED",
                spec.state_id,
                f"failed checks: {', '.join(failed)} (published report at {path})",
            )
        outs.append(PublishResult(ds, path, REUSED, 0, partition_files(ctx.data_root, path)))
    return StateResult(spec.state_id, outs, metadata={"reused_without_recompute": True})
