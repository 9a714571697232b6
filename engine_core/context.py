"""What a state receives: the world identity, partition, data root and execution settings.

Execution settings (workers, progress) never enter data: outputs must not depend on them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine_core.contracts import Dictionary
from engine_core.io.datasets import PartitionKeys, PublishResult
from engine_core.manifest import Manifest


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


# layer-3 radix spill threshold per profile (layer3 §3.9); an execution setting, not a policy
MAX_ROWS_IN_MEMORY = {"tiny": 10**6, "small": 10**7, "reference": 4 * 10**7, "large": 4 * 10**7}


def default_max_rows(profile: str) -> int:
    return MAX_ROWS_IN_MEMORY.get(profile, 10**7)


@dataclass(frozen=True)
class RunContext:
    data_root: Path
    dictionary: Dictionary
    manifest: Manifest
    seed: int
    scenario_id: str | None = None
    workers: int = field(default_factory=default_workers)
    # rows a layer-3 state sorts in memory before its radix buckets spill (layer3 L3.5)
    max_rows_in_memory: int = 10**7
    # progress(state, done, total) — CLI draws a bar, Dagster logs; never affects data
    progress: Callable[[str, int, int], None] | None = None
    # the running state's resolved declaration (``statespec.StateSpec``): reads outside it
    # are READ_SCOPE_VIOLATION; None for checks run on their own (e.g. Dagster check ops)
    state: object | None = None
    seen: set = field(default_factory=set)  # the declared inputs this state actually opened

    @property
    def mf(self) -> str:
        return self.manifest.mf

    @property
    def ph(self) -> str:
        return self.manifest.ph

    def keys(self) -> PartitionKeys:
        return self.manifest.keys(self.seed, self.scenario_id)


class DeclaredPolicies(Mapping):
    """``manifest.policies`` as a state sees it: only its declared policies."""

    def __init__(self, policies: Mapping, ctx: RunContext) -> None:
        self._policies, self._ctx = policies, ctx

    def __getitem__(self, name: str):
        guard(self._ctx, name, "ROW_LEVEL")
        return self._policies[name]

    def __contains__(self, name) -> bool:  # asking whether a policy exists reads nothing
        return name in self._policies

    def __iter__(self):
        return iter(self._policies)

    def __len__(self) -> int:
        return len(self._policies)


def bind_state(ctx: RunContext, spec) -> RunContext:
    """``ctx`` for running ``spec``: its reads are guarded against the declaration."""
    bound = replace(ctx, state=spec, seen=set())
    policies = DeclaredPolicies(ctx.manifest.policies, bound)
    object.__setattr__(bound, "manifest", replace(ctx.manifest, policies=policies))
    return bound


def all_policies(ctx: RunContext) -> Mapping:
    """Every policy of the manifest, undeclared ones included (for sealing, never reading)."""
    pol = ctx.manifest.policies
    return pol._policies if isinstance(pol, DeclaredPolicies) else pol


def guard(ctx: RunContext, name: str, scope: str) -> None:
    """Refuse a read the running state did not declare (or declared metadata-only when rows
    are read); record the ones it makes. Own outputs are always readable."""
    spec = ctx.state
    if spec is None or name in spec.outputs:
        return
    from engine_core.errors import EngineError

    declared = spec.scope_of(name)
    if declared is None:
        raise EngineError(
            "READ_SCOPE_VIOLATION",
            spec.state_id,
            f"{name} is not a declared read of {spec.state_id} (declare it in "
            f"engine_core/segments/seg_{spec.segment}/__init__.py)",
        )
    if scope == "ROW_LEVEL" and declared != "ROW_LEVEL":
        raise EngineError(
            "READ_SCOPE_VIOLATION",
            spec.state_id,
            f"{name} is declared {declared} by {spec.state_id}; its rows are not readable",
        )
    ctx.seen.add(name)


@dataclass
class StateResult:
    """A state's published outputs plus metadata for Dagster/CLI (timings stay out of data)."""

    state: str
    outputs: list[PublishResult] = field(default_factory=list)
    rows: int = 0
    metadata: dict = field(default_factory=dict)
