"""3A.S3 — ``zone_alloc_universe_hash`` (RNG-free): binds zone_alloc, the priors and the 2B
gate that certified the site weights."""

from __future__ import annotations

import hashlib

import pyarrow.parquet as pq

from engine_core.context import RunContext, StateResult
from engine_core.identity import uer
from engine_core.io.datasets import write_json_dataset
from engine_core.io.publish import tree_listing
from engine_core.segments.common import dataset_path, keys_for, load_sealed

STATE = "3A.S3"
DATASET = "zone_alloc_universe_hash"


def dataset_digest(ctx: RunContext, dataset_id: str) -> str:
    """sha256 of the files' sha256 values concatenated in path order (the A§6 index law)."""
    h = hashlib.sha256()
    for _, sha in tree_listing(dataset_path(ctx, dataset_id)):
        h.update(sha.encode("ascii"))
    return h.hexdigest()


def universe_doc(ctx: RunContext, gate_digest: str) -> dict:
    za, pri = dataset_digest(ctx, "zone_alloc"), dataset_digest(ctx, "s1_country_zone_priors")
    t = pq.read_table(
        sorted(dataset_path(ctx, "zone_alloc").glob("*.parquet"))[0],
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

    sealed = load_sealed(ctx, "3A", state=STATE)
    gate = sealed.require("validation_bundle_2B", state=STATE, scope="METADATA_ONLY")
    flag = json.loads((dataset_path(ctx, "validation_bundle_2B") / "_passed.flag").read_bytes())
    digest = flag["bundle_digest_sha256"]
    if digest != gate.digest:
        from engine_core.errors import EngineError

        raise EngineError("SEALED_DIGEST_MISMATCH", STATE, "2B flag differs from its seal")
    doc = universe_doc(ctx, digest)
    res = write_json_dataset(
        ctx.dictionary, DATASET, ctx.data_root, keys_for(ctx, DATASET), doc, state=STATE
    )
    return StateResult(STATE, [res], rows=1, metadata={"hash": doc["zone_alloc_universe_hash"]})
