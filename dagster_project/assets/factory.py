"""Assets from the engine's state registry: one multi-asset per state, one asset per output
dataset (key ``layer/segment/dataset``), deps = the datasets the state reads."""

from __future__ import annotations

import hashlib
import time

import dagster as dg

from dagster_project.partitions import parse_partition, world_seed_partitions
from dagster_project.resources import EngineResource
from engine_core.errors import EngineError
from engine_core.registry import registry
from engine_core.reuse import published_outputs
from engine_core.runner import execute
from engine_core.statespec import StateSpec

# run tag that makes scenario-free states recompute (the nightly determinism regression)
RECOMPUTE_TAG = "fwe/recompute"


def asset_key(dataset_id: str, dictionary=None) -> dg.AssetKey:
    """``layer/segment/dataset`` (the dictionary path's first part and owner segment)."""
    if dataset_id == "manifest_record":
        return dg.AssetKey(["engine", "manifest_record"])
    spec = (dictionary or registry().dictionary).dataset(dataset_id)
    return dg.AssetKey([spec.path.split("/")[0], spec.segment, dataset_id])


def _data_version(files) -> dg.DataVersion:
    h = hashlib.sha256()
    for rel, sha in files:
        h.update(f"{rel} {sha}\n".encode())
    return dg.DataVersion(h.hexdigest())


def run_state(context, engine: EngineResource, spec: StateSpec):
    """Run one engine state for the partition; EngineError → a one-line Dagster Failure."""
    seed, world = parse_partition(context.partition_key)
    try:
        ctx = engine.run_context(seed, world, scenario_scoped=spec.scenario_scoped, log=context.log)
        t0 = time.perf_counter()
        force = context.run.tags.get(RECOMPUTE_TAG) == "true"
        res = None if force else published_outputs(spec, ctx)
        if res is None:
            res = execute(ctx, spec)
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


def state_asset(
    spec: StateSpec, extra_deps=(), *, eager: bool = False, dictionary=None
) -> dg.AssetsDefinition:
    """One multi-asset for a state: an asset per output dataset, deps = the datasets it
    reads (its declaration), description = the dictionary's or the state module's."""
    d = dictionary or registry().dictionary
    deps = [asset_key(r, d) for r in spec.reads] + list(extra_deps)
    specs = [
        dg.AssetSpec(
            key=asset_key(ds, d),
            deps=deps,
            group_name="engine" if spec.segment == "ENGINE" else f"seg_{spec.segment}",
            description=d.dataset(ds).description or f"{ds} — published by {spec.state_id}",
            kinds={"parquet"} if d.dataset(ds).format == "parquet" else {"json"},
            # layer2 §6.3: a segment marked eager follows fresh upstream bundles (the default
            # automation sensor is off until switched on in the UI)
            automation_condition=dg.AutomationCondition.eager() if eager else None,
        )
        for ds in spec.outputs
    ]
    doc = (__import__(spec.func.__module__, fromlist=["_"]).__doc__ or spec.state_id).strip()

    @dg.multi_asset(
        specs=specs,
        name=spec.state_id.replace(".", "_").lower(),
        partitions_def=world_seed_partitions,
        description=doc.splitlines()[0],
    )
    def _state(context, engine: EngineResource):
        yield from run_state(context, engine, spec)

    return _state
