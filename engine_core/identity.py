"""Identity law (ARCHITECTURE §3): UER, LE64, canonical JSON, parameter_hash, mf.

parameter_hash = SHA256( Σ_sorted UER(logical_name) ‖ SHA256(file_bytes) )   (raw digests)
manifest_fingerprint = SHA256( UER("mf.v1") ‖ ph(32 raw bytes)
                               ‖ Σ_sorted_by_name UER(name) ‖ UER(version) ‖ UER(digest)
                               ‖ UER(contracts_digest) ‖ UER(spec_version) )
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from numba import njit

SPEC_VERSION = "fwe-spec-1.0"


def uer(s: str) -> bytes:
    """Unambiguous encoding: u32 big-endian byte length, then UTF-8 bytes."""
    b = s.encode("utf-8")
    return struct.pack(">I", len(b)) + b


def le64(x: int) -> bytes:
    return struct.pack("<Q", x)


def be64(b: bytes) -> int:
    return int.from_bytes(b[:8], "big")


def _reject_nan(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ValueError("canonical JSON forbids NaN/Inf")
    if isinstance(obj, Mapping):
        for v in obj.values():
            _reject_nan(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            _reject_nan(v)


def canonical_json(obj) -> bytes:
    """UTF-8, sorted keys, no whitespace, no NaN (ARCHITECTURE §3)."""
    _reject_nan(obj)
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def parameter_hash(files: Mapping[str, bytes]) -> str:
    """ph over ``{logical_name: file_bytes}``, in sorted logical-name order."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(uer(name))
        h.update(hashlib.sha256(files[name]).digest())
    return h.hexdigest()


def manifest_fingerprint(
    ph: str,
    refdata: Iterable[tuple[str, str, str]],
    contracts_digest: str,
    spec_version: str = SPEC_VERSION,
) -> str:
    """mf over ph, each sealed artefact ``(name, version, digest)``, contracts, spec version."""
    h = hashlib.sha256()
    h.update(uer("mf.v1"))
    h.update(bytes.fromhex(ph))
    for name, version, digest in sorted(refdata):
        h.update(uer(name))
        h.update(uer(version))
        h.update(uer(digest))
    h.update(uer(contracts_digest))
    h.update(uer(spec_version))
    return h.hexdigest()


def listing_digest(pairs: Iterable[tuple[str, str]]) -> str:
    """Digest of a file set: sha256 of canonical JSON ``[[relpath, sha256], …]`` sorted by path
    (layer1 §0.6; also used for the contracts digest)."""
    return sha256_hex(canonical_json(sorted([p, d] for p, d in pairs)))


def engine_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fraud-world-engine")
    except PackageNotFoundError:  # running from a source tree without install
        return "0.0.0+src"


# --- layer-3 entity ids (layer3 L3.2): a keyed 4-round Feistel bijection of the ordinal ---

_M64 = (1 << 64) - 1
_M32 = 0xFFFFFFFF


def id_keys(mf: str, seed: int, kind: str, scenario_id: str = "") -> np.ndarray:
    """``k_0..k_3`` = BE64 words of SHA256(UER("L3.id.v1") ‖ UER(mf) ‖ LE64(seed)
    ‖ UER(scenario_id) ‖ UER(kind))."""
    d = hashlib.sha256(
        uer("L3.id.v1") + uer(mf) + le64(int(seed)) + uer(scenario_id) + uer(kind)
    ).digest()
    return np.array([int.from_bytes(d[8 * r : 8 * r + 8], "big") for r in range(4)], np.uint64)


def _fmix64(z: int) -> int:
    z ^= z >> 33
    z = (z * 0xFF51AFD7ED558CCD) & _M64
    z ^= z >> 33
    z = (z * 0xC4CEB9FE1A85EC53) & _M64
    return z ^ (z >> 33)


def perm(x: int, keys) -> int:
    """The reference (pure-Python) permutation of 0..2^64−1."""
    left, right = x >> 32, x & _M32
    for k in keys:
        left, right = right, left ^ (_fmix64(right ^ int(k)) >> 32)
    return (left << 32) | right


def perm_inverse(y: int, keys) -> int:
    """``perm⁻¹`` (tests and audits only: nothing in a data path inverts an id)."""
    left, right = y >> 32, y & _M32
    for k in reversed([int(k) for k in keys]):
        left, right = right ^ (_fmix64(left ^ k) >> 32), left
    return (left << 32) | right


def entity_id(kind_keys, i: int) -> int:
    """``id(kind, i)``: perm(i+1), or perm(0) in the one case perm(i+1) = 0."""
    y = perm((i + 1) & _M64, kind_keys)
    return y if y else perm(0, kind_keys)


@njit(nogil=True, cache=True, inline="always")
def _fmix64_nb(z):
    z ^= z >> np.uint64(33)
    z *= np.uint64(0xFF51AFD7ED558CCD)
    z ^= z >> np.uint64(33)
    z *= np.uint64(0xC4CEB9FE1A85EC53)
    return z ^ (z >> np.uint64(33))


@njit(nogil=True, cache=True, inline="always")
def _perm_nb(x, k0, k1, k2, k3):
    m32 = np.uint64(0xFFFFFFFF)
    s32 = np.uint64(32)
    lo, ro = x >> s32, x & m32
    lo, ro = ro, lo ^ (_fmix64_nb(ro ^ k0) >> s32)
    lo, ro = ro, lo ^ (_fmix64_nb(ro ^ k1) >> s32)
    lo, ro = ro, lo ^ (_fmix64_nb(ro ^ k2) >> s32)
    lo, ro = ro, lo ^ (_fmix64_nb(ro ^ k3) >> s32)
    return (lo << s32) | ro


@njit(nogil=True, cache=True)
def _ids_nb(first, n, keys, out):
    k0, k1, k2, k3 = keys[0], keys[1], keys[2], keys[3]
    y0 = _perm_nb(np.uint64(0), k0, k1, k2, k3)
    for j in range(n):
        y = _perm_nb(first + np.uint64(j + 1), k0, k1, k2, k3)
        # branch-free cycle walk: perm is a bijection, so at most one step (L3.2)
        out[j] = y | (y0 & (np.uint64(0) - np.uint64(y == 0)))
    return out


def entity_ids(kind_keys: np.ndarray, first: int, n: int) -> np.ndarray:
    """Ids of ordinals ``first … first+n−1`` as uint64 (vectorised ``entity_id``)."""
    out = np.empty(int(n), dtype=np.uint64)
    return _ids_nb(np.uint64(first), int(n), np.asarray(kind_keys, np.uint64), out)


@njit(nogil=True, cache=True)
def _ids_at_nb(ordinals, keys, out):
    k0, k1, k2, k3 = keys[0], keys[1], keys[2], keys[3]
    y0 = _perm_nb(np.uint64(0), k0, k1, k2, k3)
    for j in range(ordinals.shape[0]):
        y = _perm_nb(ordinals[j] + np.uint64(1), k0, k1, k2, k3)
        out[j] = y | (y0 & (np.uint64(0) - np.uint64(y == 0)))
    return out


def entity_ids_at(kind_keys: np.ndarray, ordinals: np.ndarray) -> np.ndarray:
    """Ids of arbitrary ordinals (6B transaction ordinals are sparse: ``4a + k``, L3.2)."""
    x = np.ascontiguousarray(ordinals, np.uint64)
    return _ids_at_nb(x, np.asarray(kind_keys, np.uint64), np.empty(x.size, np.uint64))
