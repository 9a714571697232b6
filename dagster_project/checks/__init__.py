"""Asset checks: validation-bundle integrity (blocking) and realism gates, per segment."""

from dagster_project.checks import seg_1A, seg_1B, seg_2A, seg_2B, seg_3A, seg_3B
from dagster_project.checks.engine import manifest_checks


def all_checks() -> list:
    return [
        *manifest_checks,
        *seg_1A.checks,
        *seg_1B.checks,
        *seg_2A.checks,
        *seg_2B.checks,
        *seg_3A.checks,
    ]
