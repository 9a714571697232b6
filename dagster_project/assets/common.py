"""Shared asset plumbing: partition → RunContext, state call, materialisation metadata.
Business logic stays in engine_core; this only adapts it to Dagster."""

from __future__ import annotations

import time

import dagster as dg

from dagster_project.partitions import parse_partition
from dagster_project.resources import EngineResource
from engine_core.errors import EngineError


def run_state_asset(context, engine: EngineResource, func, *, scenario_scoped: bool):
    seed, world = parse_partition(context.partition_key)
    try:
        ctx = engine.run_context(seed, world, scenario_scoped=scenario_scoped, log=context.log)
        t0 = time.perf_counter()
        res = func(ctx)
        seconds = time.perf_counter() - t0
    except EngineError as e:
        # the one-line engine message is the failure the user sees
        raise dg.Failure(description=e.message, metadata={"code": e.full_code}) from None
    meta = {
        "rows": dg.MetadataValue.int(res.rows),
        "seconds": dg.MetadataValue.float(round(seconds, 3)),
        "status": dg.MetadataValue.text(",".join(o.status for o in res.outputs)),
        "manifest_fingerprint": dg.MetadataValue.text(ctx.mf),
        "parameter_hash": dg.MetadataValue.text(ctx.ph),
    }
    for out in res.outputs:
        meta[f"path:{out.dataset_id}"] = dg.MetadataValue.path(str(out.path))
        for rel, sha in out.files[:20]:
            meta[f"sha256:{rel.rsplit('/', 1)[-1]}"] = dg.MetadataValue.text(sha)
    for k, v in res.metadata.items():
        meta[k] = v
    return dg.MaterializeResult(metadata=meta, data_version=dg.DataVersion(_version(res)))


def _version(res) -> str:
    import hashlib

    h = hashlib.sha256()
    for out in res.outputs:
        for rel, sha in out.files:
            h.update(f"{rel} {sha}\n".encode())
    return h.hexdigest()
