"""What verifying every opened file against its publish record costs.

    uv run python bench/verify.py --data-root data

Runs in a fresh process (cold digest cache): verifies every published partition under the
data root once (what the states of a full run open, at most once per file per process),
then again (the cached path). Reports files, bytes, seconds and throughput.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from engine_core.io.verify import DIGESTS, verify_published


def records(root: Path) -> list[tuple[Path, str]]:
    out = []
    for rec in sorted((root / DIGESTS).rglob("*.sha256.json")):
        rel = rec.relative_to(root / DIGESTS).as_posix().removesuffix(".sha256.json")
        out.append((root / rel, rel.split("/")[2] if rel.count("/") >= 2 else rel))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-root", type=Path, default=Path("data"))
    args = ap.parse_args()
    root = args.data_root.resolve()
    recs = records(root)
    size = 0
    files = 0
    for final, _ in recs:
        listed = json.loads(
            ((root / DIGESTS) / f"{final.relative_to(root)}.sha256.json").read_bytes()
        )
        files += len(listed["files"])
        size += sum((root / f).stat().st_size for f in listed["files"])
    t = Table(title=f"verify against publish records — {root}")
    for c in ("pass", "partitions", "files", "MiB", "seconds", "MiB/s"):
        t.add_column(c, justify="right")
    for label in ("cold", "cached"):
        t0 = time.perf_counter()
        for final, ds in recs:
            verify_published(root, final, dataset_id=ds, state="bench")
        s = time.perf_counter() - t0
        mib = size / 2**20
        t.add_row(label, str(len(recs)), str(files), f"{mib:,.0f}", f"{s:.2f}", f"{mib / s:,.0f}")
    Console().print(t)


if __name__ == "__main__":
    main()
