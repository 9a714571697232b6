"""The manifest record asset: the world's identity, upstream of every segment's S0."""

from __future__ import annotations

import dagster as dg

from dagster_project.assets.common import run_state_asset
from dagster_project.assets.sources import source_keys
from dagster_project.partitions import world_seed_partitions
from dagster_project.resources import EngineResource
from engine_core.registry import manifest_state


@dg.asset(
    key=["engine", "manifest_record"],
    partitions_def=world_seed_partitions,
    deps=source_keys(),
    group_name="engine",
    description="manifests/<mf>.json: profile, parameter_hash, manifest_fingerprint, sealed "
    "policies and reference data, scenarios and world keys.",
)
def manifest_record(context, engine: EngineResource):
    return run_state_asset(context, engine, manifest_state, scenario_scoped=False)
