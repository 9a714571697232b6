"""Registering worlds: publish the manifest record and add the dynamic partitions.
Used by the manifest sensor, `make run` and tests — one code path."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from dagster_project.partitions import SEED, WORLD
from engine_core.contracts import load_dictionary
from engine_core.manifest import Manifest, build_manifest, publish_manifest


def register_world(
    instance: dg.DagsterInstance, profile: str, data_root: Path, seeds: list[int]
) -> Manifest:
    m = build_manifest(profile, load_dictionary())
    publish_manifest(m, Path(data_root))
    have_worlds = set(instance.get_dynamic_partitions(WORLD))
    new_worlds = [w for w in m.worlds if w not in have_worlds]
    if new_worlds:
        instance.add_dynamic_partitions(WORLD, new_worlds)
    have_seeds = set(instance.get_dynamic_partitions(SEED))
    new_seeds = [str(s) for s in seeds if str(s) not in have_seeds]
    if new_seeds:
        instance.add_dynamic_partitions(SEED, new_seeds)
    return m
