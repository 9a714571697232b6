"""3B.S3 — one exact edge alias table per virtual merchant (slots in edge_seq_index order,
weights edge_weight) → ``edge_alias_blob_3B`` (layout v1, kind 2) + ``edge_alias_index_3B``."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.kernels import alias_blob
from engine_core.kernels.runs import run_offsets
from engine_core.rng.alias import alias_build_batch_nb
from engine_core.segments.state_io import open_state

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
    io = open_state(ctx, STATE)
    layout = io.policy("alias_layout_layer1")  # pins the blob layout (schema-enforced)
    edges = io.read_table(
        "edge_catalogue_3B", ["merchant_id", "edge_id", "edge_seq_index", "edge_weight"]
    )
    blob, index = build(edges)
    sha = hashlib.sha256(blob).hexdigest()
    io.write_blob("edge_alias_blob_3B", blob, rows=index.num_rows)
    io.write(
        "edge_alias_index_3B",
        [index],
        extra_metadata={
            "fwe.blob_sha256": sha,
            "fwe.layout_version": str(layout["layout_version"]),
            "fwe.table_count": str(index.num_rows),
        },
    )
    return io.result(rows=index.num_rows)
