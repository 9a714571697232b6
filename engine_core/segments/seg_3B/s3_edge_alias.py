"""3B.S3 — one exact edge alias table per virtual merchant (slots in edge_seq_index order,
weights edge_weight) → ``edge_alias_blob_3B`` (layout v1, kind 2) + ``edge_alias_index_3B``."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.io.datasets import PublishResult, write_parquet_dataset
from engine_core.io.publish import publish_bytes
from engine_core.kernels import alias_blob
from engine_core.rng.alias import alias_build_batch_nb
from engine_core.segments.common import dataset_path, keys_for, load_sealed, read_table
from engine_core.segments.seg_1B.s2_tile_weights import run_offsets

STATE = "3B.S3"


def build(edges: pa.Table) -> tuple[bytes, pa.Table]:
    mid = edges.column("merchant_id").to_numpy()  # sorted (merchant_id, edge_seq_index)
    off = run_offsets(mid)
    q, alias, ok = alias_build_batch_nb(edges.column("edge_weight").to_numpy(), off)
    if not ok.all():
        raise EngineError("ALIAS_BUILD_FAILED", STATE, f"{int((~ok).sum())} edge tables failed")
    n = np.diff(off)
    starts = off[:-1]
    blob, offsets = alias_blob.encode(
        alias_blob.EDGE,
        n,
        mid[starts],
        np.zeros(n.shape[0], np.uint64),
        edges.column("edge_id").to_numpy(),
        q,
        alias,
    )
    lengths = alias_blob.table_lengths(n)
    view = memoryview(blob)
    index = pa.table(
        {
            "merchant_id": pa.array(mid[starts], pa.uint64()),
            "table_ordinal": pa.array(np.arange(n.shape[0]), pa.uint32()),
            "blob_offset": pa.array(offsets, pa.uint64()),
            "blob_length": pa.array(lengths, pa.uint32()),
            "n_entries": pa.array(n, pa.uint32()),
            "table_sha256": [
                hashlib.sha256(view[o : o + ln]).hexdigest()
                for o, ln in zip(offsets.tolist(), lengths.tolist(), strict=True)
            ],
        }
    )
    return blob, index


def run(ctx: RunContext) -> StateResult:
    load_sealed(ctx, "3B", state=STATE).require("alias_layout_policy_v1", state=STATE)
    edges = read_table(
        ctx,
        "edge_catalogue_3B",
        ["merchant_id", "edge_id", "edge_seq_index", "edge_weight"],
        state=STATE,
    )
    blob, index = build(edges)
    path = dataset_path(ctx, "edge_alias_blob_3B")
    sha = hashlib.sha256(blob).hexdigest()
    status = publish_bytes(blob, path, ctx.data_root, state=STATE)
    res_blob = PublishResult(
        "edge_alias_blob_3B",
        path,
        status,
        index.num_rows,
        [(path.relative_to(ctx.data_root).as_posix(), sha)],
    )
    res_idx = write_parquet_dataset(
        ctx.dictionary,
        "edge_alias_index_3B",
        ctx.data_root,
        keys_for(ctx, "edge_alias_index_3B"),
        [index],
        state=STATE,
        extra_metadata={
            "fwe.blob_sha256": sha,
            "fwe.layout_version": "1",
            "fwe.table_count": str(index.num_rows),
        },
    )
    return StateResult(STATE, [res_idx, res_blob], rows=index.num_rows)
