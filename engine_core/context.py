"""What a state receives: the world identity, partition, data root and execution settings.

Execution settings (workers, progress) never enter data: outputs must not depend on them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine_core.contracts import Dictionary
from engine_core.io.datasets import PartitionKeys, PublishResult
from engine_core.manifest import Manifest


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class RunContext:
    data_root: Path
    dictionary: Dictionary
    manifest: Manifest
    seed: int
    scenario_id: str | None = None
    workers: int = field(default_factory=default_workers)
    # progress(state, done, total) — CLI draws a bar, Dagster logs; never affects data
    progress: Callable[[str, int, int], None] | None = None

    @property
    def mf(self) -> str:
        return self.manifest.mf

    @property
    def ph(self) -> str:
        return self.manifest.ph

    def keys(self) -> PartitionKeys:
        return self.manifest.keys(self.seed, self.scenario_id)


@dataclass
class StateResult:
    """A state's published outputs plus metadata for Dagster/CLI (timings stay out of data)."""

    state: str
    outputs: list[PublishResult] = field(default_factory=list)
    rows: int = 0
    metadata: dict = field(default_factory=dict)
