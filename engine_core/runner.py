"""Run the registered states of a world in dependency order — the CLI's engine."""

from __future__ import annotations

import time
from pathlib import Path

from engine_core.context import (
    RunContext,
    StateResult,
    bind_state,
    default_max_rows,
    default_workers,
)
from engine_core.errors import EngineError
from engine_core.manifest import build_manifest
from engine_core.registry import Registry, registry
from engine_core.statespec import StateSpec


def run_world(
    *,
    profile: str,
    seed: int,
    data_root: Path,
    until: str | None = None,
    scenario: str | None = None,
    workers: int | None = None,
    max_rows_in_memory: int | None = None,
    progress: bool = False,
    only: bool = False,
    reg: Registry | None = None,
) -> list[dict]:
    """Run states; returns one row per executed state: state, scenario, rows, seconds.
    ``reg``: another registry (e.g. with a test fixture's segments); default the packaged
    contracts and the discovered segments."""
    reg = reg or registry()
    dictionary = reg.dictionary
    manifest = build_manifest(profile, dictionary)
    if scenario is not None and scenario not in manifest.scenarios:
        raise EngineError(
            "USAGE", detail=f"--scenario {scenario}: not in {', '.join(manifest.scenarios)}"
        )
    scenarios = [scenario] if scenario else list(manifest.scenarios)
    states = reg.select_until(until)
    if only:  # just the named state (its inputs must already be published)
        states = [s for s in states if s.state_id == until]
        if not states:
            raise EngineError("USAGE", detail=f"--only needs --until SEG.STATE, got {until}")
    bar = _progress() if progress else None
    rows = []
    done: set[str] = set()
    for scen in scenarios:
        for spec in states:
            if not spec.scenario_scoped and spec.state_id in done:
                continue  # scenario-free: computed once, reused by every scenario
            ctx = RunContext(
                data_root=Path(data_root),
                dictionary=dictionary,
                manifest=manifest,
                seed=seed,
                scenario_id=scen if spec.scenario_scoped else None,
                workers=workers or default_workers(),
                max_rows_in_memory=max_rows_in_memory or default_max_rows(profile),
                progress=bar,
            )
            t0 = time.perf_counter()
            res = execute(ctx, spec)
            rows.append(
                {
                    "state": spec.state_id,
                    "scenario": ctx.scenario_id or "-",
                    "rows": res.rows,
                    "seconds": time.perf_counter() - t0,
                    "peak_rss_mib": _peak_rss_mib(),
                    "status": ",".join(sorted({o.status for o in res.outputs})) or "-",
                }
            )
            done.add(spec.state_id)
    return rows


def execute(ctx: RunContext, spec: StateSpec) -> StateResult:
    """Run one state bound to its declaration (reads outside it are refused); an error
    raised without a state is attributed to this one."""
    try:
        return spec.func(bind_state(ctx, spec))
    except EngineError as e:
        raise e if e.state != "ENGINE" else e.with_state(spec.state_id) from None


def run_state(ctx: RunContext, state_id: str) -> StateResult:
    """Run the registered state ``state_id`` in ``ctx`` (its inputs must be published)."""
    return execute(ctx, registry(ctx.dictionary).state(state_id))


def _peak_rss_mib() -> float:
    """Process peak RSS so far (a profile aid for the run table; never enters data)."""
    import resource
    import sys

    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024 if sys.platform != "darwin" else kib / 2**20


def _progress():
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task) -> Text:
            return Text(f"{task.speed:,.0f}/s" if task.speed else "", style="progress.data.speed")

    bars: dict[str, int] = {}
    prog = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=True,
    )
    prog.start()

    def update(state: str, done: int, total: int) -> None:
        if state not in bars:
            bars[state] = prog.add_task(state, total=total)
        prog.update(bars[state], completed=done, total=total)
        if done >= total:
            prog.remove_task(bars.pop(state))

    return update
