"""The asset graph, discovered from the engine registry: one multi-asset per declared state
(an asset per output dataset, deps from its declaration), the policies and reference data as
observable sources, and the hooks of the few exceptions (the 5B T10 stability panel)."""

from __future__ import annotations

from functools import cache

from dagster_project.assets.factory import state_asset
from dagster_project.assets.panel import panel_assets
from dagster_project.assets.sources import source_assets, source_keys
from engine_core.checks import INTEGRITY
from engine_core.registry import Registry, registry


@cache
def _state_assets(reg: Registry) -> tuple:
    out = []
    for spec in reg.states:
        seg = reg.segments.get(spec.segment)
        # the manifest record hangs off the policy/refdata sources (its identity)
        extra = source_keys() if spec.segment == "ENGINE" else ()
        report = bool(seg and seg.report_gates)
        checks = (
            [c for c in reg.checks(seg.id) if c.kind == INTEGRITY and c.dataset in spec.outputs]
            if report
            else []
        )
        out.append(
            state_asset(
                spec,
                extra,
                eager=bool(seg and seg.eager),
                gate_condition=seg.gate_condition if seg and spec.state == "S0" else "",
                dictionary=reg.dictionary,
                checks=checks,
                report_gates=report,
            )
        )
    return tuple(out)


def materializable_assets(reg: Registry | None = None) -> list:
    """Every (seed, world)-partitioned asset (what ``world_job`` materialises), one
    multi-asset per state of ``reg`` (default: the discovered segments)."""
    return list(_state_assets(reg or registry()))


def all_assets() -> list:
    return [*source_assets(), *materializable_assets(), *panel_assets]
