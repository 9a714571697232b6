"""Atomic, idempotent publish (ARCHITECTURE §5).

Outputs are written under ``<data_root>/.staging/`` (same filesystem), fsynced, then moved to
their final path in one step:

* absent final path  → atomic ``link`` (files: fails instead of clobbering) or ``rename``
  (directories: fails on a non-empty target);
* identical content  → the staged copy is dropped, the output is "reused";
* different content  → ``IO_WRITE_CONFLICT``; nothing is ever overwritten.

A crash at any point leaves either nothing or the complete output at the final path;
leftovers live only under ``.staging`` and are never read.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import uuid
from pathlib import Path

from engine_core.errors import EngineError
from engine_core.identity import file_sha256

STAGING = ".staging"
PUBLISHED = "published"
REUSED = "reused"


def staging_path(data_root: Path, name: str = "") -> Path:
    """A fresh private path under ``<data_root>/.staging`` (not created)."""
    root = Path(data_root) / STAGING
    root.mkdir(parents=True, exist_ok=True)
    # the random part names scratch space only; it never reaches published bytes
    return root / f"{uuid.uuid4().hex}{('-' + name) if name else ''}"


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for dirpath, _, files in os.walk(root):
        for f in files:
            _fsync_path(Path(dirpath) / f)
        _fsync_path(Path(dirpath))


def tree_listing(root: Path) -> list[tuple[str, str]]:
    """``[(relative posix path, sha256)]`` of every file below ``root``, sorted by path.
    Files are hashed on a few threads (hashlib releases the GIL); the result is sorted, so it
    does not depend on scheduling."""
    from concurrent.futures import ThreadPoolExecutor

    root = Path(root)
    paths = [Path(d) / f for d, _, files in os.walk(root) for f in files]
    if len(paths) > 1:
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            digests = list(pool.map(file_sha256, paths))
    else:
        digests = [file_sha256(p) for p in paths]
    return sorted((p.relative_to(root).as_posix(), d) for p, d in zip(paths, digests, strict=True))


def dataset_digest(root: Path) -> str:
    """sha256 of the sha256 values of the files below ``root`` (a published partition),
    concatenated in path order (the A§6 index law)."""
    h = hashlib.sha256()
    for _, sha in tree_listing(root):
        h.update(sha.encode("ascii"))
    return h.hexdigest()


def partition_files(data_root: Path, final: Path) -> list[tuple[str, str]]:
    """``[(path relative to data_root, sha256)]`` of a published file or partition directory,
    sorted by path."""
    root, final = Path(data_root), Path(final)
    if final.is_dir():
        return [((final / r).relative_to(root).as_posix(), d) for r, d in tree_listing(final)]
    return [(final.relative_to(root).as_posix(), file_sha256(final))]


def _conflict(final: Path, state: str, why: str) -> EngineError:
    return EngineError(
        "IO_WRITE_CONFLICT",
        state,
        f"{final}: {why}; refusing to overwrite (same inputs and seed give the same bytes, so "
        "either the engine changed since that world was built — use a fresh --data-root — or "
        "this is a determinism defect)",
    )


def publish_file(staged: Path, final: Path, *, state: str = "ENGINE") -> str:
    """Move one staged file to ``final``. Returns ``"published"`` or ``"reused"``."""
    staged, final = Path(staged), Path(final)
    _fsync_path(staged)
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(staged, final)  # atomic and never clobbers
    except FileExistsError:
        if final.is_file() and file_sha256(final) == file_sha256(staged):
            staged.unlink()
            return REUSED
        staged.unlink()
        raise _conflict(final, state, "a different file is already published") from None
    staged.unlink()
    _fsync_path(final.parent)
    return PUBLISHED


def publish_dir(staged: Path, final: Path, *, state: str = "ENGINE") -> str:
    """Move a staged directory to ``final`` as a whole."""
    staged, final = Path(staged), Path(final)
    _fsync_tree(staged)
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(staged, final)  # fails on a non-empty target: no partial merge
    except OSError as e:
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
            raise
        same = final.is_dir() and tree_listing(final) == tree_listing(staged)
        shutil.rmtree(staged, ignore_errors=True)
        if same:
            return REUSED
        raise _conflict(final, state, "a different dataset is already published") from None
    _fsync_path(final.parent)
    return PUBLISHED


def publish_bytes(data: bytes, final: Path, data_root: Path, *, state: str = "ENGINE") -> str:
    """Stage ``data`` and publish it as the file ``final``."""
    tmp = staging_path(data_root, Path(final).name)
    with open(tmp, "wb") as f:
        f.write(data)
    return publish_file(tmp, final, state=state)
