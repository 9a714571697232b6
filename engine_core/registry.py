"""The ordered registry of runnable states, derived from the segments' own declarations.

Segments are discovered as the ``engine_core.segments.seg_*`` packages (sorted: 1A < 1B < …
< 5B is dependency order); each exports ``SEGMENT`` (``statespec.Segment``). From it and the
dictionary this module derives each state's outputs (dictionary ``owner``), its asset deps,
every dataset's consumers and each S0's seal plan. The CLI and the Dagster assets run the
same functions."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, replace
from functools import cached_property

from engine_core.contracts import Dictionary
from engine_core.errors import EngineError
from engine_core.statespec import Read, Refdata, Segment, StateSpec

ENGINE = "ENGINE"


def discover_segments(package: str = "engine_core.segments") -> list[Segment]:
    """Every ``seg_*`` package below ``package``, in name order."""
    pkg = importlib.import_module(package)
    names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name.startswith("seg_"))
    return [importlib.import_module(f"{package}.{n}").SEGMENT for n in names]


def _manifest_state(ctx):
    from engine_core.manifest import manifest_state

    return manifest_state(ctx)


@dataclass(frozen=True)
class SealPlan:
    """One input an S0 seals: what, by which states, in which scope."""

    read: Read | Refdata
    read_by: tuple[str, ...]
    scope: str


class Registry:
    """States of ``segments`` resolved against ``dictionary``."""

    def __init__(self, dictionary: Dictionary, segments: list[Segment]) -> None:
        self.dictionary = dictionary
        self.segments = {s.id: s for s in segments}
        specs = [
            StateSpec(ENGINE, "manifest", _manifest_state, self._outputs(ENGINE, "manifest"), ())
        ]
        seen: set[str] = set()
        for seg in segments:
            missing = [u for u in seg.upstream if u not in seen]
            if missing:
                raise EngineError(
                    "CONTRACT_INVALID",
                    detail=f"segment {seg.id}: upstream {missing} not registered before it",
                )
            resolved = self._resolve(seg)
            plan = tuple(self._plan(seg, resolved))
            specs += [replace(s, seals=plan) if s.state == "S0" else s for s in resolved]
            seen.add(seg.id)
        self.states: tuple[StateSpec, ...] = tuple(specs)

    # --- derivation ----------------------------------------------------------------------
    def _outputs(self, segment: str, state: str) -> tuple[str, ...]:
        return tuple(
            d.id
            for d in self.dictionary.datasets.values()
            if d.segment == segment and d.state == state
        )

    def _check_input(self, seg: Segment, state: str, r) -> None:
        if isinstance(r, Refdata):
            return
        if r.name not in self.dictionary.datasets and r.name not in self.dictionary.policies:
            raise EngineError(
                "CONTRACT_INVALID",
                f"{seg.id}.{state}",
                f"declared read {r.name!r} is neither a dictionary dataset nor a policy",
            )

    def _resolve(self, seg: Segment) -> list[StateSpec]:
        d = self.dictionary
        gate = self._outputs(seg.id, "S0")
        own_before: list[str] = []
        out = []
        for st in seg.states:
            inputs = st.inputs()
            for r in inputs:
                self._check_input(seg, st.name, r)
            declared = tuple(r.name for r in inputs if isinstance(r, Read) and r.name in d.datasets)
            later = [x for x in declared if d.dataset(x).segment == seg.id and x not in own_before]
            if later:  # a state reads what earlier states of its segment published
                raise EngineError(
                    "CONTRACT_INVALID",
                    f"{seg.id}.{st.name}",
                    f"declared read {later[0]} is published by a later state of {seg.id}",
                )
            if st.name == "S0":
                base = tuple(f"validation_bundle_{u}" for u in seg.upstream) or ("manifest_record",)
            elif st.validation:
                base = tuple(own_before)
            else:
                base = gate
            reads = tuple(dict.fromkeys((*base, *declared)))
            outputs = self._outputs(seg.id, st.name)
            if not outputs:
                raise EngineError(
                    "CONTRACT_INVALID", f"{seg.id}.{st.name}", "no dictionary dataset owned"
                )
            if st.validation:
                inputs = (*inputs, *(Read(x) for x in own_before if x not in declared))
            out.append(
                StateSpec(
                    seg.id,
                    st.name,
                    st.run,
                    outputs,
                    reads,
                    st.scenario_scoped,
                    tuple(inputs),
                    st.validation,
                )
            )
            own_before += outputs
        return out

    def seal_plan(self, segment: str) -> list[SealPlan]:
        """What ``segment``'s S0 seals: every input any of its states declares that is not
        produced inside the segment, with the states that read it (``read_by``) and the
        widest declared scope; plus each upstream bundle (HashGated by S0, metadata only)."""
        return self._plan(self.segments[segment], self.segment_states(segment))

    def _plan(self, seg: Segment, states: list[StateSpec]) -> list[SealPlan]:
        own = {d.id for d in self.dictionary.datasets.values() if d.segment == seg.id}
        by: dict[str, list] = {}
        for spec in states:
            for r in spec.inputs:
                if r.name in own:
                    continue
                item = by.setdefault(r.name, [r, [], set()])
                item[1].append(spec.state)
                item[2].add(r.scope)
        for u in seg.upstream:
            item = by.setdefault(
                f"validation_bundle_{u}", [Read(f"validation_bundle_{u}"), [], set()]
            )
            if "S0" not in item[1]:
                item[1].insert(0, "S0")
            item[2].add("METADATA_ONLY")
        return [
            SealPlan(
                r,
                tuple(dict.fromkeys(who)),
                "ROW_LEVEL" if "ROW_LEVEL" in scopes else "METADATA_ONLY",
            )
            for _, (r, who, scopes) in sorted(by.items())
        ]

    @cached_property
    def _consumers(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {}
        for spec in self.states:
            for r in spec.inputs:
                out.setdefault(r.name, []).append(spec.state_id)
            for r in spec.reads:
                if spec.state_id not in out.setdefault(r, []):
                    out[r].append(spec.state_id)
        return {k: tuple(v) for k, v in out.items()}

    def consumers(self, name: str) -> tuple[str, ...]:
        """The states that read dataset or policy ``name`` (derived, never hand-written)."""
        return self._consumers.get(name, ())

    # --- lookup --------------------------------------------------------------------------
    def state(self, state_id: str) -> StateSpec:
        for s in self.states:
            if s.state_id == state_id:
                return s
        raise EngineError("USAGE", detail=f"{state_id}: not a registered state")

    def segment_states(self, segment: str) -> list[StateSpec]:
        return [s for s in self.states if s.segment == segment]

    def select_until(self, until: str | None) -> list[StateSpec]:
        """States in dependency order up to and including ``SEG`` (all its states) or
        ``SEG.STATE``."""
        if until is None:
            return list(self.states)
        ids = [s.state_id for s in self.states]
        segs = [s.segment for s in self.states]
        if until in ids:
            return list(self.states[: ids.index(until) + 1])
        if until in segs:
            last = max(i for i, s in enumerate(segs) if s == until)
            return list(self.states[: last + 1])
        known = ", ".join(dict.fromkeys(segs)) + "; states: " + ", ".join(ids)
        raise EngineError(
            "USAGE", detail=f"--until {until}: not a registered segment/state ({known})"
        )

    def checks(self, segment: str) -> list:
        """The check list of a segment (what its validation state and asset checks run)."""
        return importlib.import_module(f"engine_core.segments.seg_{segment}.checks").CHECKS

    def all_checks(self) -> list:
        return [c for seg in self.segments for c in self.checks(seg)]


_DEFAULT: dict[int, Registry] = {}


def registry(dictionary: Dictionary | None = None) -> Registry:
    """The registry of the discovered segments for ``dictionary`` (default: the packaged
    contracts), built once per dictionary object."""
    if dictionary is None:
        from engine_core.contracts import load_dictionary

        dictionary = load_dictionary()
    key = id(dictionary)
    if key not in _DEFAULT:
        _DEFAULT[key] = Registry(dictionary, discover_segments())
    return _DEFAULT[key]


def all_checks():
    return registry().all_checks()
