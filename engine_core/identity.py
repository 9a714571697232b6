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
