"""Dagster results and specs of engine checks: integrity checks are blocking ERROR; realism
gates ERROR except in advisory profiles (WARN), and always report their measured value,
band and strata. A SKIPPED gate is reported as SKIPPED, never as PASS."""

from __future__ import annotations

import json

import dagster as dg

from dagster_project.keys import asset_key
from dagster_project.partitions import world_seed_partitions
from engine_core.checks import Check


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
        # a WARN row (advisory profile, or a WARN-severity band of a passed gate) never errors
        severity=dg.AssetCheckSeverity.ERROR
        if row["enforced"] and row["status"] != "WARN"
        else dg.AssetCheckSeverity.WARN,
        metadata={
            "check_id": check.check_id,
            "kind": check.kind,
            "status": row["status"],
            "measured": _meta(row["measured"]),
            "threshold": _meta(row["threshold"]),
            "band": _meta(row["threshold"]),
            "strata": _meta(strata(row["measured"])),
            "enforced": row["enforced"],
        },
    )


def strata(measured) -> str:
    """The strata a measurement reports (``a, b`` for per-stratum dicts; ``all rows``)."""
    if isinstance(measured, dict):
        per = [k for k, v in measured.items() if isinstance(v, dict)]
        if per:
            return ", ".join(sorted(per))
    return "all rows"


def check_spec(check: Check, blocking: bool, dictionary, after=()) -> dg.AssetCheckSpec:
    """``after``: datasets the check's evaluation reads beyond its asset (e.g. the bundle
    whose report carries the realism gates)."""
    return dg.AssetCheckSpec(
        name=check.check_id.replace(".", "_"),
        asset=asset_key(check.dataset, dictionary),
        additional_deps=[asset_key(a, dictionary) for a in after] or None,
        blocking=blocking,
        description=check.description or f"{check.kind} check {check.check_id}",
        partitions_def=world_seed_partitions,
    )
