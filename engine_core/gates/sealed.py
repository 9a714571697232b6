"""Sealed inputs and gate receipts (ARCHITECTURE §6): what a segment may read, by digest."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from engine_core.errors import EngineError
from engine_core.identity import canonical_json, sha256_hex

ROW_LEVEL = "ROW_LEVEL"
METADATA_ONLY = "METADATA_ONLY"


@dataclass(frozen=True)
class SealedInput:
    name: str
    kind: str  # policy | refdata | dataset | bundle
    path: str  # relative to the project root (policies) or data root (datasets)
    digest: str
    status: str = "REQUIRED"
    role: str = ""
    read_scope: str = ROW_LEVEL
    read_by: tuple[str, ...] = field(default_factory=tuple)

    def row(self) -> dict:
        d = asdict(self)
        d["read_by"] = list(self.read_by)
        return d


def sealed_inputs_digest(inputs: list[SealedInput]) -> str:
    """sha256 of the canonical JSON of the rows sorted by name (order-free, content-bound)."""
    return sha256_hex(canonical_json(sorted((i.row() for i in inputs), key=lambda r: r["name"])))


class SealedInputs:
    """A segment's sealed set; states ask it before reading anything."""

    def __init__(self, segment: str, inputs: list[SealedInput]) -> None:
        self.segment = segment
        names = [i.name for i in inputs]
        if len(set(names)) != len(names):
            raise EngineError("SEALED_DIGEST_MISMATCH", f"{segment}.S0", "duplicate sealed name")
        self.inputs = {i.name: i for i in sorted(inputs, key=lambda i: i.name)}
        self.digest = sealed_inputs_digest(inputs)

    def require(self, name: str, *, state: str, scope: str = ROW_LEVEL) -> SealedInput:
        """The sealed input ``name``; reading rows of a META input or anything unsealed is a
        ``READ_SCOPE_VIOLATION``."""
        item = self.inputs.get(name)
        if item is None:
            raise EngineError(
                "READ_SCOPE_VIOLATION", state, f"{name} is not sealed by {self.segment}.S0"
            )
        if scope == ROW_LEVEL and item.read_scope != ROW_LEVEL:
            raise EngineError(
                "READ_SCOPE_VIOLATION",
                state,
                f"{name} is sealed {item.read_scope}; rows not readable",
            )
        return item

    def document(self, *, mf: str, ph: str, seed: int | None) -> dict:
        doc = {
            "segment": self.segment,
            "manifest_fingerprint": mf,
            "parameter_hash": ph,
            "inputs": [i.row() for i in self.inputs.values()],
            "sealed_inputs_digest": self.digest,
        }
        if seed is not None:
            doc["seed"] = int(seed)
        return doc

    @classmethod
    def from_document(cls, doc: dict, *, state: str) -> SealedInputs:
        """Re-load a published ``sealed_inputs_<SEG>`` and re-verify its digest."""
        items = [
            SealedInput(**{**r, "read_by": tuple(r.get("read_by", ()))}) for r in doc["inputs"]
        ]
        sealed = cls(doc["segment"], items)
        if sealed.digest != doc["sealed_inputs_digest"]:
            raise EngineError(
                "SEALED_DIGEST_MISMATCH",
                state,
                f"sealed_inputs_{doc['segment']}: digest {doc['sealed_inputs_digest'][:16]}… "
                f"does not match its rows ({sealed.digest[:16]}…)",
            )
        return sealed


def gate_receipt(
    segment: str,
    *,
    mf: str,
    ph: str,
    seed: int | None,
    spec_version: str,
    upstream: list[tuple[str, str]],
    sealed: SealedInputs,
    extra: dict | None = None,
) -> dict:
    doc = {
        "segment": segment,
        "manifest_fingerprint": mf,
        "parameter_hash": ph,
        "spec_version": spec_version,
        "upstream": [{"segment": s, "bundle_digest_sha256": d} for s, d in sorted(upstream)],
        "sealed_inputs_digest": sealed.digest,
    }
    if seed is not None:
        doc["seed"] = int(seed)
    doc.update(extra or {})  # state-specific receipt fields (e.g. layer2 §3.1)
    return doc
