"""The ordered registry of runnable states. The CLI and the Dagster assets run the same
functions; segments register their states here as they land."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.manifest import publish_manifest


@dataclass(frozen=True)
class StateSpec:
    segment: str  # "ENGINE", "1A", …
    state: str  # "manifest", "S0", …
    func: Callable[[RunContext], StateResult]
    scenario_scoped: bool = False

    @property
    def state_id(self) -> str:
        return f"{self.segment}.{self.state}"


def manifest_state(ctx: RunContext) -> StateResult:
    """Publish the manifest record (idempotent: same policies → same bytes → reuse)."""
    res = publish_manifest(ctx.manifest, ctx.data_root, ctx.dictionary)
    return StateResult(
        "ENGINE.manifest",
        [res],
        rows=1,
        metadata={"manifest_fingerprint": ctx.mf, "parameter_hash": ctx.ph},
    )


STATES: tuple[StateSpec, ...] = (StateSpec("ENGINE", "manifest", manifest_state),)


def select_until(until: str | None) -> list[StateSpec]:
    """States in dependency order up to and including ``SEG`` (all its states) or
    ``SEG.STATE``."""
    if until is None:
        return list(STATES)
    ids = [s.state_id for s in STATES]
    segs = [s.segment for s in STATES]
    if until in ids:
        return list(STATES[: ids.index(until) + 1])
    if until in segs:
        last = max(i for i, s in enumerate(segs) if s == until)
        return list(STATES[: last + 1])
    known = ", ".join(dict.fromkeys(segs)) + "; states: " + ", ".join(ids)
    raise EngineError("USAGE", detail=f"--until {until}: not a registered segment/state ({known})")
