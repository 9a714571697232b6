"""Asset checks from the engine's check lists: integrity checks are blocking ERROR; realism
gates are ERROR except in advisory profiles (WARN) and always report their measured value."""

from __future__ import annotations

import dagster as dg

from dagster_project.checks.results import check_result, check_spec
from dagster_project.keys import asset_key
from dagster_project.partitions import parse_partition, world_seed_partitions
from dagster_project.resources import EngineResource
from engine_core.checks import INTEGRITY, Check


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
            check_spec(c, c.kind == INTEGRITY and c.dataset in last_outputs, dictionary)
            for c in checks
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
