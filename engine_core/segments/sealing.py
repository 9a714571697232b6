"""S0 gates: HashGate the upstream bundles, seal every input the segment's states declare,
publish ``sealed_inputs_<SEG>`` and ``s0_gate_receipt_<SEG>``. The seal list is the
registry's seal plan (every declared input not produced in the segment, with ``read_by`` and
scope); S0 modules only add their own coverage checks."""

from __future__ import annotations

from importlib import resources
from importlib.metadata import version
from pathlib import Path

from engine_core.context import RunContext, StateResult, all_policies
from engine_core.errors import EngineError
from engine_core.gates import SealedInput, SealedInputs, gate_receipt, verify_bundle
from engine_core.identity import canonical_json, file_sha256, listing_digest, sha256_hex
from engine_core.io.datasets import write_json_dataset
from engine_core.refdata import BASE_ARTEFACTS, artefact_digest, package_dir
from engine_core.refdata.world import zone_tab
from engine_core.segments.common import dataset_path, keys_for, locate
from engine_core.statespec import Refdata


# --- sealed inputs -------------------------------------------------------------------------------
def seal_policy(ctx: RunContext, name: str, read_by: tuple[str, ...]) -> SealedInput:
    """A policy is sealed by the digest of its effective (profile-overridden) content."""
    spec = ctx.dictionary.policy(name)
    doc = all_policies(ctx)[name]  # sealing is not reading: S0 seals what its states read
    return SealedInput(
        name, "policy", spec.path, sha256_hex(canonical_json(doc)), role="policy", read_by=read_by
    )


def refdata_path(package: str, rel: str) -> Path:
    return Path(str(resources.files(package))) / rel


def seal_refdata(
    package: str, rel: str, read_by: tuple[str, ...], role: str = "refdata"
) -> SealedInput:
    p = refdata_path(package, rel)
    if not p.is_file():
        raise EngineError("SEALED_INPUT_MISSING", detail=f"{package}:{rel}: expected {p}")
    return SealedInput(
        f"{package}:{rel}",
        "refdata",
        f"{package}:{rel}",
        file_sha256(p),
        role=role,
        read_by=read_by,
    )


def seal_upstream(
    ctx: RunContext, dataset_id: str, bundle_digest: str, read_by, *, scope: str = "ROW_LEVEL"
) -> SealedInput:
    rel = locate(ctx, dataset_id).relative_to(ctx.data_root).as_posix()
    return SealedInput(
        dataset_id,
        "dataset",
        rel,
        bundle_digest,
        role="upstream",
        read_scope=scope,
        read_by=tuple(read_by),
    )


def verify_upstream(ctx: RunContext, segment: str, upstream: list[str]) -> dict[str, str]:
    """HashGate each upstream segment's bundle; returns ``{segment: bundle digest}``."""
    out = {}
    for seg in upstream:
        bundle = dataset_path(ctx, f"validation_bundle_{seg}")
        out[seg] = verify_bundle(
            bundle, ctx.data_root, state=f"{segment}.S0", code="UPSTREAM_GATE_FAILED"
        )
    return out


def hashgate_layer3(
    ctx: RunContext, segment: str, upstream: list[str], scenario: str | None = None
) -> dict[str, str]:
    """``verify_upstream`` with the layer-3 S0 codes (layer3 §3.1, §4.1):
    ``UPSTREAM_HASHGATE_MISSING`` (no flag, no index, an indexed file gone) or
    ``UPSTREAM_HASHGATE_DIGEST_MISMATCH``; ``scenario``: gate that scenario's bundles."""
    from dataclasses import replace

    c = replace(ctx, scenario_id=scenario) if scenario else ctx
    try:
        return verify_upstream(c, segment, upstream)
    except EngineError as e:
        code = (
            "UPSTREAM_HASHGATE_MISSING"
            if "missing" in e.message
            else "UPSTREAM_HASHGATE_DIGEST_MISMATCH"
        )
        where = f" (scenario {scenario})" if scenario else ""
        raise EngineError(code, f"{segment}.S0", f"{e.message}{where}") from None


def run_gate(
    ctx: RunContext,
    segment: str,
    upstream: dict[str, str],
    inputs: list[SealedInput],
    extra: dict | None = None,
) -> StateResult:
    """Publish ``sealed_inputs_<SEG>`` and ``s0_gate_receipt_<SEG>``."""
    state = f"{segment}.S0"
    sealed = SealedInputs(segment, inputs)
    receipt_id, sealed_id = f"s0_gate_receipt_{segment}", f"sealed_inputs_{segment}"
    seed = ctx.seed if "seed" in ctx.dictionary.dataset(sealed_id).partition_keys else None
    outs = [
        write_json_dataset(
            ctx.dictionary,
            sealed_id,
            ctx.data_root,
            keys_for(ctx, sealed_id),
            sealed.document(mf=ctx.mf, ph=ctx.ph, seed=seed),
            state=state,
        ),
        write_json_dataset(
            ctx.dictionary,
            receipt_id,
            ctx.data_root,
            keys_for(ctx, receipt_id),
            gate_receipt(
                segment,
                mf=ctx.mf,
                ph=ctx.ph,
                seed=seed,
                spec_version=ctx.dictionary.spec_version,
                upstream=sorted(upstream.items()),
                sealed=sealed,
                extra=extra,
            ),
            state=state,
        ),
    ]
    return StateResult(
        state,
        outs,
        rows=len(inputs),
        metadata={
            "sealed_inputs_digest": sealed.digest,
            "upstream": ", ".join(sorted(upstream)) or "none",
        },
    )


# --- reference data sealed by several gates ------------------------------------------
def seal_finder_data(read_by) -> SealedInput:
    """Every file under ``timezonefinder_data/data`` as one listing digest (1B.S0, 2A.S0)."""
    root = package_dir("timezonefinder_data") / "data"
    files = sorted(p for p in root.rglob("*") if p.is_file())
    digest = listing_digest((p.relative_to(root).as_posix(), file_sha256(p)) for p in files)
    return SealedInput(
        "timezonefinder-data:data",
        "refdata",
        "timezonefinder_data:data/",
        digest,
        role="tz polygons",
        read_by=tuple(read_by),
    )


def seal_package(name: str, read_by) -> SealedInput:
    """A base-artefact package (``holidays``, ``tzdata``) sealed by its version and content
    digest (5A.S0, 5B.S0)."""
    art = next(a for a in BASE_ARTEFACTS if a.name == name)
    version, digest, _ = artefact_digest(art)
    return SealedInput(
        f"{name}=={version}",
        "refdata",
        f"{art.package}:",
        digest,
        role="refdata",
        read_by=tuple(read_by),
    )


# --- the S0 seal plan ---------------------------------------------------------------------
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
