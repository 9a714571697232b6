"""Per-segment wall time and peak memory per profile, against the spec budgets.

    make bench                                # tiny, small, reference
    uv run python bench/world.py --profiles small

Each profile runs in a fresh subprocess on a fresh data root (as a user would), through
``--until 5A``; the subprocess reports its per-state seconds and its own peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from rich.console import Console
from rich.table import Table

# layer1 §8 and layer2 §2.10 budgets (seconds, 2 cores)
BUDGETS = {
    "layer 1": {"tiny": 30, "small": 90, "reference": 300, "large": 2700},
    "5A": {"tiny": 5, "small": 90, "reference": 90, "large": 900},
}
CHILD = """
import json, resource, sys
from engine_core.runner import run_world
rows = run_world(profile=sys.argv[1], seed=int(sys.argv[2]), data_root=sys.argv[3], until="5A")
print(json.dumps({"rows": rows,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profiles", nargs="+", default=["tiny", "small", "reference"])
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    t = Table(title=f"World build by segment — {os.cpu_count()} cores")
    for col in ("profile", "segment", "wall s", "budget s", "status", "peak RSS MiB"):
        t.add_column(col, justify="left" if col in ("profile", "segment", "status") else "right")
    for p in args.profiles:
        root = tempfile.mkdtemp(prefix=f"fwe-bench-{p}-")
        try:
            res = subprocess.run(
                [sys.executable, "-c", CHILD, p, str(args.seed), root],
                capture_output=True,
                text=True,
            )
        finally:
            shutil.rmtree(root, ignore_errors=True)
        if res.returncode:
            t.add_row(p, "-", "-", "-", "FAILED: " + res.stderr.strip().splitlines()[-1], "-")
            continue
        out = json.loads(res.stdout.strip().splitlines()[-1])
        seg = {"layer 1": 0.0, "5A": 0.0}
        for r in out["rows"]:
            seg["5A" if r["state"].startswith("5A") else "layer 1"] += r["seconds"]
        for name, secs in seg.items():
            budget = BUDGETS[name][p]
            t.add_row(
                p,
                name,
                f"{secs:.1f}",
                str(budget),
                "ok" if secs <= budget else "over",
                f"{out['peak_mib']:,.0f}",
            )
    Console().print(t)


if __name__ == "__main__":
    main()
