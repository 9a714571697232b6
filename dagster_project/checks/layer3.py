"""Layer-3 realism gates (layer3 §5): one ``@multi_asset_check`` per segment, computed by its
validation state (S5) and attached to the assets they measure, with the measured value,
band and strata as metadata. The gates are read from the published validation report, so
6A's are computed once per world (mf, seed) however many scenario partitions use it, 6B's
once per scenario partition; a bundle published without ``_passed.flag`` still carries the
report, and its failed gates fail here (ERROR in small/reference/large, WARN in tiny)."""

from __future__ import annotations

import json

import dagster as dg

from dagster_project.checks.results import check_result, check_spec
from dagster_project.keys import asset_key
from dagster_project.partitions import parse_partition
from dagster_project.resources import EngineResource
from engine_core.checks import Check
from engine_core.errors import EngineError
from engine_core.segments.common import dataset_path


def report_rows(ctx, segment: str) -> dict[str, dict]:
    """``check_id → report row`` of the segment's published validation report."""
    path = dataset_path(ctx, f"validation_bundle_{segment}") / f"validation_report_{segment}.json"
    if not path.exists():
        raise EngineError("SEALED_INPUT_MISSING", detail=f"no validation report at {path}")
    return {r["check_id"]: r for r in json.loads(path.read_bytes())["checks"]}


def realism_checks(segment: str, checks: list[Check], dictionary=None) -> dg.AssetChecksDefinition:
    bundle = f"validation_bundle_{segment}"

    @dg.multi_asset_check(
        # not blocking: a gate on an S1 asset read from the S5 bundle cannot gate S2 (a cycle);
        # the withheld flag is what stops consumers (their S0 HashGates it)
        specs=[check_spec(c, False, dictionary, after=(bundle,)) for c in checks],
        name=f"realism_{segment.lower()}",
        description=f"{segment} realism gates, as its validation state measured them",
        can_subset=True,
    )
    def _gates(context, engine: EngineResource):
        seed, world = parse_partition(context.partition_key)
        # scenario-scoped context: the 6B bundle is per scenario; scenario-free datasets (6A's
        # bundle) drop the scenario from their path, so 6A still reads one report per world
        ctx = engine.run_context(seed, world, scenario_scoped=True, log=context.log)
        try:
            rows = report_rows(ctx, segment)
        except EngineError as e:
            rows, missing = {}, e.message
        selected = context.selected_asset_check_keys
        for c in checks:
            key = dg.AssetCheckKey(asset_key(c.dataset, dictionary), c.check_id.replace(".", "_"))
            if key not in selected:
                continue
            row = rows.get(c.check_id) or {
                "status": "FAIL",
                "measured": missing if not rows else "not in the report",
                "threshold": None,
                "enforced": True,
            }
            yield check_result(c, row, with_key=True, dictionary=dictionary)

    return _gates
