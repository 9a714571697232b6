"""The dataset dictionary (ARCHITECTURE §5): the only source of dataset paths and schemas."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pyarrow as pa

from engine_core.contracts.arrow import arrow_schema
from engine_core.contracts.schemas import SchemaRegistry, load_yaml
from engine_core.errors import EngineError
from engine_core.identity import file_sha256, listing_digest

PARTITION_KEYS = ("seed", "manifest_fingerprint", "scenario_id")
_PLACEHOLDERS = {"seed", "manifest_fingerprint", "scenario_id", "parameter_hash"}


@dataclass(frozen=True)
class DatasetSpec:
    id: str
    segment: str
    state: str
    path: str
    format: str
    schema_ref: str
    primary_key: tuple[str, ...]
    sort_order: tuple[str, ...]
    rows_per_part: int | None = None
    description: str = ""

    @property
    def is_directory(self) -> bool:
        return self.path.endswith("/")

    @property
    def partition_keys(self) -> tuple[str, ...]:
        names = {f for _, f, _, _ in string.Formatter().parse(self.path) if f}
        return tuple(k for k in PARTITION_KEYS if k in names)


@dataclass(frozen=True)
class PolicySpec:
    logical_name: str
    path: str
    schema_ref: str


class Dictionary:
    """Loaded and schema-validated ``contracts/dataset_dictionary.yaml`` plus its schemas."""

    def __init__(self, contracts_root: Path) -> None:
        self.root = Path(contracts_root)
        self.schemas = SchemaRegistry(self.root / "schemas")
        rel = "contracts/dataset_dictionary.yaml"
        doc = load_yaml(self.root / "dataset_dictionary.yaml", code="CONTRACT_INVALID", rel=rel)
        self.schemas.validate(
            doc, "dataset_dictionary.schema.yaml", file=rel, code="CONTRACT_INVALID"
        )
        self.spec_version: str = doc["spec_version"]
        self.datasets: dict[str, DatasetSpec] = {}
        for i, d in enumerate(doc["datasets"]):
            spec = DatasetSpec(
                id=d["id"],
                segment=d["owner"]["segment"],
                state=d["owner"]["state"],
                path=d["path"],
                format=d["format"],
                schema_ref=d["schema_ref"],
                primary_key=tuple(d["primary_key"]),
                sort_order=tuple(d["sort_order"]),
                rows_per_part=d.get("rows_per_part"),
                description=d.get("description", ""),
            )
            self._check_dataset(spec, f"{rel}: /datasets/{i}")
            if spec.id in self.datasets:
                raise EngineError("CONTRACT_INVALID", detail=f"{rel}: duplicate dataset {spec.id}")
            self.datasets[spec.id] = spec
        self.policies: dict[str, PolicySpec] = {}
        for p in doc["policies"]:
            spec = PolicySpec(p["logical_name"], p["path"], p["schema_ref"])
            if spec.logical_name in self.policies:
                raise EngineError(
                    "CONTRACT_INVALID", detail=f"{rel}: duplicate policy {spec.logical_name}"
                )
            self.policies[spec.logical_name] = spec

    def _check_dataset(self, spec: DatasetSpec, where: str) -> None:
        names = [f for _, f, _, _ in string.Formatter().parse(spec.path) if f]
        bad = sorted(set(names) - _PLACEHOLDERS)
        if bad:
            raise EngineError("CONTRACT_INVALID", detail=f"{where}/path: unknown placeholder {bad}")
        # hive keys appear in canonical order as key={key}
        keys = re.findall(r"(\w+)=\{(\w+)\}", spec.path)
        if any(k != v for k, v in keys) or [k for k, _ in keys] != list(spec.partition_keys):
            if keys:
                raise EngineError(
                    "CONTRACT_INVALID",
                    detail=f"{where}/path: partition keys must be key={{key}} in order "
                    f"{PARTITION_KEYS}",
                )
        if spec.format == "parquet":
            if not spec.is_directory:
                raise EngineError(
                    "CONTRACT_INVALID", detail=f"{where}/path: parquet datasets are directories"
                )
            cols = set(self.arrow_schema_of(spec).names)
            missing = [c for c in (*spec.primary_key, *spec.sort_order) if c not in cols]
            if missing:
                raise EngineError(
                    "CONTRACT_INVALID", detail=f"{where}: key columns {missing} not in schema"
                )
        else:
            self.schemas.resolve(spec.schema_ref)  # the ref must resolve

    def dataset(self, dataset_id: str) -> DatasetSpec:
        try:
            return self.datasets[dataset_id]
        except KeyError:
            raise EngineError(
                "CONTRACT_INVALID", detail=f"dataset {dataset_id!r} is not in the dictionary"
            ) from None

    def policy(self, logical_name: str) -> PolicySpec:
        try:
            return self.policies[logical_name]
        except KeyError:
            raise EngineError(
                "CONTRACT_INVALID", detail=f"policy {logical_name!r} is not in the dictionary"
            ) from None

    def arrow_schema_of_ref(self, ref: str) -> pa.Schema:
        return arrow_schema(self.schemas, ref)

    def arrow_schema_of(self, spec: DatasetSpec | str) -> pa.Schema:
        spec = self.dataset(spec) if isinstance(spec, str) else spec
        return arrow_schema(self.schemas, spec.schema_ref)

    @cached_property
    def digest(self) -> str:
        """Contracts digest: listing digest over every file under ``contracts/``."""
        files = sorted(p for p in self.root.rglob("*") if p.is_file())
        return listing_digest((p.relative_to(self.root).as_posix(), file_sha256(p)) for p in files)


_CACHE: dict[Path, Dictionary] = {}


def load_dictionary(contracts_root: Path | None = None) -> Dictionary:
    """Load (once per process) the dictionary under ``contracts_root``."""
    from engine_core.paths import contracts_root as default_root

    root = Path(contracts_root or default_root()).resolve()
    if root not in _CACHE:
        _CACHE[root] = Dictionary(root)
    return _CACHE[root]
