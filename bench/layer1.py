"""Layer-1 wall time and peak memory per profile against the layer1 §8 budgets.

    make bench                       # RNG table, then this (tiny, small, reference)
    uv run python bench/layer1.py --profiles tiny small

Each profile runs in a fresh subprocess (`fraud-engine run --until 3B`) on a fresh data root,
so the numbers include numba cache loads and the one-off tz scans, as a user would see them.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from rich.console import Console
from rich.table import Table

BUDGET_S = {"tiny": 30, "small": 90, "reference": 300, "large": 2700}


def run(profile: str, seed: int) -> tuple[float, float, int]:
    root = tempfile.mkdtemp(prefix=f"fwe-bench-{profile}-")
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "engine_core.cli",
                "run",
                "--profile",
                profile,
                "--seed",
                str(seed),
                "--data-root",
                root,
                "--until",
                "3B",
                "--no-progress",
            ],
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t0
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if res.returncode != 0:
            print(res.stderr, file=sys.stderr)
        # ru_maxrss of children is the max over all children so far: report it only if it grew
        return wall, max(peak_kib, before) / 1024.0, res.returncode
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profiles", nargs="+", default=["tiny", "small", "reference"])
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    t = Table(title=f"Layer 1 (1A–3B) — {os.cpu_count()} cores")
    for col in ("profile", "wall s", "budget s", "peak RSS MiB", "status"):
        t.add_column(col, justify="left" if col in ("profile", "status") else "right")
    for p in args.profiles:
        wall, peak, rc = run(p, args.seed)
        ok = rc == 0 and wall <= BUDGET_S[p]
        t.add_row(
            p,
            f"{wall:.1f}",
            str(BUDGET_S[p]),
            f"{peak:,.0f}",
            "ok" if ok else ("FAILED" if rc else "over budget"),
        )
    Console().print(t)
    print("peak RSS is the running maximum over the benchmark's child processes")


if __name__ == "__main__":
    main()
