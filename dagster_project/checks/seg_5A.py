"""Segment 5A asset checks A1–A14 on validation_bundle_5A (the functions 5A.S6 runs)."""

from dagster_project.checks.factory import segment_checks
from engine_core.registry import segment_checks as engine_checks

checks = segment_checks(engine_checks("5A"))
