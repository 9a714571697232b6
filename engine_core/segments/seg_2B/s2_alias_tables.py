"""2B.S2 — one exact alias table per (merchant_id, tzid) over its sites in ``site_id`` order,
weighted by ``p_weight_in_tz`` → ``s2_alias_blob`` (layout v1) + ``s2_alias_index``."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.kernels import alias_blob
from engine_core.rng.alias import alias_build_batch_nb
from engine_core.segments.state_io import open_state

STATE = "2B.S2"


def tables_in_index_order(w: pa.Table):
    """Rows sorted by (merchant_id, tzid bytes, site_id) and the table boundaries."""
    mid = w.column("merchant_id").to_numpy()
    tz_labels, tz = np.unique(
        np.asarray(w.column("tzid").to_pylist(), dtype=object), return_inverse=True
    )  # sorted labels: code order = UTF-8 order
    sid = w.column("site_id").to_numpy()
    order = np.lexsort((sid, tz.reshape(-1), mid))
    m, t = mid[order], tz.reshape(-1)[order]
    change = np.concatenate([[True], (m[1:] != m[:-1]) | (t[1:] != t[:-1])])
    off = np.concatenate([np.flatnonzero(change), [m.shape[0]]]).astype(np.int64)
    return order, off, tz_labels, t


def build(ctx: RunContext, w: pa.Table):
    order, off, tz_labels, tcode = tables_in_index_order(w)
    weights = w.column("p_weight_in_tz").to_numpy()[order]
    q, alias, ok = alias_build_batch_nb(weights, off)
    if not ok.all():
        raise EngineError("ALIAS_BUILD_FAILED", STATE, f"{int((~ok).sum())} tables failed")
    starts = off[:-1]
    n = np.diff(off)
    mid = w.column("merchant_id").to_numpy()[order][starts]
    tz_of_table = tz_labels[tcode[starts]]
    subkeys = {z: alias_blob.site_subkey(z) for z in tz_labels}  # one per distinct tzid
    subkey = np.array([subkeys[z] for z in tz_labels], dtype=np.uint64)[tcode[starts]]
    sid = w.column("site_id").to_numpy()[order]
    blob, offsets = alias_blob.encode(alias_blob.SITE, n, mid, subkey, sid, q, alias)
    lengths = alias_blob.table_lengths(n)
    view = memoryview(blob)
    sha = [
        hashlib.sha256(view[o : o + ln]).hexdigest()
        for o, ln in zip(offsets.tolist(), lengths.tolist(), strict=True)
    ]
    index = pa.table(
        {
            "merchant_id": pa.array(mid, pa.uint64()),
            "tzid": tz_of_table.tolist(),
            "table_ordinal": pa.array(np.arange(n.shape[0]), pa.uint32()),
            "blob_offset": pa.array(offsets, pa.uint64()),
            "blob_length": pa.array(lengths, pa.uint32()),
            "n_entries": pa.array(n, pa.uint32()),
            "tz_share": w.column("tz_share").to_numpy()[order][starts],
            "table_sha256": sha,
        }
    )
    return blob, index


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    layout = io.policy("alias_layout_layer1")  # pins the blob layout (schema-enforced)
    w = io.read_table(
        "s1_site_weights", ["merchant_id", "tzid", "site_id", "p_weight_in_tz", "tz_share"]
    )
    blob, index = build(ctx, w)
    io.write_blob("s2_alias_blob", blob, rows=int(index.num_rows))
    extra = {
        "fwe.blob_sha256": hashlib.sha256(blob).hexdigest(),
        "fwe.layout_version": str(layout["layout_version"]),
        "fwe.table_count": str(index.num_rows),
    }
    io.write("s2_alias_index", [index], extra_metadata=extra)
    return io.result(
        rows=index.num_rows, metadata={"tables": index.num_rows, "blob_bytes": len(blob)}
    )
