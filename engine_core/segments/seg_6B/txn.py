"""The ``TXN`` transaction table of 6B (layer3 §4.0): vocabularies, ordinals and ids, and the
Arrow table built from integer-coded columns under the contract schema.

Ordinals (L3.2, scenario in the id key): arrival-derived ``4a + {0 purchase, 1 refund,
2 verification}`` with ``a`` the arrival's global row ordinal in the 5B partition; transfers
``4A + 64·party + k``; external credits ``4A + 64·P + 16·party + k``; injected fraud
``4A + 80·P + 2^20·campaign_key + j``."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from engine_core.identity import entity_ids_at, id_keys

TXN_TYPES = (
    "PURCHASE",
    "REFUND",
    "ACCOUNT_VERIFICATION",
    "TRANSFER_OUT",
    "TRANSFER_IN",
    "QUASI_CASH",
)
DIRECTIONS = ("DEBIT", "CREDIT")
CHANNELS = ("CP", "CNP", "ONLINE_BANKING")
ENTRY = ("CHIP", "CONTACTLESS", "MAGSTRIPE", "MANUAL_KEYED", "ECOM", "ECOM_TOKEN", "NOT_APPLICABLE")
AUTH = ("NOT_APPLICABLE", "NONE", "THREE_DS_FRICTIONLESS", "THREE_DS_CHALLENGE", "TOKEN_CRYPTOGRAM")
CODES = ("00", "05", "14", "51", "54", "59", "N7")
SOURCES = ("ARRIVAL", "REFUND", "VERIFICATION", "P2P", "EXTERNAL_CREDIT", "INJECTED")
HOUR_US = 3_600_000_000


def arrival_ordinal(a: np.ndarray, child: int) -> np.ndarray:
    return np.asarray(a, np.uint64) * np.uint64(4) + np.uint64(child)


def transfer_ordinal(n_arrivals: int, party: np.ndarray, k: np.ndarray) -> np.ndarray:
    return (
        np.uint64(4 * n_arrivals)
        + np.asarray(party, np.uint64) * np.uint64(64)
        + np.asarray(k, np.uint64)
    )


def credit_ordinal(n_arrivals: int, n_parties: int, party, k) -> np.ndarray:
    base = np.uint64(4 * n_arrivals + 64 * n_parties)
    return base + np.asarray(party, np.uint64) * np.uint64(16) + np.asarray(k, np.uint64)


def txn_ids(ctx, ordinals: np.ndarray) -> np.ndarray:
    return entity_ids_at(id_keys(ctx.mf, ctx.seed, "txn", ctx.scenario_id or ""), ordinals)


def _dict(codes, vocab, null=None) -> pa.Array:
    codes = np.asarray(codes, np.int32)
    mask = None if null is None else np.asarray(null, bool)
    return pa.DictionaryArray.from_arrays(
        pa.array(codes, pa.int32(), mask=mask), pa.array(list(vocab), pa.string())
    )


def _u64(values, null=None) -> pa.Array:
    mask = None if null is None else np.asarray(null, bool)
    return pa.array(np.asarray(values).astype(np.uint64), pa.uint64(), mask=mask)


def table(cols: dict, schema: pa.Schema) -> pa.Table:
    """The TXN(+internal) table from coded numpy columns. ``cols`` holds, per column, either an
    Arrow array or ``(codes, vocab[, null])`` for strings and ``(values, null)`` for nullable
    numerics; numerics are cast to the contract type."""
    arrays = []
    for f in schema:
        v = cols[f.name]
        if isinstance(v, pa.Array | pa.ChunkedArray):
            arr = v
        elif pa.types.is_dictionary(f.type):
            arr = _dict(*v)
        elif isinstance(v, tuple):
            values, null = v
            arr = pa.array(np.asarray(values), mask=np.asarray(null, bool)).cast(f.type)
        else:
            arr = pa.array(np.asarray(v)).cast(f.type)
        arrays.append(arr.cast(f.type) if arr.type != f.type else arr)
    return pa.Table.from_arrays(arrays, schema=schema)


__all__ = [
    "AUTH",
    "CHANNELS",
    "CODES",
    "DIRECTIONS",
    "ENTRY",
    "HOUR_US",
    "SOURCES",
    "TXN_TYPES",
    "arrival_ordinal",
    "credit_ordinal",
    "table",
    "transfer_ordinal",
    "txn_ids",
]
