"""Checks on the manifest record: it exists, validates against its contract and matches the
current policies (a blocking integrity check)."""

from __future__ import annotations

import json

import dagster as dg

from dagster_project.partitions import parse_partition, world_seed_partitions
from dagster_project.resources import EngineResource
from engine_core.contracts import load_dictionary
from engine_core.errors import EngineError
from engine_core.io.datasets import resolve


@dg.asset_check(
    asset=dg.AssetKey(["engine", "manifest_record"]),
    name="manifest_matches_policies",
    blocking=True,
    partitions_def=world_seed_partitions,
    description="The published record validates against gates.yaml#/$defs/manifest_record and "
    "its mf equals the mf recomputed from the current policies and reference data.",
)
def manifest_matches_policies(context, engine: EngineResource) -> dg.AssetCheckResult:
    seed, world = parse_partition(context.partition_key)
    try:
        m = engine.manifest_for_world(world)
        d = load_dictionary()
        path = resolve(d, "manifest_record", engine.root, m.keys())
        doc = json.loads(path.read_bytes())
        d.schemas.validate(
            doc, d.dataset("manifest_record").schema_ref, file=str(path), code="SCHEMA_VIOLATION"
        )
        ok = doc == m.record()
        detail = "record equals the recomputed manifest" if ok else "record differs"
    except (EngineError, FileNotFoundError) as e:
        ok, detail = False, getattr(e, "message", str(e))
    return dg.AssetCheckResult(
        passed=ok,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"detail": detail, "world": world, "seed": str(seed)},
    )


manifest_checks = [manifest_matches_policies]
