"""Whole-data-root tooling: digest listing, bundle verification, run tables."""

from __future__ import annotations

import os
from pathlib import Path

from engine_core.errors import EngineError
from engine_core.gates.bundle import FLAG, INDEX, verify_bundle
from engine_core.identity import file_sha256
from engine_core.io.publish import STAGING
from engine_core.io.verify import DIGESTS


def data_files(root: Path) -> list[tuple[str, str]]:
    """``(relative path, sha256)`` of every published file under ``root``, sorted by path.
    Staging scratch and the digest records are not published data and are skipped."""
    root = Path(root)
    if not root.is_dir():
        raise EngineError("USAGE", detail=f"data root {root} does not exist")
    out = []
    for dirpath, dirnames, files in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in (STAGING, DIGESTS))
        for f in files:
            p = Path(dirpath) / f
            out.append((p.relative_to(root).as_posix(), file_sha256(p)))
    return sorted(out)


def bundle_dirs(root: Path, seed: int | None = None) -> list[Path]:
    found = sorted(
        p.parent
        for p in Path(root).rglob(INDEX)
        if STAGING not in p.parts and DIGESTS not in p.parts
    )
    if seed is not None:
        found = [
            d
            for d in found
            if f"seed={seed}" in d.parts or not any(part.startswith("seed=") for part in d.parts)
        ]
    return found


def verify_records(root: Path, seed: int | None = None) -> int:
    """Check every published partition under ``root`` against its publish record (the
    datasets of a segment not yet bundled included); returns how many were verified."""
    from engine_core.io.verify import published_partitions, verify_published

    root = Path(root)
    n = 0
    for final, name in published_partitions(root):
        parts = final.relative_to(root).parts
        if seed is not None and any(p.startswith("seed=") for p in parts):
            if f"seed={seed}" not in parts:
                continue
        verify_published(root, final, dataset_id=name, state="ENGINE")
        n += 1
    return n


def verify_all(root: Path, seed: int | None = None) -> list[tuple[str, str]]:
    """HashGate every bundle under ``root``; the first failure raises naming its file."""
    root = Path(root)
    if not root.is_dir():
        raise EngineError("USAGE", detail=f"data root {root} does not exist")
    out = []
    for d in bundle_dirs(root, seed):
        if not (d / FLAG).exists():
            raise EngineError("HASHGATE_FAILED", detail=f"{d / FLAG}: missing (validation failed)")
        out.append((d.relative_to(root).as_posix(), verify_bundle(d, root)))
    return out


def print_run_table(rows: list[dict], total_seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"fraud-engine run — {total_seconds:.2f} s")
    num = ("rows", "seconds", "rows/s", "peak MiB")
    for col in ("state", "scenario", "rows", "seconds", "rows/s", "peak MiB", "output"):
        t.add_column(col, justify="right" if col in num else "left")
    for r in rows:
        rate = r["rows"] / r["seconds"] if r["seconds"] > 0 else 0.0
        t.add_row(
            r["state"],
            r["scenario"],
            f"{r['rows']:,}",
            f"{r['seconds']:.2f}",
            f"{rate:,.0f}",
            f"{r.get('peak_rss_mib', 0):,.0f}",
            r["status"],
        )
    Console().print(t)
