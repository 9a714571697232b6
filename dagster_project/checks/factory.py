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


def check_result(
    check: Check, row: dict, *, with_key: bool = False, dictionary=None
) -> dg.AssetCheckResult:
    """The Dagster result of one report row (``with_key`` names the asset and check, for
    results yielded by a multi-asset rather than by the check op itself)."""
    extra = (
        {
            "asset_key": asset_key(check.dataset, dictionary),
            "check_name": check.check_id.replace(".", "_"),
        }
        if with_key
        else {}
    )
    # Dagster has no "skipped" result: a SKIPPED gate (no power in this profile) does not
    # fail the run, and says so in its description and status — it is never shown as PASS
    skipped = row["status"] == "SKIPPED"
    return dg.AssetCheckResult(
        **extra,
        passed=row["status"] == "PASS" or skipped,
        description="SKIPPED: not evaluable in this profile (no power)" if skipped else None,
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


def engine_check(check: Check, dictionary=None) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset_key(check.dataset, dictionary),
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


def _spec(check: Check, blocking: bool, dictionary) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=check.check_id.replace(".", "_"),
        asset=asset_key(check.dataset, dictionary),
        blocking=blocking,
        description=check.description or f"{check.kind} check {check.check_id}",
        partitions_def=world_seed_partitions,
    )


def one_pass_checks(
    segment: str, checks: list[Check], last_outputs: tuple[str, ...], dictionary=None
) -> dg.AssetChecksDefinition:
    """All of a segment's checks in one op: they read one memoised full pass over the
    partition (the same numbers its validation state reports), each result attached to the
    dataset it measures. The pass needs the segment's last data state, so only checks on
    that state's outputs (``last_outputs``) can block in Dagster; an integrity failure on
    an earlier dataset still withholds the validation flag, which every consumer HashGates."""

    @dg.multi_asset_check(
        specs=[
            _spec(c, c.kind == INTEGRITY and c.dataset in last_outputs, dictionary) for c in checks
        ],
        name=f"checks_{segment.lower()}",
        description=f"{segment} gates from one full pass over the partition",
        can_subset=True,  # a run of some of the segment's assets evaluates their checks only
    )
    def _checks(context, engine: EngineResource):
        seed, world = parse_partition(context.partition_key)
        ctx = engine.run_context(seed, world, scenario_scoped=True, log=context.log)
        selected = context.selected_asset_check_keys
        for c in checks:
            key = dg.AssetCheckKey(asset_key(c.dataset, dictionary), c.check_id.replace(".", "_"))
            if key in selected:
                yield check_result(c, c.evaluate(ctx), with_key=True, dictionary=dictionary)

    return _checks
