"""Asset keys of datasets: ``layer/segment/dataset`` (the dictionary path's first part and
owner segment); the manifest record is ``engine/manifest_record``."""

from __future__ import annotations

import dagster as dg

from engine_core.registry import registry


def asset_key(dataset_id: str, dictionary=None) -> dg.AssetKey:
    if dataset_id == "manifest_record":
        return dg.AssetKey(["engine", "manifest_record"])
    spec = (dictionary or registry().dictionary).dataset(dataset_id)
    return dg.AssetKey([spec.path.split("/")[0], spec.segment, dataset_id])
