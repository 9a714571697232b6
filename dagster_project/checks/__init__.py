"""Asset checks, discovered from the registry: every segment's checks sit on the dataset
they measure (integrity blocking ERROR, realism gates ERROR or advisory WARN). A segment
marked ``checks_in_one_pass`` (5B: one full memoised measurement pass) gets one op for all
of its checks; a layer-3 segment (``report_gates``) one op for its realism gates, read from
its validation report (its integrity checks are check specs of the state assets); the
others one op per check. Plus the manifest-record check."""

from __future__ import annotations

from functools import cache

from dagster_project.checks.engine import manifest_checks
from dagster_project.checks.factory import engine_check, one_pass_checks
from dagster_project.checks.layer3 import realism_checks
from engine_core.checks import INTEGRITY
from engine_core.registry import Registry, registry


@cache
def _checks(reg: Registry) -> tuple:
    out = list(manifest_checks)
    for seg in reg.segments.values():
        checks = reg.checks(seg.id)
        if seg.report_gates:  # integrity checks live on the state multi-assets
            realism = [c for c in checks if c.kind != INTEGRITY]
            out.append(realism_checks(seg.id, realism, reg.dictionary))
        elif seg.checks_in_one_pass:
            data_states = [s for s in reg.segment_states(seg.id) if not s.validation]
            out.append(one_pass_checks(seg.id, checks, data_states[-1].outputs, reg.dictionary))
        else:
            out += [engine_check(c, reg.dictionary) for c in checks]
    return tuple(out)


def all_checks(reg: Registry | None = None) -> list:
    return list(_checks(reg or registry()))
