"""Alias blob layout v1 (layer1 §4.3), shared by 2B (site tables) and 3B (edge tables).

Header (64 B, LE): magic ``L1AB`` · layout_version u16 = 1 · BOM u16 0xFEFF · table_kind u8 ·
3 zero · table_count u32 · entry_count u64 · file_length u64 · 32 zero.
Table (8-aligned, index order): n u32 · table_ordinal u32 · merchant_id u64 · subkey u64 ·
entity_id u64[n] · prob f64[n] (= q/2^32 exactly) · alias u32[n] · zero pad to 8.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

import numpy as np
from numba import njit

from engine_core.errors import EngineError
from engine_core.identity import uer

MAGIC = b"L1AB"
HEADER = struct.Struct("<4sHHB3xIQQ32x")
SITE, EDGE = 1, 2


def table_lengths(n: np.ndarray) -> np.ndarray:
    raw = 24 + 20 * n.astype(np.int64)
    return raw + (-raw % 8)


def site_subkey(tzid: str) -> int:
    """Site tables' subkey: BE64(SHA256(UER(tzid))[0:8])."""
    return int.from_bytes(hashlib.sha256(uer(tzid)).digest()[:8], "big")


@njit(nogil=True, cache=True)
def _put(buf, pos, value, nbytes):
    for i in range(nbytes):
        buf[pos + i] = np.uint8((value >> np.uint64(8 * i)) & np.uint64(0xFF))


@njit(nogil=True, cache=True)
def _encode_tables_nb(
    buf, offsets, n, ordinal, merchant, subkey, flat_off, entity, prob_bits, alias
):
    for t in range(n.shape[0]):
        p = offsets[t]
        k = n[t]
        _put(buf, p, np.uint64(k), 4)
        _put(buf, p + 4, np.uint64(ordinal[t]), 4)
        _put(buf, p + 8, merchant[t], 8)
        _put(buf, p + 16, subkey[t], 8)
        f = flat_off[t]
        for i in range(k):
            _put(buf, p + 24 + 8 * i, entity[f + i], 8)
            _put(buf, p + 24 + 8 * k + 8 * i, prob_bits[f + i], 8)
            _put(buf, p + 24 + 16 * k + 4 * i, np.uint64(alias[f + i]), 4)


def encode(
    kind: int,
    n: np.ndarray,
    merchant: np.ndarray,
    subkey: np.ndarray,
    entity: np.ndarray,
    q: np.ndarray,
    alias: np.ndarray,
) -> tuple[bytes, np.ndarray]:
    """The blob for tables in index order (``n`` entries each, flat arrays in slot order).
    Returns ``(blob, table offsets)``."""
    n = n.astype(np.int64)
    lengths = table_lengths(n)
    offsets = HEADER.size + np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    total = HEADER.size + int(lengths.sum())
    buf = np.zeros(total, dtype=np.uint8)
    buf[: HEADER.size] = np.frombuffer(
        HEADER.pack(MAGIC, 1, 0xFEFF, kind, n.shape[0], int(n.sum()), total), dtype=np.uint8
    )
    prob_bits = (q.astype(np.float64) / 4294967296.0).view(np.uint64)
    flat_off = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64)
    _encode_tables_nb(
        buf,
        offsets,
        n,
        np.arange(n.shape[0], dtype=np.int64),
        merchant.astype(np.uint64),
        subkey.astype(np.uint64),
        flat_off,
        entity.astype(np.uint64),
        prob_bits,
        alias.astype(np.uint32),
    )
    return buf.tobytes(), offsets


@dataclass(frozen=True)
class Blob:
    kind: int
    offsets: np.ndarray
    n: np.ndarray
    ordinal: np.ndarray
    merchant: np.ndarray
    subkey: np.ndarray
    entity: np.ndarray  # flat, slot order
    prob: np.ndarray
    alias: np.ndarray
    flat_off: np.ndarray

    def q(self) -> np.ndarray:
        """Exact numerators q = prob·2^32 (the decoder rejects non-dyadic probabilities)."""
        return (self.prob * 4294967296.0).astype(np.uint64)


