"""Typed engine errors (ARCHITECTURE §9).

Every failure is an ``EngineError`` with a stable code ``<SEG>.<STATE>.<CODE>`` and a
one-line human message naming the file / field / partition involved. The CLI turns it
into that one line and a non-zero exit; Dagster surfaces the same line.
"""

from __future__ import annotations

# Stable codes shared by every segment (layer1 §0.8); states add their own.
SHARED_CODES = frozenset(
    {
        "SEALED_INPUT_MISSING",
        "UPSTREAM_GATE_FAILED",
        "SEALED_DIGEST_MISMATCH",
        "READ_SCOPE_VIOLATION",
        "POLICY_INVALID",
        "REFDATA_INVALID",
        "SCHEMA_VIOLATION",
        "CHECK_FAILED",
        "VALIDATION_FAILED",
        "RNG_COUNTER_WRAP",
        "RNG_ACCOUNTING_MISMATCH",
        "ID_COLLISION_UNRESOLVED",
        "IO_WRITE_CONFLICT",
        "HASHGATE_FAILED",
        "CONTRACT_INVALID",
        "USAGE",
    }
)

ENGINE_STATE = "ENGINE"


class EngineError(Exception):
    """A failure with a stable code; ``str(err)`` is the one-line user message."""

    def __init__(self, code: str, state: str = ENGINE_STATE, detail: str = "") -> None:
        self.code = code
        self.state = state
        # One line, always: details naming files must not smuggle tracebacks in.
        self.detail = " ".join(str(detail).split())
        super().__init__(self.message)

    @property
    def full_code(self) -> str:
        return f"{self.state}.{self.code}"

    @property
    def message(self) -> str:
        return f"{self.full_code}: {self.detail}" if self.detail else self.full_code

    def with_state(self, state: str) -> EngineError:
        """The same failure attributed to a calling state (keeps the code)."""
        return EngineError(self.code, state, self.detail)

    def __reduce__(self):  # picklable across process pools
        return (EngineError, (self.code, self.state, self.detail))
