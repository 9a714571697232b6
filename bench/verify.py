"""What verifying every opened file against its publish record costs.

    uv run python bench/verify.py --data-root data

Runs in a fresh process (cold digest cache): verifies every published partition under the
data root once (what the states of a full run open, at most once per file per process),
then again (the cached path). Reports files, bytes, seconds and throughput.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from engine_core.io.verify import published_files, published_partitions, verify_published


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-root", type=Path, default=Path("data"))
    args = ap.parse_args()
    root = args.data_root.resolve()
    recs = published_partitions(root)
    listed = [rel for final, _ in recs for rel, _ in published_files(root, final)]
    files = len(listed)
    size = sum((root / rel).stat().st_size for rel in listed)
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
