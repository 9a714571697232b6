"""Gates: sealed inputs, gate receipts, validation bundles and HashGate (ARCHITECTURE §6)."""

from engine_core.gates.bundle import FLAG, INDEX, build_bundle, bundle_digest, verify_bundle
from engine_core.gates.sealed import (
    METADATA_ONLY,
    ROW_LEVEL,
    SealedInput,
    SealedInputs,
    gate_receipt,
    sealed_inputs_digest,
)

__all__ = [
    "FLAG",
    "INDEX",
    "METADATA_ONLY",
    "ROW_LEVEL",
    "SealedInput",
    "SealedInputs",
    "build_bundle",
    "bundle_digest",
    "gate_receipt",
    "sealed_inputs_digest",
    "verify_bundle",
]
