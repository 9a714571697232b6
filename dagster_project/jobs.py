"""Jobs: the whole world for one (seed, world) partition."""

from __future__ import annotations

import dagster as dg

from dagster_project.keys import asset_key
from dagster_project.partitions import world_seed_partitions

PANEL = dg.AssetSelection.assets(asset_key("stability_panel_5B"))

world_job = dg.define_asset_job(
    "world_job",
    selection=dg.AssetSelection.all(include_sources=False) - PANEL,
    partitions_def=world_seed_partitions,
    description="Materialise every engine asset (and run its checks) for one (seed, world).",
)

panel_job = dg.define_asset_job(
    "stability_panel_job",
    selection=PANEL,
    description="The 5B T10 stability panel of one world (its panel seeds must be built).",
)
