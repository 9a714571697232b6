"""S0 sealing derived from the declarations: the registry's seal plan (every input a
segment's states declare that the segment does not produce, with ``read_by`` and scope)
becomes ``sealed_inputs_<SEG>``; S0 modules only add their own coverage checks."""

from __future__ import annotations

from importlib.metadata import version

from engine_core.context import RunContext, StateResult, all_policies
from engine_core.errors import EngineError
from engine_core.gates import SealedInput
from engine_core.refdata import BASE_ARTEFACTS
from engine_core.refdata.world import zone_tab
from engine_core.segments.common import (
    run_gate,
    seal_finder_data,
    seal_package,
    seal_policy,
    seal_refdata,
    seal_upstream,
    verify_upstream,
)
from engine_core.statespec import Refdata


def _rel(r: Refdata, ctx: RunContext) -> str:
    """``rel`` with ``{policy.field}`` placeholders filled from the policies (e.g. the city
    source named by ``placement_1B``)."""
    if "{" not in r.rel:
        return r.rel
    import re

    pol = all_policies(ctx)
    return re.sub(r"\{(\w+)\.(\w+)\}", lambda m: str(pol[m.group(1)][m.group(2)]), r.rel)


def _zones() -> list[str]:
    return sorted({z for zones in zone_tab().values() for z in zones})


def sealed_names(r: Refdata, ctx: RunContext) -> list[str]:
    """The sealed-input names a reference-data declaration seals (cheap: no hashing)."""
    if r.kind == "file":
        return [f"{r.package}:{_rel(r, ctx)}"]
    if r.kind == "zones":
        return [f"tzdata:zoneinfo/{z}" for z in _zones()]
    if r.kind == "finder":
        return ["timezonefinder-data:data"]
    art = next(a for a in BASE_ARTEFACTS if a.name == r.package)
    return [f"{r.package}=={version(art.name)}"]


def seal_refdata_read(ctx: RunContext, r: Refdata, read_by) -> list[SealedInput]:
    if r.kind == "file":
        return [seal_refdata(r.package, _rel(r, ctx), read_by, role=r.role)]
    if r.kind == "zones":
        return [seal_refdata("tzdata", f"zoneinfo/{z}", read_by, role=r.role) for z in _zones()]
    if r.kind == "finder":
        return [seal_finder_data(read_by)]
    if r.kind == "package":
        return [seal_package(r.package, read_by)]
    raise EngineError("CONTRACT_INVALID", detail=f"refdata kind {r.kind!r} unknown")


def upstream_of(ctx: RunContext) -> list[str]:
    """The segments whose bundles the running S0 HashGates (its declared deps)."""
    pre = "validation_bundle_"
    return [r[len(pre) :] for r in ctx.state.reads if r.startswith(pre)]


def seal_segment(ctx: RunContext, upstream: dict[str, str]) -> list[SealedInput]:
    """Every input of the running S0's seal plan; datasets by their owner's bundle digest."""
    out: list[SealedInput] = []
    for plan in ctx.state.seals:
        r = plan.read
        if isinstance(r, Refdata):
            out += seal_refdata_read(ctx, r, plan.read_by)
        elif r.name in ctx.dictionary.policies:
            out.append(seal_policy(ctx, r.name, plan.read_by))
        else:
            owner = ctx.dictionary.dataset(r.name).segment
            if owner not in upstream:
                raise EngineError(
                    "CONTRACT_INVALID",
                    ctx.state.state_id,
                    f"{r.name} is owned by {owner}, not a verified upstream of {ctx.state.segment}",
                )
            out.append(seal_upstream(ctx, r.name, upstream[owner], plan.read_by, scope=plan.scope))
    return out


def gate(ctx: RunContext, *, checks=None, extra=None) -> StateResult:
    """The whole S0 of a segment: HashGate the upstream bundles, run ``checks(ctx)`` (the
    segment's coverage checks; returns metadata) before any RNG is spent, seal the plan."""
    seg = ctx.state.segment
    up = verify_upstream(ctx, seg, upstream_of(ctx))
    meta = checks(ctx) if checks else {}
    res = run_gate(ctx, seg, up, seal_segment(ctx, up), extra=extra(ctx, up) if extra else None)
    res.metadata.update(meta)
    return res


def gate_state(ctx: RunContext) -> StateResult:
    """A plain S0 (no coverage checks of its own): HashGate upstream, seal the plan."""
    from engine_core.segments.state_io import open_state

    open_state(ctx, ctx.state.state_id)
    return gate(ctx)
