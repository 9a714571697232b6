"""Asset checks from the engine's check lists: integrity checks are blocking ERROR; realism
gates are ERROR except in advisory profiles (WARN) and always report their measured value."""

from __future__ import annotations

import json

import dagster as dg

from dagster_project.assets.factory import asset_key
from dagster_project.partitions import parse_partition, world_seed_partitions
from dagster_project.resources import EngineResource
from engine_core.checks import INTEGRITY, Check


def _meta(value) -> dg.MetadataValue:
    if isinstance(value, bool):
        return dg.MetadataValue.bool(value)
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    if isinstance(value, float):
        return dg.MetadataValue.float(value)
    if isinstance(value, dict | list):
        return dg.MetadataValue.json(value)
    return dg.MetadataValue.text(json.dumps(value) if not isinstance(value, str) else value)


def check_result(check: Check, row: dict, *, with_key: bool = False) -> dg.AssetCheckResult:
    """The Dagster result of one report row (``with_key`` names the asset and check, for
    results yielded by a multi-asset rather than by the check op itself)."""
    extra = (
        {"asset_key": asset_key(check.dataset), "check_name": check.check_id.replace(".", "_")}
        if with_key
        else {}
    )
    return dg.AssetCheckResult(
        **extra,
        passed=row["status"] in ("PASS", "SKIPPED"),
        severity=dg.AssetCheckSeverity.ERROR if row["enforced"] else dg.AssetCheckSeverity.WARN,
        metadata={
            "check_id": check.check_id,
            "kind": check.kind,
            "status": row["status"],
            "measured": _meta(row["measured"]),
            "threshold": _meta(row["threshold"]),
            "enforced": row["enforced"],
        },
    )


def engine_check(check: Check) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset_key(check.dataset),
        name=check.check_id.replace(".", "_"),
        blocking=check.kind == INTEGRITY,
        partitions_def=world_seed_partitions,
        description=check.description or f"{check.kind} check {check.check_id}",
    )
    def _check(context, engine: EngineResource) -> dg.AssetCheckResult:
        seed, world = parse_partition(context.partition_key)
        ctx = engine.run_context(seed, world, scenario_scoped=True, log=context.log)
        return check_result(check, check.evaluate(ctx))

    return _check


def segment_checks(checks: list[Check]) -> list[dg.AssetChecksDefinition]:
    return [engine_check(c) for c in checks]
