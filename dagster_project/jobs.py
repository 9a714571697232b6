"""Jobs: the whole world for one (seed, world) partition."""

from __future__ import annotations

import dagster as dg

from dagster_project.partitions import world_seed_partitions

world_job = dg.define_asset_job(
    "world_job",
    selection=dg.AssetSelection.all(include_sources=False),
    partitions_def=world_seed_partitions,
    description="Materialise every engine asset (and run its checks) for one (seed, world).",
)
