"""The Definitions object: engine assets, checks, jobs, sensors, schedules, resources."""

from __future__ import annotations

import os

import dagster as dg

from dagster_project.assets import all_assets
from dagster_project.checks import all_checks
from dagster_project.jobs import panel_job, world_job
from dagster_project.resources import EngineResource
from dagster_project.schedules import all_schedules
from dagster_project.sensors import all_sensors


def engine_resource() -> EngineResource:
    profiles = os.environ.get("FWE_PROFILES", "small").split(",")
    return EngineResource(
        data_root=os.environ.get("FWE_DATA_ROOT", "data"),
        profiles=[p.strip() for p in profiles if p.strip()],
        workers=int(os.environ.get("FWE_WORKERS", "0")),
    )


defs = dg.Definitions(
    assets=all_assets(),
    asset_checks=all_checks(),
    jobs=[world_job, panel_job],
    sensors=all_sensors,
    schedules=all_schedules,
    resources={"engine": engine_resource()},
)
