"""6B per-state seconds, rows/s and peak RSS against layer3 §4.9 (median of N runs).

    uv run python bench/layer3_6b.py --profiles small reference --runs 1 [--strict]

The world is built through 6A (baseline) once per profile, not timed. Each run deletes the
6B outputs and executes every registered 6B state in its own subprocess (``--only 6B.Sk``),
so each state's peak RSS is its own. Targets are rows/s on 2 cores (S1, S3 ≥ 10^6; S4 ≥ 0.7·10^6);
``--strict`` exits 1 when a target is missed by > 20 %.
"""

from __future__ import annotations

import argparse
import os
import sys

from layer2 import bench_states  # the one per-state subprocess runner of the benches
from rich.console import Console
from rich.table import Table

from engine_core.registry import registry

# layer3 §4.9: rows/s per state on 2 cores (reference); memory ≤ 16 GiB
ROWS_PER_S = {"6B.S1": 1_000_000, "6B.S3": 1_000_000, "6B.S4": 700_000}
RSS_TARGET_MIB = 16 * 1024


def bench_profile(profile: str, runs: int, states: list[str]) -> dict:
    return bench_states(profile, runs, states, "6A", ["layer3/6B", ".digests/layer3/6B"])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profiles", nargs="+", default=["small", "reference"])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args()
    states = [s.state_id for s in registry().segment_states("6B")]
    t = Table(title=f"6B by state (baseline) — median of {args.runs}, {os.cpu_count()} cores")
    for col in (
        "profile",
        "state",
        "rows",
        "seconds",
        "rows/s",
        "target rows/s",
        "peak RSS MiB",
        "status",
    ):
        t.add_column(col, justify="left" if col in ("profile", "state", "status") else "right")
    missed = []
    for p in args.profiles:
        b = bench_profile(p, args.runs, states)
        for s in states:
            n, sec, mib = b["rows"][s], b["seconds"][s], b["rss"][s]
            rate = n / sec if sec > 0 else 0.0
            target = ROWS_PER_S.get(s) if p == "reference" else None
            over = target is not None and rate < target / 1.2
            if over or mib > 1.2 * RSS_TARGET_MIB:
                missed.append(f"{p} {s}")
            status = (
                "-"
                if target is None
                else ("ok" if rate >= target else ("low" if not over else "MISSED"))
            )
            t.add_row(
                p,
                s,
                f"{n:,}",
                f"{sec:.2f}",
                f"{rate:,.0f}",
                "" if target is None else f"{target:,}",
                f"{mib:,.0f}",
                status,
            )
    Console().print(t)
    print(
        f"registered 6B states: {', '.join(states)} (S2-S5 are not built yet)"
        if len(states) < 6
        else ""
    )
    if missed:
        print("targets missed by > 20 %: " + ", ".join(missed))
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
