"""Schedules: a nightly regression world and a weekly multi-seed stability panel.
Both run on already-registered worlds (the manifest sensor registers them)."""

from __future__ import annotations

import dagster as dg

from dagster_project.assets.factory import RECOMPUTE_TAG
from dagster_project.jobs import panel_job, world_job
from dagster_project.partitions import SEED, WORLD, partition_key
from dagster_project.resources import EngineResource


def _worlds(context, engine: EngineResource, profile: str) -> list[str]:
    from engine_core.contracts import load_dictionary
    from engine_core.manifest import build_manifest

    m = build_manifest(profile, load_dictionary())
    registered = set(context.instance.get_dynamic_partitions(WORLD))
    return [w for w in m.worlds if w in registered]


@dg.schedule(
    job=world_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def nightly_regression(context, engine: EngineResource):
    """Re-run the default seeds of the first served profile: an unchanged world reuses every
    file byte-for-byte, so any IO_WRITE_CONFLICT is a determinism regression."""
    worlds = _worlds(context, engine, engine.profiles[0])
    seeds = set(context.instance.get_dynamic_partitions(SEED))
    reqs = [
        dg.RunRequest(
            partition_key=partition_key(s, w),
            tags={"fwe/schedule": "nightly", RECOMPUTE_TAG: "true"},
        )
        for w in worlds
        for s in engine.default_seeds
        if str(s) in seeds
    ]
    return reqs or dg.SkipReason("no registered world yet (start the manifest sensor)")


@dg.schedule(
    job=world_job,
    cron_schedule="0 4 * * 0",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def weekly_stability_panel(context, engine: EngineResource):
    """The panel seeds on every world of the first served profile (seed stability gates)."""
    worlds = _worlds(context, engine, engine.profiles[0])
    seeds = set(context.instance.get_dynamic_partitions(SEED))
    missing = [s for s in engine.panel_seeds if str(s) not in seeds]
    if missing:
        return dg.SkipReason(f"panel seeds {missing} are not registered seed partitions")
    reqs = [
        dg.RunRequest(partition_key=partition_key(s, w), tags={"fwe/schedule": "panel"})
        for w in worlds
        for s in engine.panel_seeds
    ]
    return reqs or dg.SkipReason("no registered world yet")


@dg.schedule(
    job=panel_job,
    cron_schedule="0 10 * * 0",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
def weekly_panel_gate(context, engine: EngineResource):
    """After the weekly panel runs: the T10 gate of every world of the first served profile."""
    worlds = _worlds(context, engine, engine.profiles[0])
    reqs = [dg.RunRequest(partition_key=w, tags={"fwe/schedule": "panel-gate"}) for w in worlds]
    return reqs or dg.SkipReason("no registered world yet")


all_schedules = [nightly_regression, weekly_stability_panel, weekly_panel_gate]
