"""Assets from the engine's state registry: one multi-asset per state, one asset per output
dataset (key ``layer/segment/dataset``), deps = the datasets the state reads."""

from __future__ import annotations

import hashlib
import time

import dagster as dg

from dagster_project.partitions import parse_partition, world_seed_partitions
from dagster_project.resources import EngineResource
from engine_core.contracts import load_dictionary
from engine_core.errors import EngineError
from engine_core.registry import STATES, StateSpec, published_outputs

# run tag that makes scenario-free states recompute (the nightly determinism regression)
RECOMPUTE_TAG = "fwe/recompute"


def asset_key(dataset_id: str) -> dg.AssetKey:
    if dataset_id == "manifest_record":
        return dg.AssetKey(["engine", "manifest_record"])
    spec = load_dictionary().dataset(dataset_id)
    return dg.AssetKey([spec.path.split("/")[0], spec.segment, dataset_id])


def _data_version(files) -> dg.DataVersion:
    h = hashlib.sha256()
    for rel, sha in files:
        h.update(f"{rel} {sha}\n".encode())
    return dg.DataVersion(h.hexdigest())


def check_results(checks, rows) -> list[dg.AssetCheckResult]:
    """Asset-check results from a validation state's report rows (computed once, in the
    state's own full pass — layer2 §5.1)."""
    from dagster_project.checks.factory import check_result

    by_id = {c.check_id: c for c in checks}
    return [check_result(by_id[r["check_id"]], r, with_key=True) for r in rows]


def run_state(context, engine: EngineResource, spec: StateSpec, checks=()):
    """Run one engine state for the partition; EngineError → a one-line Dagster Failure.
    With ``checks`` (inline asset checks), their results come from the state's report rows."""
    seed, world = parse_partition(context.partition_key)
    try:
        ctx = engine.run_context(seed, world, scenario_scoped=spec.scenario_scoped, log=context.log)
        t0 = time.perf_counter()
        force = context.run.tags.get(RECOMPUTE_TAG) == "true"
        res = None if force else published_outputs(spec, ctx)
        if res is None:
            res = spec.func(ctx)
        seconds = time.perf_counter() - t0
    except EngineError as e:
        if checks and getattr(e, "check_rows", None):
            yield from check_results(checks, e.check_rows)
        raise dg.Failure(description=e.message, metadata={"code": e.full_code}) from None
    by_id = {o.dataset_id: o for o in res.outputs}
    for ds in spec.outputs:
        out = by_id[ds]
        meta = {
            "rows": dg.MetadataValue.int(out.rows),
            "state_seconds": dg.MetadataValue.float(round(seconds, 3)),
            "publish": dg.MetadataValue.text(out.status),
            "path": dg.MetadataValue.path(str(out.path)),
            "files": dg.MetadataValue.int(len(out.files)),
            "manifest_fingerprint": dg.MetadataValue.text(ctx.mf),
        }
        meta["bytes"] = dg.MetadataValue.int(
            sum((ctx.data_root / rel).stat().st_size for rel, _ in out.files)
        )
        if seconds > 0 and out.rows:
            meta["rows_per_s"] = dg.MetadataValue.float(round(out.rows / seconds, 1))
        if ds == spec.outputs[0]:
            for k, v in res.metadata.items():
                if k == "check_rows":
                    continue
                meta[k] = dg.MetadataValue.md(v) if k.endswith("_md") else v
        yield dg.MaterializeResult(
            asset_key=asset_key(ds), metadata=meta, data_version=_data_version(out.files)
        )
    if checks:
        rows = res.metadata.get("check_rows")
        if rows is None:  # reused bundle: its published report holds the rows
            rows = _report_rows(by_id[spec.outputs[0]].path, spec.segment)
        yield from check_results(checks, rows)


def _report_rows(bundle, segment: str) -> list[dict]:
    import json

    return json.loads((bundle / f"validation_report_{segment}.json").read_bytes())["checks"]


def check_specs(checks) -> list[dg.AssetCheckSpec]:
    from engine_core.checks import INTEGRITY

    return [
        dg.AssetCheckSpec(
            name=c.check_id.replace(".", "_"),
            asset=asset_key(c.dataset),
            blocking=c.kind == INTEGRITY,
            description=c.description or f"{c.kind} check {c.check_id}",
        )
        for c in checks
    ]


def state_asset(spec: StateSpec, extra_deps=(), checks=()) -> dg.AssetsDefinition:
    deps = [asset_key(r) for r in spec.reads] + list(extra_deps)
    specs = [
        dg.AssetSpec(
            key=asset_key(ds),
            deps=deps,
            group_name="engine" if spec.segment == "ENGINE" else f"seg_{spec.segment}",
            description=load_dictionary().dataset(ds).__dict__.get("description")
            or f"{ds} — published by {spec.state_id}",
            kinds={"parquet"} if load_dictionary().dataset(ds).format == "parquet" else {"json"},
            # layer2 §6.3: a 5B world partition follows fresh 5A/layer-1 bundles (the default
            # automation sensor is off until switched on in the UI)
            automation_condition=dg.AutomationCondition.eager() if spec.segment == "5B" else None,
        )
        for ds in spec.outputs
    ]

    @dg.multi_asset(
        specs=specs,
        check_specs=check_specs(checks) or None,
        name=spec.state_id.replace(".", "_").lower(),
        partitions_def=world_seed_partitions,
        description=(
            spec.func.__module__
            and __import__(spec.func.__module__, fromlist=["_"]).__doc__
            or spec.state_id
        )
        .strip()
        .splitlines()[0],
    )
    def _state(context, engine: EngineResource):
        yield from run_state(context, engine, spec, checks)

    return _state


def segment_assets(segment: str, extra_deps=(), inline_checks=None) -> list[dg.AssetsDefinition]:
    """One multi-asset per state; ``inline_checks`` (state id → checks) are evaluated inside
    that state's own run instead of as separate check ops."""
    inline = inline_checks or {}
    return [
        state_asset(s, extra_deps, inline.get(s.state_id, ()))
        for s in STATES
        if s.segment == segment
    ]
