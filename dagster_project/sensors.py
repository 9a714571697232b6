"""Sensors: a manifest sensor (policies changed → new mf → register worlds, request the
default seeds) and a seed-request sensor (a seed added in the UI → run it on every world)."""

from __future__ import annotations

import json

import dagster as dg

from dagster_project.jobs import world_job
from dagster_project.partitions import SEED, WORLD, partition_key
from dagster_project.resources import EngineResource
from engine_core.contracts import load_dictionary
from engine_core.errors import EngineError
from engine_core.manifest import build_manifest, publish_manifest


@dg.sensor(
    job=world_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED
)
def manifest_sensor(context, engine: EngineResource):
    """Recompute each served profile's mf; a new mf registers its worlds and requests runs."""
    cursor = json.loads(context.cursor) if context.cursor else {}
    known_worlds = set(context.instance.get_dynamic_partitions(WORLD))
    known_seeds = set(context.instance.get_dynamic_partitions(SEED))
    add_worlds, add_seeds, requests = [], [], []
    for profile in engine.profiles:
        try:
            m = build_manifest(profile, load_dictionary())
        except EngineError as e:
            return dg.SkipReason(f"{profile}: {e.message}")
        if cursor.get(profile) == m.mf:
            continue
        publish_manifest(m, engine.root)
        cursor[profile] = m.mf
        for w in m.worlds:
            if w not in known_worlds:
                add_worlds.append(w)
                known_worlds.add(w)
            for s in engine.default_seeds:
                if str(s) not in known_seeds:
                    add_seeds.append(str(s))
                    known_seeds.add(str(s))
                key = partition_key(s, w)
                requests.append(dg.RunRequest(run_key=f"{w}|{s}", partition_key=key))
    dyn = []
    if add_worlds:
        dyn.append(dg.AddDynamicPartitionsRequest(WORLD, add_worlds))
    if add_seeds:
        dyn.append(dg.AddDynamicPartitionsRequest(SEED, add_seeds))
    return dg.SensorResult(
        run_requests=requests, dynamic_partitions_requests=dyn, cursor=json.dumps(cursor)
    )


@dg.sensor(
    job=world_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.STOPPED
)
def seed_request_sensor(context):
    """Seeds added to the ``seed`` partition set (UI or API) run on every registered world."""
    seen = set(json.loads(context.cursor)) if context.cursor else set()
    seeds = set(context.instance.get_dynamic_partitions(SEED))
    new = sorted(seeds - seen, key=int)
    worlds = sorted(context.instance.get_dynamic_partitions(WORLD))
    requests = [
        dg.RunRequest(run_key=f"{w}|{s}", partition_key=partition_key(int(s), w))
        for s in new
        for w in worlds
    ]
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(sorted(seeds, key=int)))


all_sensors = [manifest_sensor, seed_request_sensor]
