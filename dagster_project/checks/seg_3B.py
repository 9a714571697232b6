"""Segment 3B asset checks (the same functions the 3B validation bundle runs)."""

from dagster_project.checks.factory import segment_checks
from engine_core.registry import segment_checks as engine_checks

checks = segment_checks(engine_checks("3B"))
