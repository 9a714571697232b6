"""5B per-state seconds and peak RSS against layer2 §6.2 (median of N runs).

    uv run python bench/layer2.py --profiles small reference --runs 3 [--strict]

The world is built through 5A once per profile (not timed). Each run then deletes the 5B
outputs and executes every 5B state of the ``baseline`` scenario in its own subprocess
(``fraud-engine run --only 5B.Sk``), so each state's peak RSS is its own; JIT caches are warm
after the first run. ``--strict`` exits 1 when a target is missed by more than 20 %.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

STATES = ("5B.S0", "5B.S1", "5B.S2", "5B.S3", "5B.S4", "5B.S5")
# layer2 §6.2 targets at reference (seconds); S0 + S1 share one budget
TARGETS = {
    "reference": {
        "5B.S0+S1": 5,
        "5B.S2": 10,
        "5B.S3": 12,
        "5B.S4": 60,
        "5B.S5": 30,
        "whole 5B": 120,
    },
    "small": {"whole 5B": 15},
    "tiny": {"whole 5B": 3},
}
RSS_TARGET_MIB = 3 * 1024
CHILD = """
import json, resource, sys
from engine_core.runner import run_world
rows = run_world(profile=sys.argv[1], seed=42, data_root=sys.argv[2], until=sys.argv[3],
                 scenario="baseline", only=sys.argv[4] == "only")
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": rows, "peak_mib": peak}))
"""


def child(profile: str, root: str, until: str, only: bool) -> dict:
    res = subprocess.run(
        [sys.executable, "-c", CHILD, profile, root, until, "only" if only else "all"],
        capture_output=True,
        text=True,
    )
    if res.returncode:
        raise SystemExit(f"{profile} {until}: {res.stderr.strip().splitlines()[-1]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def bench_states(profile: str, runs: int, states, upstream: str, clear) -> dict:
    """Build the world through ``upstream`` once (untimed), then per run delete the ``clear``
    directories and run each state in its own subprocess; medians, peak RSS, rows."""
    root = tempfile.mkdtemp(prefix=f"fwe-bench-{profile}-")
    try:
        child(profile, root, upstream, False)
        per: dict[str, list[float]] = {s: [] for s in states}
        rss: dict[str, float] = dict.fromkeys(states, 0.0)
        rows: dict[str, int] = {}
        for _ in range(runs):
            for sub in clear:
                shutil.rmtree(Path(root) / sub, ignore_errors=True)
            for st in states:
                out = child(profile, root, st, True)
                r = out["rows"][-1]
                per[st].append(r["seconds"])
                rss[st] = max(rss[st], out["peak_mib"])
                rows[st] = r["rows"]
        return {
            "seconds": {s: statistics.median(v) for s, v in per.items()},
            "rss": rss,
            "rows": rows,
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def bench_profile(profile: str, runs: int) -> dict:
    return bench_states(profile, runs, STATES, "5A", ["layer2/5B"])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profiles", nargs="+", default=["small", "reference"])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args()
    t = Table(title=f"5B by state — median of {args.runs}, {os.cpu_count()} cores")
    for col in (
        "profile",
        "state",
        "rows",
        "seconds",
        "rows/s",
        "target s",
        "peak RSS MiB",
        "status",
    ):
        t.add_column(col, justify="left" if col in ("profile", "state", "status") else "right")
    missed = []
    for p in args.profiles:
        b = bench_profile(p, args.runs)
        sec = b["seconds"]
        tg = TARGETS.get(p, {})
        lines = [(s, b["rows"][s], sec[s], tg.get(s), b["rss"][s]) for s in STATES]
        lines.insert(2, ("5B.S0+S1", None, sec["5B.S0"] + sec["5B.S1"], tg.get("5B.S0+S1"), None))
        lines.append(
            ("whole 5B", None, sum(sec.values()), tg.get("whole 5B"), max(b["rss"].values()))
        )
        for name, n, s, target, mib in lines:
            over = target is not None and s > 1.2 * target
            over_rss = mib is not None and mib > 1.2 * RSS_TARGET_MIB
            if over or over_rss:
                missed.append(f"{p} {name}")
            status = (
                "-"
                if target is None
                else ("ok" if s <= target else ("over" if not over else "MISSED"))
            )
            t.add_row(
                p, name, "" if n is None else f"{n:,}", f"{s:.2f}",
                "" if not n else f"{n / s:,.0f}", "" if target is None else str(target),
                "" if mib is None else f"{mib:,.0f}", status,
            )  # fmt: skip
    Console().print(t)
    if missed:
        print("targets missed by > 20 %: " + ", ".join(missed))
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
