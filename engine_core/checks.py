"""Checks: pure functions of published files, run as Dagster asset checks and again by each
segment's validation state (layer1 §0.8). Thresholds are code constants, never policy."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from engine_core.context import RunContext
from engine_core.errors import EngineError

INTEGRITY = "integrity"
REALISM = "realism"
ADVISORY_PROFILES = frozenset({"tiny"})  # realism gates WARN there, ERROR elsewhere


@dataclass(frozen=True)
class Outcome:
    passed: bool
    measured: object
    threshold: object
    skipped: bool = False  # a gate without power where its rule says SKIPPED (not a pass)
    # passed but outside a WARN-severity band (6B-R12's realism tier, 6B-R13): reported as
    # WARN, never withholds the flag
    warn: bool = False


@dataclass(frozen=True)
class Check:
    check_id: str  # <SEG>.<STATE>.<name>
    kind: str  # integrity | realism
    dataset: str  # the dataset (asset) the check is attached to
    fn: Callable[[RunContext], Outcome]
    description: str = ""

    @property
    def name(self) -> str:
        return self.check_id.split(".", 2)[2]

    def enforced(self, ctx: RunContext) -> bool:
        return self.kind == INTEGRITY or ctx.manifest.profile_id not in ADVISORY_PROFILES

    def evaluate(self, ctx: RunContext) -> dict:
        """The report row. An error reading the data is a failed check, never a crash."""
        try:
            out = self.fn(ctx)
            passed, measured, threshold = out.passed, _clean(out.measured), _clean(out.threshold)
            skipped, warn = out.skipped, out.warn
        except EngineError as e:
            passed, measured, threshold, skipped, warn = False, e.message, None, False, False
        enforced = self.enforced(ctx)
        status = ("WARN" if warn else "PASS") if passed else ("FAIL" if enforced else "WARN")
        if skipped:
            status = "SKIPPED"
        return {
            "check_id": self.check_id,
            "kind": self.kind,
            "status": status,
            "measured": measured,
            "threshold": threshold,
            "enforced": enforced,
        }


def _clean(v):
    """JSON-safe, stable values for reports (floats rounded to 12 significant digits)."""
    if isinstance(v, float):
        return float(f"{v:.12g}") if math.isfinite(v) else str(v)
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if hasattr(v, "item"):  # numpy scalar
        return _clean(v.item())
    return v


def within(value: float, lo: float, hi: float) -> Outcome:
    return Outcome(lo <= value <= hi, value, [lo, hi])


def at_least(value: float, lo: float) -> Outcome:
    return Outcome(value >= lo, value, {"min": lo})


def equals(value, want) -> Outcome:
    return Outcome(value == want, value, want)


def from_raising(fn: Callable[[RunContext], object]) -> Callable[[RunContext], Outcome]:
    """An integrity function that raises ``EngineError`` on failure (the in-state form) as
    a check function: its return value is the measured detail, the threshold "exact"."""

    def run(ctx):
        try:
            detail = fn(ctx)
        except EngineError as e:
            return Outcome(False, e.message, "exact")
        return Outcome(True, detail, "exact")

    return run


def not_evaluated(value) -> Outcome:
    """A gate with no threshold in this profile ("—" in REALISM): reported, passes."""
    return Outcome(True, value, "not evaluated in this profile")
