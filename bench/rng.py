"""RNG throughput: u64 words per second for the vectorised numpy Philox2x64-10, the numba
kernel (one core), and numpy's own C ``Generator(Philox)`` (Philox4x64) as a reference.

    make bench          # or: uv run python bench/rng.py [--words N] [--repeats R]

Reports best-of-R wall time per implementation and the ratio to numpy's C generator.
Goal (issue 2): numba ≥ 5×10^8 u64/s/core.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from engine_core.rng.philox import fill_blocks_nb, philox2x64_10
from engine_core.rng.samplers import poisson_inv
from engine_core.rng.uniform import uniform01


def best(fn, repeats: int) -> float:
    fn()  # warm-up (numba compile / cache load, page faults)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--words", type=int, default=1 << 24)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    n = args.words
    nb = n // 2
    o0 = np.empty(nb, dtype=np.uint64)
    o1 = np.empty(nb, dtype=np.uint64)
    ctr = np.arange(nb, dtype=np.uint64)
    zeros = np.zeros(nb, dtype=np.uint64)
    gen = np.random.Philox(12345)

    rows = []
    t = best(lambda: philox2x64_10(ctr, zeros, zeros), max(1, args.repeats // 2))
    rows.append(("engine numpy (vectorised)", n / t))
    t = best(
        lambda: fill_blocks_nb(np.uint64(7), np.uint64(0), np.uint64(0), np.uint64(0), o0, o1),
        args.repeats,
    )
    rows.append(("engine numba kernel (1 core)", n / t))
    t = best(lambda: gen.random_raw(n), args.repeats)
    rows.append(("numpy Generator(Philox) C, reference", n / t))
    ref = rows[-1][1]

    u = uniform01(o0[: 1 << 20])
    for mu in (0.5, 20.0, 1e3):
        t = best(lambda mu=mu: poisson_inv(u, mu), max(1, args.repeats // 2))
        rows.append((f"Poisson inversion μ={mu:g} (draws/s)", u.shape[0] / t))

    table = Table(title=f"RNG throughput — {n:,} words, best of {args.repeats}")
    table.add_column("implementation")
    table.add_column("u64/s", justify="right")
    table.add_column("× numpy C Philox", justify="right")
    for name, rate in rows:
        ratio = f"{rate / ref:.2f}" if "Poisson" not in name else "-"
        table.add_row(name, f"{rate:,.3g}", ratio)
    Console().print(table)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"numpy {np.__version__}"
    )
    goal = 5e8
    numba_rate = rows[1][1]
    print(
        f"numba goal ≥ {goal:.0e} u64/s/core: {'met' if numba_rate >= goal else 'NOT met'} "
        f"({numba_rate / goal:.2f} of goal)"
    )


if __name__ == "__main__":
    main()
