"""The RNG accounting check every RNG-bearing segment's validation runs: the published trace
totals per family equal the (events, draws, blocks) recomputed from the outputs."""

from __future__ import annotations

from engine_core.checks import Outcome
from engine_core.context import RunContext
from engine_core.segments.common import read_table


def rng_accounting(
    ctx: RunContext,
    trace_ds: str,
    expected: dict[str, tuple[int, int, int]],
    *,
    state: str = "1A.VAL",
) -> Outcome:
    """Trace totals per family == (events, draws, blocks) recomputed from the outputs.
    ``state`` is the state a failed read names (1A.VAL, as before the check was shared)."""
    trace = read_table(ctx, trace_ds, None, state=state).to_pylist()
    got: dict[str, list[int]] = {}
    for r in trace:
        g = got.setdefault(r["family_id"], [0, 0, 0])
        g[0] += r["events"]
        g[1] += r["draws"]
        g[2] += r["blocks"]
    want = {f: list(v) for f, v in expected.items() if v[0] > 0}
    return Outcome(got == want, got, want)
