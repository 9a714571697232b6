"""Digest records of published datasets, and verification of every file a state opens.

Each publish writes a record ``<data_root>/.digests/<dataset path>.sha256.json`` listing the
sha256 of every file of the partition as published. Readers verify the files they open
against it (streamed sha256, cached per file, size and mtime), so a byte flipped, a part
added or a part removed after publishing is ``SEALED_DIGEST_MISMATCH`` naming the file —
before anything is read from it, so nothing is published over it. The records are engine
bookkeeping, not data: digest listings and validation bundles skip ``.digests``."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from engine_core.errors import EngineError
from engine_core.identity import file_sha256

DIGESTS = ".digests"
_LOCK = threading.Lock()
_VERIFIED: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) → sha256


def record_path(data_root: Path, final: Path) -> Path:
    rel = Path(final).relative_to(data_root).as_posix().rstrip("/")
    return Path(data_root) / DIGESTS / f"{rel}.sha256.json"


def write_record(data_root: Path, final: Path, files: list[tuple[str, str]]) -> None:
    """Record ``files`` ((path relative to data_root, sha256)) as the published content of
    ``final``. Atomic (staged + replace); the content is a function of the dataset bytes."""
    path = record_path(data_root, final)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"files": dict(sorted(files))}, indent=1, sort_keys=True).encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(body)
    os.replace(tmp, path)


def sha256_cached(path: Path) -> str:
    """sha256 of a file, hashed once per (path, size, mtime) in this process."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _LOCK:
        hit = _VERIFIED.get(key)
    if hit is None:
        hit = file_sha256(path)
        with _LOCK:
            _VERIFIED[key] = hit
    return hit


def _mismatch(state: str, what: str) -> EngineError:
    return EngineError(
        "SEALED_DIGEST_MISMATCH",
        state,
        f"{what}; the file changed after it was published (rebuild it, or use a fresh --data-root)",
    )


def verify_published(
    data_root: Path, final: Path, *, dataset_id: str, state: str, only: list[Path] | None = None
) -> None:
    """Check the files of the published partition ``final`` (or just ``only``) against its
    record: same set of files, same sha256. Hashing runs on a few threads (hashlib releases
    the GIL); the outcome does not depend on their order."""
    root = Path(data_root)
    rec = record_path(root, final)
    if not rec.is_file():
        raise EngineError(
            "SEALED_DIGEST_MISMATCH",
            state,
            f"{dataset_id}: {final} has no published digest record ({rec}); it was not "
            "published by this engine",
        )
    want: dict[str, str] = json.loads(rec.read_bytes())["files"]
    if only is None:
        if final.is_dir():
            have = sorted(p for p in final.rglob("*") if p.is_file())
        else:
            have = [final] if final.is_file() else []
        names = {p.relative_to(root).as_posix() for p in have}
        extra, missing = sorted(names - set(want)), sorted(set(want) - names)
        if extra or missing:
            what = f"{root / extra[0]} is not" if extra else f"{root / missing[0]} is missing from"
            raise _mismatch(state, f"{dataset_id}: {what} the published partition")
        paths = have
    else:
        paths = list(only)
    _check_digests(root, paths, want, dataset_id, state)


def _check_digests(root: Path, paths: list[Path], want: dict, dataset_id: str, state: str):
    from concurrent.futures import ThreadPoolExecutor

    rels = [p.relative_to(root).as_posix() for p in paths]
    for p, rel in zip(paths, rels, strict=True):
        if rel not in want:
            raise _mismatch(state, f"{dataset_id}: {p} is not in the published partition")
    if len(paths) > 1:
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            got = list(pool.map(sha256_cached, paths))
    else:
        got = [sha256_cached(p) for p in paths]
    for p, rel, g in zip(paths, rels, got, strict=True):
        if g != want[rel]:
            raise _mismatch(
                state, f"{dataset_id}: {p} sha256 {g[:16]}… != published {want[rel][:16]}…"
            )


def published_partitions(data_root: Path) -> list[tuple[Path, str]]:
    """``(partition path, dataset id)`` of every publish record under ``data_root``, sorted."""
    root = Path(data_root)
    out = []
    for rec in sorted((root / DIGESTS).rglob("*.sha256.json")):
        rel = rec.relative_to(root / DIGESTS).as_posix().removesuffix(".sha256.json")
        parts = rel.split("/")
        out.append((root / rel, parts[2] if len(parts) > 2 else parts[-1]))
    return out


def published_files(data_root: Path, final: Path) -> list[tuple[str, str]]:
    """``(path relative to data_root, sha256)`` of a published partition, from its record."""
    rec = json.loads(record_path(data_root, final).read_bytes())["files"]
    return sorted(rec.items())
