"""3A.S3 — ``zone_alloc_universe_hash`` (RNG-free): binds zone_alloc, the priors and the 2B
gate that certified the site weights."""

from __future__ import annotations

import hashlib

import pyarrow.parquet as pq

from engine_core.context import RunContext, StateResult
from engine_core.identity import uer
from engine_core.io.publish import dataset_digest
from engine_core.segments.common import input_parts, input_path
from engine_core.segments.state_io import open_state

STATE = "3A.S3"
DATASET = "zone_alloc_universe_hash"


def universe_doc(ctx: RunContext, gate_digest: str) -> dict:
    za = dataset_digest(input_path(ctx, "zone_alloc", scope="METADATA_ONLY"))
    pri = dataset_digest(input_path(ctx, "s1_country_zone_priors", scope="METADATA_ONLY"))
    t = pq.read_table(
        input_parts(ctx, "zone_alloc")[0],
        columns=["merchant_id", "tzid"],
    )
    h = hashlib.sha256(uer("fw.l1.zone_universe.v1") + uer(za) + uer(pri) + uer(gate_digest))
    return {
        "version": 1,
        "zone_alloc_digest": za,
        "country_zone_priors_digest": pri,
        "site_weights_gate_digest": gate_digest,
        "n_rows": t.num_rows,
        "n_merchants": len(t.column("merchant_id").unique()),
        "n_tzids": len(t.column("tzid").unique()),
        "zone_alloc_universe_hash": h.hexdigest(),
    }


def run(ctx: RunContext) -> StateResult:
    import json

    io = open_state(ctx, STATE)
    gate = io.sealed.require("validation_bundle_2B", state=STATE, scope="METADATA_ONLY")
    flag = json.loads((io.path("validation_bundle_2B", meta=True) / "_passed.flag").read_bytes())
    digest = flag["bundle_digest_sha256"]
    if digest != gate.digest:
        from engine_core.errors import EngineError

        raise EngineError("SEALED_DIGEST_MISMATCH", STATE, "2B flag differs from its seal")
    doc = universe_doc(ctx, digest)
    io.write_json(DATASET, doc)
    return io.result(rows=1, metadata={"hash": doc["zone_alloc_universe_hash"]})
