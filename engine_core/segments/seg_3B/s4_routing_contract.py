"""3B.S4 — ``edge_universe_hash_3B`` and the binding routing contract
``virtual_routing_policy_3B`` with ``routing_universe_hash`` (RNG-free)."""

from __future__ import annotations

import hashlib

from engine_core.context import RunContext, StateResult
from engine_core.identity import canonical_json, file_sha256, uer
from engine_core.io.publish import dataset_digest
from engine_core.segments.common import input_path, read_json
from engine_core.segments.state_io import open_state

STATE = "3B.S4"


def edge_universe(ctx: RunContext) -> dict:
    d = {
        "virtual_classification_digest": dataset_digest(
            input_path(ctx, "virtual_classification_3B", scope="METADATA_ONLY")
        ),
        "virtual_settlement_digest": dataset_digest(
            input_path(ctx, "virtual_settlement_3B", scope="METADATA_ONLY")
        ),
        "edge_catalogue_digest": dataset_digest(
            input_path(ctx, "edge_catalogue_3B", scope="METADATA_ONLY")
        ),
        "edge_alias_index_digest": dataset_digest(
            input_path(ctx, "edge_alias_index_3B", scope="METADATA_ONLY")
        ),
        "edge_alias_blob_sha256": file_sha256(
            input_path(ctx, "edge_alias_blob_3B", scope="METADATA_ONLY")
        ),
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
    za = read_json(ctx, "zone_alloc_universe_hash", scope="METADATA_ONLY")
    za_hash = za["zone_alloc_universe_hash"]
    blob_sha = file_sha256(input_path(ctx, "s2_alias_blob", scope="METADATA_ONLY"))
    idx_digest = dataset_digest(input_path(ctx, "s2_alias_index", scope="METADATA_ONLY"))
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


def _publish(io, dataset_id: str, doc: dict) -> None:
    spec = io.ctx.dictionary.dataset(dataset_id)
    io.ctx.dictionary.schemas.validate(
        doc, spec.schema_ref, file=dataset_id, code="SCHEMA_VIOLATION", state=STATE
    )
    io.write_blob(dataset_id, canonical_json(doc), rows=1)  # canonical JSON (A§3)


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    eu = edge_universe(ctx)
    pol = routing_policy(ctx, eu["edge_universe_hash"])
    _publish(io, "edge_universe_hash_3B", eu)
    _publish(io, "virtual_routing_policy_3B", pol)
    return io.result(rows=2, metadata={"routing_universe_hash": pol["routing_universe_hash"]})
