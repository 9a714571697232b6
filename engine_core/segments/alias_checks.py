"""The alias-table integrity set shared by 2B.S2 (site tables) and 3B.S3 (edge tables):
every table decodes, matches its index row, tiles the file, and implies its weights exactly."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine_core.checks import Outcome
from engine_core.kernels import alias_blob

ALIAS_PROB_TOL = 2.0**-32 + 1e-15


def implied_probabilities(blob: alias_blob.Blob) -> np.ndarray:
    """(q_i + Σ_{j: alias_j = i, j ≠ i} (2^32 − q_j)) / (n·2^32) per slot."""
    q = blob.q().astype(np.float64)
    table = np.repeat(np.arange(blob.n.shape[0]), blob.n)
    target = blob.flat_off[table] + blob.alias.astype(np.int64)
    mass = q.copy()
    np.add.at(mass, target, np.where(target != np.arange(q.shape[0]), 4294967296.0 - q, 0.0))
    return mass / (blob.n[table] * 4294967296.0)


def alias_integrity(
    index: pa.Table,
    index_dir,
    blob_path,
    *,
    want_keys: bool,
    subkeys: np.ndarray,
    entity: np.ndarray,
    weight: np.ndarray,
    state: str,
) -> Outcome:
    """``entity``/``weight``: every entity's expected probability within its table."""
    data = blob_path.read_bytes()
    blob = alias_blob.decode(data, state=state)
    meta = pq.read_schema(sorted(index_dir.glob("*.parquet"))[0]).metadata or {}
    sha_ok = meta.get(b"fwe.blob_sha256", b"").decode() == hashlib.sha256(data).hexdigest()
    hdr_ok = (
        np.array_equal(blob.offsets, index.column("blob_offset").to_numpy())
        and np.array_equal(blob.n, index.column("n_entries").to_numpy())
        and np.array_equal(blob.merchant, index.column("merchant_id").to_numpy())
        and np.array_equal(blob.subkey, subkeys)
    )
    view = memoryview(data)
    lengths = index.column("blob_length").to_numpy()
    tsha_ok = [
        hashlib.sha256(view[o : o + ln]).hexdigest()
        for o, ln in zip(blob.offsets.tolist(), lengths.tolist(), strict=True)
    ] == index.column("table_sha256").to_pylist()
    order = np.argsort(entity, kind="stable")
    pos = np.searchsorted(entity[order], blob.entity)
    pos = np.minimum(pos, max(entity.shape[0] - 1, 0))
    found = entity[order][pos] == blob.entity if entity.size else np.zeros(0, bool)
    dev = (
        float(np.abs(implied_probabilities(blob) - weight[order][pos]).max())
        if blob.entity.size
        else 0.0
    )
    ok = (
        sha_ok
        and want_keys
        and hdr_ok
        and tsha_ok
        and bool(found.all())
        and blob.entity.shape[0] == entity.shape[0]
        and dev <= ALIAS_PROB_TOL
    )
    return Outcome(
        ok,
        {
            "blob_sha256": sha_ok,
            "keys_match": want_keys,
            "headers_match_index": hdr_ok,
            "table_sha256": tsha_ok,
            "entities_match": bool(found.all()),
            "max_prob_dev": dev,
        },
        {"max_prob_dev": ALIAS_PROB_TOL},
    )
