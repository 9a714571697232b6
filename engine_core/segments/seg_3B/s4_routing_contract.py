"""3B.S4 — ``edge_universe_hash_3B`` and the binding routing contract
``virtual_routing_policy_3B`` with ``routing_universe_hash`` (RNG-free)."""

from __future__ import annotations

import hashlib
import json

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.identity import canonical_json, file_sha256, uer
from engine_core.io.datasets import PublishResult
from engine_core.io.publish import publish_bytes
from engine_core.segments.common import dataset_path, load_sealed
from engine_core.segments.seg_3A.s3_universe_hash import dataset_digest

STATE = "3B.S4"


def edge_universe(ctx: RunContext) -> dict:
    d = {
        "virtual_classification_digest": dataset_digest(ctx, "virtual_classification_3B"),
        "virtual_settlement_digest": dataset_digest(ctx, "virtual_settlement_3B"),
        "edge_catalogue_digest": dataset_digest(ctx, "edge_catalogue_3B"),
        "edge_alias_index_digest": dataset_digest(ctx, "edge_alias_index_3B"),
        "edge_alias_blob_sha256": file_sha256(dataset_path(ctx, "edge_alias_blob_3B")),
    }
    h = hashlib.sha256(uer("fw.l1.edge_universe.v1"))
    for k in (
        "virtual_classification_digest",
        "virtual_settlement_digest",
        "edge_catalogue_digest",
        "edge_alias_index_digest",
        "edge_alias_blob_sha256",
    ):
        h.update(uer(d[k]))
    return {"version": 1, **d, "edge_universe_hash": h.hexdigest()}


def routing_policy(ctx: RunContext, edge_hash: str) -> dict:
    za = json.loads(dataset_path(ctx, "zone_alloc_universe_hash").read_bytes())
    za_hash = za["zone_alloc_universe_hash"]
    blob_sha = file_sha256(dataset_path(ctx, "s2_alias_blob"))
    idx_digest = dataset_digest(ctx, "s2_alias_index")
    routing = hashlib.sha256(
        uer("fw.l1.routing_universe.v1")
        + uer(za_hash)
        + uer(blob_sha)
        + uer(idx_digest)
        + uer(edge_hash)
    ).hexdigest()
    return {
        "policy_id": "virtual_routing_policy_3B",
        "version": 1,
        "alias_layout_version": 1,
        "zone_alloc_universe_hash": za_hash,
        "site_alias_blob_sha256": blob_sha,
        "site_alias_index_digest": idx_digest,
        "edge_universe_hash": edge_hash,
        "routing_universe_hash": routing,
        "modes": {
            "NON_VIRTUAL": "site",
            "VIRTUAL_ONLY": "edge",
            "HYBRID": "edge_if_u_lt_p_virtual",
        },
        "hybrid_probability_column": "virtual_classification_3B.p_virtual",
        "site_pick": {
            "index": "s2_alias_index",
            "key": ["merchant_id", "tzid"],
            "fallback": "none",
        },
        "edge_pick": {"index": "edge_alias_index_3B", "key": ["merchant_id"], "fallback": "none"},
        "virtual_tz": {
            "tzid_primary": "tzid_operational",
            "tzid_operational": "edge_catalogue_3B.tzid_operational",
            "tzid_settlement": "virtual_settlement_3B.tzid_settlement",
        },
        "physical_tz": {
            "tzid_primary": "site",
            "tzid_operational": "site",
            "tzid_settlement": "site",
        },
    }


def _publish(ctx, dataset_id: str, doc: dict) -> PublishResult:
    spec = ctx.dictionary.dataset(dataset_id)
    ctx.dictionary.schemas.validate(
        doc, spec.schema_ref, file=dataset_id, code="SCHEMA_VIOLATION", state=STATE
    )
    path = dataset_path(ctx, dataset_id)
    data = canonical_json(doc)  # the routing contract is canonical JSON (A§3)
    status = publish_bytes(data, path, ctx.data_root, state=STATE)
    return PublishResult(
        dataset_id,
        path,
        status,
        1,
        [(path.relative_to(ctx.data_root).as_posix(), hashlib.sha256(data).hexdigest())],
    )


def run(ctx: RunContext) -> StateResult:
    sealed = load_sealed(ctx, "3B", state=STATE)
    sealed.require("zone_alloc_universe_hash", state=STATE)
    for meta in ("s2_alias_blob", "s2_alias_index"):
        if sealed.require(meta, state=STATE, scope="METADATA_ONLY").kind != "dataset":
            raise EngineError("READ_SCOPE_VIOLATION", STATE, f"{meta} is not a sealed dataset")
    eu = edge_universe(ctx)
    pol = routing_policy(ctx, eu["edge_universe_hash"])
    outs = [
        _publish(ctx, "edge_universe_hash_3B", eu),
        _publish(ctx, "virtual_routing_policy_3B", pol),
    ]
    return StateResult(
        STATE, outs, rows=2, metadata={"routing_universe_hash": pol["routing_universe_hash"]}
    )
