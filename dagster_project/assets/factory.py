"""Assets from the engine's state registry: one multi-asset per state, one asset per output
dataset (key ``layer/segment/dataset``), deps = the datasets the state reads."""

from __future__ import annotations

import hashlib
import time

import dagster as dg

from dagster_project.checks.results import check_result, check_spec
from dagster_project.keys import asset_key
from dagster_project.partitions import parse_partition, world_seed_partitions
from dagster_project.resources import EngineResource
from engine_core.errors import EngineError
from engine_core.io.publish import partition_files
from engine_core.registry import registry
from engine_core.reuse import published_outputs
from engine_core.runner import execute
from engine_core.segments.common import dataset_path
from engine_core.statespec import StateSpec

# run tag that makes scenario-free states recompute (the nightly determinism regression)
RECOMPUTE_TAG = "fwe/recompute"


def _data_version(files) -> dg.DataVersion:
    h = hashlib.sha256()
    for rel, sha in files:
        h.update(f"{rel} {sha}\n".encode())
    return dg.DataVersion(h.hexdigest())


def run_state(context, engine: EngineResource, spec: StateSpec, checks=(), report_gates=False):
    """Run one engine state for the partition; EngineError → a one-line Dagster Failure.
    ``checks``: the integrity checks of the state's outputs, evaluated on the published
    files (every row) and yielded as the multi-asset's blocking check results.
    ``report_gates``: a validation state whose gates fail still materialises its bundle
    (published without ``_passed.flag``); the gates, read from its report, then fail."""
    seed, world = parse_partition(context.partition_key)
    try:
        ctx = engine.run_context(seed, world, scenario_scoped=spec.scenario_scoped, log=context.log)
        t0 = time.perf_counter()
        force = context.run.tags.get(RECOMPUTE_TAG) == "true"
        try:
            res = None if force else published_outputs(spec, ctx)
            if res is None:
                res = execute(ctx, spec)
        except EngineError as e:
            if not (report_gates and spec.validation and e.code == "VALIDATION_FAILED"):
                raise
            yield from _withheld(spec, ctx, e, checks)
            return
        seconds = time.perf_counter() - t0
    except EngineError as e:
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
            asset_key=asset_key(ds, ctx.dictionary),
            metadata=meta,
            data_version=_data_version(out.files),
        )
    for c in checks:
        yield check_result(c, c.evaluate(ctx), with_key=True, dictionary=ctx.dictionary)


def _withheld(spec: StateSpec, ctx, err: EngineError, checks):
    """A failed validation: its outputs are published, the bundle with its report but
    without ``_passed.flag`` (consumers' S0 HashGates refuse it); the gates fail in the
    segment's realism checks, which read that report."""
    for ds in spec.outputs:
        path = dataset_path(ctx, ds)
        if not path.exists():
            raise err
        bundle = ds.startswith("validation_bundle_")
        meta = {
            "publish": dg.MetadataValue.text(
                "published without _passed.flag" if bundle else "published"
            ),
            "path": dg.MetadataValue.path(str(path)),
            "code": dg.MetadataValue.text(err.full_code),
            "detail": dg.MetadataValue.text(err.message),
            "manifest_fingerprint": dg.MetadataValue.text(ctx.mf),
        }
        files = partition_files(ctx.data_root, path)
        key = asset_key(ds, ctx.dictionary)
        yield dg.MaterializeResult(asset_key=key, metadata=meta, data_version=_data_version(files))
    for c in checks:
        yield check_result(c, c.evaluate(ctx), with_key=True, dictionary=ctx.dictionary)


def group_of(spec: StateSpec, d) -> str:
    """``engine``; ``layer3_6A`` for layer-3 segments (layer3 §5); ``seg_1A`` before."""
    if spec.segment == "ENGINE":
        return "engine"
    layer = d.dataset(spec.outputs[0]).path.split("/")[0] if spec.outputs else ""
    return f"{layer}_{spec.segment}" if layer == "layer3" else f"seg_{spec.segment}"


def automation_condition(eager: bool, gate_condition: str = ""):
    """``eager`` (layer2 §6.3); a gate with ``blocking_checks_passed`` also waits until
    every blocking check of its deps passed (layer3 §5, 6B.S0)."""
    if gate_condition == "blocking_checks_passed":
        return (
            dg.AutomationCondition.eager()
            & dg.AutomationCondition.all_deps_blocking_checks_passed()
        )
    if gate_condition:
        raise ValueError(f"gate_condition {gate_condition!r} unknown")
    return dg.AutomationCondition.eager() if eager else None


def state_asset(
    spec: StateSpec,
    extra_deps=(),
    *,
    eager: bool = False,
    gate_condition: str = "",
    dictionary=None,
    checks=(),
    report_gates: bool = False,
) -> dg.AssetsDefinition:
    """One multi-asset for a state: an asset per output dataset, deps = the datasets it
    reads (its declaration), description = the dictionary's or the state module's;
    ``checks`` become its blocking check specs (evaluated after every materialisation)."""
    d = dictionary or registry().dictionary
    deps = [asset_key(r, d) for r in spec.reads] + list(extra_deps)
    group = group_of(spec, d)
    specs = [
        dg.AssetSpec(
            key=asset_key(ds, d),
            deps=deps,
            group_name=group,
            description=d.dataset(ds).description or f"{ds} — published by {spec.state_id}",
            kinds={"parquet"} if d.dataset(ds).format == "parquet" else {"json"},
            # layer2 §6.3: a segment marked eager follows fresh upstream bundles (the default
            # automation sensor is off until switched on in the UI)
            automation_condition=automation_condition(eager, gate_condition),
        )
        for ds in spec.outputs
    ]
    doc = (__import__(spec.func.__module__, fromlist=["_"]).__doc__ or spec.state_id).strip()

    @dg.multi_asset(
        specs=specs,
        check_specs=[check_spec(c, True, d) for c in checks] or None,
        name=spec.state_id.replace(".", "_").lower(),
        partitions_def=world_seed_partitions,
        description=doc.splitlines()[0],
    )
    def _state(context, engine: EngineResource):
        yield from run_state(context, engine, spec, checks, report_gates)

    return _state
