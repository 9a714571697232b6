"""Asset checks: validation-bundle integrity (blocking) and realism gates, per segment."""

from dagster_project.checks import seg_1A, seg_1B, seg_2A, seg_2B, seg_3A, seg_3B, seg_5A, seg_5B
from dagster_project.checks.engine import manifest_checks

SEGMENT_MODULES = (seg_1A, seg_1B, seg_2A, seg_2B, seg_3A, seg_3B, seg_5A, seg_5B)


def all_checks() -> list:
    return [*manifest_checks, *(c for m in SEGMENT_MODULES for c in m.checks)]