def decode(data: bytes, *, code: str = "ALIAS_LAYOUT_INVALID", state: str = "ENGINE") -> Blob:
    """Walk the file table by table; any break of the layout is ``code`` naming the byte."""

    def bad(msg):
        return EngineError(code, state, f"alias blob: {msg}")

    if len(data) < HEADER.size:
        raise bad("shorter than its header")
    magic, ver, bom, kind, count, entries, length = HEADER.unpack_from(data, 0)
    if magic != MAGIC or ver != 1 or bom != 0xFEFF or kind not in (SITE, EDGE):
        raise bad("bad magic, version, byte order or table kind")
    if length != len(data) or data[9:12] != b"\0\0\0" or data[32:64] != b"\0" * 32:
        raise bad("file_length or reserved bytes do not match")
    arr = np.frombuffer(data, dtype=np.uint8)
    offsets, ns, ords, ms, sks, ents, probs, aliases = [], [], [], [], [], [], [], []
    pos = HEADER.size
    for t in range(count):  # one step per table header; entries are read vectorised
        if pos + 24 > len(data):
            raise bad(f"table {t} runs past the end")
        k, ordinal, m, sk = struct.unpack_from("<IIQQ", data, pos)
        end = pos + 24 + 20 * k
        padded = end + (-end % 8)
        if k == 0 or padded > len(data) or ordinal != t or np.any(arr[end:padded]):
            raise bad(f"table {t} at byte {pos}: bad size, ordinal or padding")
        offsets.append(pos)
        ns.append(k)
        ords.append(ordinal)
        ms.append(m)
        sks.append(sk)
        ents.append(np.frombuffer(data, "<u8", k, pos + 24))
        probs.append(np.frombuffer(data, "<f8", k, pos + 24 + 8 * k))
        aliases.append(np.frombuffer(data, "<u4", k, pos + 24 + 16 * k))
        pos = padded
    if pos != len(data):
        raise bad(f"{len(data) - pos} trailing bytes after the last table")
    n = np.array(ns, dtype=np.int64)
    prob = np.concatenate(probs) if probs else np.zeros(0)
    alias = np.concatenate(aliases).astype(np.uint32) if aliases else np.zeros(0, np.uint32)
    flat_off = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64)
    if int(n.sum()) != entries:
        raise bad("entry_count does not match the tables")
    q = prob * 4294967296.0
    local = np.repeat(n, n) if n.size else np.zeros(0, np.int64)
    if np.any(q != np.floor(q)) or np.any(q > 4294967296.0) or np.any(alias >= local):
        raise bad("a probability is not q/2^32 or an alias points outside its table")
    return Blob(
        kind,
        np.array(offsets, dtype=np.int64),
        n,
        np.array(ords, dtype=np.int64),
        np.array(ms, dtype=np.uint64),
        np.array(sks, dtype=np.uint64),
        np.concatenate(ents).astype(np.uint64) if ents else np.zeros(0, np.uint64),
        prob,
        alias,
        flat_off,
    )


@dataclass(frozen=True)
class FlatTables:
    """Tables decoded for the arrival kernel: slot ranges ``off[t]:off[t+1]`` of flat arrays."""

    off: np.ndarray  # int64[T+1]
    q: np.ndarray  # uint64 exact numerators (q ≤ 2^32, so u32 cannot hold them)
    alias: np.ndarray  # uint32
    entity: np.ndarray  # uint64 (site_id or edge_id)


def decode_indexed(
    data: bytes,
    offsets: np.ndarray,
    n_entries: np.ndarray,
    merchants: np.ndarray,
    subkeys: np.ndarray | None,
    table_sha256: list[str],
    *,
    state: str,
    what: str,
) -> FlatTables:
    """Decode every table the index names, vectorised over tables and entries (layer2 §4.2
    step 4): each slice's sha256 must equal ``table_sha256`` and its header ``n``, merchant and
    subkey must match the index row, else ``ALIAS_BLOB_CORRUPT`` naming the table."""
    from engine_core.rng.sha256_nb import sha256_hex_slices

    buf = np.frombuffer(data, dtype=np.uint8)
    offsets = np.asarray(offsets, dtype=np.int64)
    n = np.asarray(n_entries, dtype=np.int64)
    lengths = table_lengths(n)

    def corrupt(t: int, why: str):
        return EngineError(
            "ALIAS_BLOB_CORRUPT", state, f"{what}: table {t} at byte {int(offsets[t])}: {why}"
        )

    outside = (offsets % 8 != 0) | (offsets < HEADER.size) | (offsets + lengths > buf.shape[0])
    if outside.any():
        raise corrupt(int(np.flatnonzero(outside)[0]), "offset outside the blob or misaligned")
    sha = np.asarray(sha256_hex_slices(buf, offsets, lengths), dtype=object)
    bad = np.flatnonzero(sha != np.asarray(table_sha256, dtype=object))
    if bad.size:
        raise corrupt(int(bad[0]), "sha256 differs from the index's table_sha256")
    u32 = buf[: buf.shape[0] // 4 * 4].view("<u4")
    u64 = buf[: buf.shape[0] // 8 * 8].view("<u8")
    hdr_n = u32[offsets // 4]
    hdr_m = u64[offsets // 8 + 1]
    ok = (hdr_n == n) & (hdr_m == merchants)
    if subkeys is not None:
        ok &= u64[offsets // 8 + 2] == subkeys
    if not ok.all():
        raise corrupt(
            int(np.flatnonzero(~ok)[0]), "header n, merchant or subkey differs from the index"
        )
    off = np.zeros(n.shape[0] + 1, dtype=np.int64)
    np.cumsum(n, out=off[1:])
    table = np.repeat(np.arange(n.shape[0]), n)
    slot = np.arange(int(off[-1]), dtype=np.int64) - off[table]
    base = offsets[table] + 24
    entity = u64[(base + 8 * slot) // 8]
    prob = u64[(base + 8 * n[table] + 8 * slot) // 8].view(np.float64)
    alias = u32[(base + 16 * n[table] + 4 * slot) // 4]  # 4-aligned: tables are 8-aligned
    q = prob * 4294967296.0
    if np.any(q != np.floor(q)) or np.any(q > 4294967296.0) or np.any(alias >= n[table]):
        t = int(
            table[np.flatnonzero((q != np.floor(q)) | (q > 4294967296.0) | (alias >= n[table]))[0]]
        )
        raise corrupt(t, "a probability is not q/2^32 or an alias points outside its table")
    return FlatTables(off, q.astype(np.uint64), alias.astype(np.uint32), entity.astype(np.uint64))
