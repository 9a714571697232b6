"""How a segment declares its states — once, in its own package (``seg_XX/__init__.py``).

A declaration names the state's function and what it reads (datasets, policies, reference
data, each with its read scope). Everything else is derived from it: the registry and the
CLI's order, each state's outputs (the dictionary's ``owner``), the dictionary's consumers,
the S0 seal lists with their ``read_by``, the inputs each state may open (``state_io``), the
Dagster assets and their deps. Nothing here imports a segment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine_core.gates import METADATA_ONLY, ROW_LEVEL


@dataclass(frozen=True)
class Read:
    """A declared input: a dataset id or a policy logical name. ``METADATA_ONLY`` inputs
    may be located, digested or opened as small documents, never read row by row."""

    name: str
    scope: str = ROW_LEVEL


def meta(name: str) -> Read:
    return Read(name, METADATA_ONLY)


@dataclass(frozen=True)
class Refdata:
    """Packaged reference data an S0 seals by digest (not a dictionary dataset).

    ``kind``: ``file`` (one file of ``package``), ``package`` (the artefact listing of a
    BASE_ARTEFACTS entry), ``zones`` (one tzdata zone file per zone.tab tzid), ``finder``
    (the timezonefinder polygon tree)."""

    package: str
    rel: str = ""
    role: str = "refdata"
    kind: str = "file"

    @property
    def name(self) -> str:
        return f"{self.package}:{self.rel}" if self.rel else self.package

    @property
    def scope(self) -> str:
        return ROW_LEVEL  # reference data is read whole


Input = str | Read | Refdata


def as_read(x: Input) -> Read | Refdata:
    return Read(x) if isinstance(x, str) else x


@dataclass(frozen=True)
class State:
    """One state as its segment declares it. ``run(ctx) -> StateResult``."""

    name: str  # "S0", "S1", …
    run: Callable
    reads: tuple[Input, ...] = ()
    scenario_scoped: bool = False
    validation: bool = False  # the segment's last state: also reads every own dataset

    def inputs(self) -> tuple[Read | Refdata, ...]:
        return tuple(as_read(r) for r in self.reads)


@dataclass(frozen=True)
class Segment:
    """A segment: its id, the segments whose HashGates its S0 verifies, its states in
    dependency order, and hooks for the Dagster layer (kept data-free)."""

    id: str
    upstream: tuple[str, ...]
    states: tuple[State, ...]
    # Dagster: evaluate the segment's checks in one op (one memoised full pass) instead of
    # one op per check; follow fresh upstream bundles (declarative automation)
    checks_in_one_pass: bool = False
    eager: bool = False
    # "blocking_checks_passed": the S0 assets follow fresh upstream bundles only once every
    # blocking check of those deps passed (layer3 §5: 6B.S0 on the 6A bundle)
    gate_condition: str = ""
    # layer 3 (layer3 §5): integrity checks are check specs of the producing state's
    # multi-asset; realism gates are read from the validation state's published report
    report_gates: bool = False


@dataclass(frozen=True)
class StateSpec:
    """A declared state resolved against the dictionary (what the runner and Dagster use)."""

    segment: str  # "ENGINE", "1A", …
    state: str  # "manifest", "S0", …
    func: Callable
    outputs: tuple[str, ...] = ()  # dataset ids it publishes (dictionary owner), one asset each
    reads: tuple[str, ...] = ()  # dataset ids of earlier states it reads (asset deps)
    scenario_scoped: bool = False
    inputs: tuple[Read | Refdata, ...] = ()  # every declared input, policies included
    validation: bool = False
    seals: tuple = ()  # S0 only: the segment's seal plan (``registry.SealPlan`` rows)

    @property
    def state_id(self) -> str:
        return f"{self.segment}.{self.state}"

    def scope_of(self, name: str) -> str | None:
        """The declared scope of ``name`` (None: not declared)."""
        for r in self.inputs:
            if r.name == name:
                return r.scope
        return ROW_LEVEL if name in self.reads else None
