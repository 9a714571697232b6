"""The shared partitions (ARCHITECTURE §7): dynamic ``seed`` × dynamic ``world``.

``world = <first 16 hex of mf>.<scenario_id>``; the manifest record
``<data_root>/manifests/<mf>.json`` maps it back to the full identity.
"""

from __future__ import annotations

import re

import dagster as dg

SEED = "seed"
WORLD = "world"

seed_partitions = dg.DynamicPartitionsDefinition(name=SEED)
world_partitions = dg.DynamicPartitionsDefinition(name=WORLD)
world_seed_partitions = dg.MultiPartitionsDefinition(
    {SEED: seed_partitions, WORLD: world_partitions}
)

_WORLD_RE = re.compile(r"^[0-9a-f]{16}\.[a-z0-9_]+$")
_SEED_RE = re.compile(r"^(0|[1-9][0-9]{0,19})$")


def partition_key(seed: int, world: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({SEED: str(int(seed)), WORLD: world})


def parse_partition(key: dg.MultiPartitionKey | str) -> tuple[int, str]:
    """``(seed, world)`` from a partition key, validated (no ``| , [ ]`` ever appear)."""
    if not isinstance(key, dg.MultiPartitionKey):
        raise ValueError(f"expected a (seed, world) partition key, got {key!r}")
    dims = key.keys_by_dimension
    seed, world = dims[SEED], dims[WORLD]
    if not _SEED_RE.match(seed) or int(seed) >= 1 << 64:
        raise ValueError(f"seed partition {seed!r} is not a uint64 in decimal")
    if not _WORLD_RE.match(world):
        raise ValueError(f"world partition {world!r} is not <mf16>.<scenario_id>")
    return int(seed), world
