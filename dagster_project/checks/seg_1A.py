"""Segment 1A asset checks (the same functions the 1A.S5 bundle runs)."""

from dagster_project.checks.factory import segment_checks
from engine_core.segments.seg_1A.checks import CHECKS

checks = segment_checks(CHECKS)
