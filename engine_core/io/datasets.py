"""Dataset paths, writers and readers — always through the dictionary (ARCHITECTURE §5)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from engine_core.contracts.dictionary import DatasetSpec, Dictionary
from engine_core.errors import EngineError
from engine_core.identity import engine_version
from engine_core.io.parquet import kv_metadata, write_parquet
from engine_core.io.publish import (
    partition_files,
    publish_bytes,
    publish_dir,
    staging_path,
)
from engine_core.io.verify import write_record

HIVE_TYPES = {"seed": "UInt64", "manifest_fingerprint": "String", "scenario_id": "String"}


@dataclass(frozen=True)
class PartitionKeys:
    """The identity of one partition. ``ph`` is carried in metadata, never in paths."""

    mf: str
    ph: str
    seed: int | None = None
    scenario_id: str | None = None

    def template_values(self) -> dict[str, object]:
        return {
            "manifest_fingerprint": self.mf,
            "parameter_hash": self.ph,
            "seed": self.seed,
            "scenario_id": self.scenario_id,
        }


def partition_keys_of(
    spec: DatasetSpec, *, mf: str, ph: str, seed: int | None = None, scenario_id=None
) -> PartitionKeys:
    """The keys of ``spec``'s partition in a run: only the run fields the dataset is
    partitioned by (SF datasets drop the seed, scenario-free ones the scenario)."""
    pk = spec.partition_keys
    return PartitionKeys(
        mf=mf,
        ph=ph,
        seed=seed if "seed" in pk else None,
        scenario_id=scenario_id if "scenario_id" in pk else None,
    )


@dataclass
class PublishResult:
    dataset_id: str
    path: Path
    status: str  # "published" | "reused"
    rows: int = 0
    files: list[tuple[str, str]] = field(default_factory=list)  # (relpath to data_root, sha256)


def resolve(dictionary: Dictionary, dataset_id: str, data_root: Path, keys: PartitionKeys) -> Path:
    """Final path of a dataset partition (a directory for directory datasets)."""
    spec = dictionary.dataset(dataset_id)
    values = keys.template_values()
    need = [k for k in spec.partition_keys if values.get(k) is None]
    if need:
        raise EngineError(
            "USAGE", spec.state, f"dataset {dataset_id} needs partition key(s) {need}"
        )
    return Path(data_root) / spec.path.format(**{k: v for k, v in values.items() if v is not None})


def _meta(dictionary: Dictionary, spec: DatasetSpec, keys: PartitionKeys, part: int) -> dict:
    pk = spec.partition_keys
    return kv_metadata(
        spec.id,
        mf=keys.mf,
        ph=keys.ph,
        seed=keys.seed if "seed" in pk else None,
        scenario_id=keys.scenario_id if "scenario_id" in pk else None,
        part_index=part,
        spec_version=dictionary.spec_version,
        engine_version=engine_version(),
    )


def _result(spec, final: Path, data_root: Path, status: str, rows: int) -> PublishResult:
    files = partition_files(data_root, final)
    write_record(data_root, final, files)  # what readers verify the partition against
    return PublishResult(spec.id, final, status, rows, files)


def write_parquet_dataset(
    dictionary: Dictionary,
    dataset_id: str,
    data_root: Path,
    keys: PartitionKeys,
    parts: Iterable[pa.Table],
    *,
    state: str,
    extra_metadata: dict[str, str] | None = None,
) -> PublishResult:
    """Write ``parts`` (already in writer order) as ``part-NNNNN.parquet`` and publish the
    partition directory as a whole. Memory is one part at a time."""
    spec = dictionary.dataset(dataset_id)
    if spec.format != "parquet":
        raise EngineError("USAGE", state, f"{dataset_id} is not a parquet dataset")
    schema = dictionary.arrow_schema_of(spec)
    final = resolve(dictionary, dataset_id, data_root, keys)
    staged = staging_path(data_root, dataset_id)
    staged.mkdir()
    rows = 0
    n = 0
    for n, table in enumerate(parts):  # noqa: B007 - n used after the loop
        rows += write_parquet(
            table,
            staged / f"part-{n:05d}.parquet",
            schema=schema,
            metadata={**_meta(dictionary, spec, keys, n), **(extra_metadata or {})},
            where=f"{dataset_id} part {n}",
            state=state,
        )
    if not any(staged.iterdir()):  # an empty partition is one zero-row file
        write_parquet(
            schema.empty_table(),
            staged / "part-00000.parquet",
            schema=schema,
            metadata=_meta(dictionary, spec, keys, 0),
            where=f"{dataset_id} part 0",
            state=state,
        )
    status = publish_dir(staged, final, state=state)
    return _result(spec, final, data_root, status, rows)


def publish_staged_dir(
    dictionary: Dictionary,
    dataset_id: str,
    staged: Path,
    final: Path,
    data_root: Path,
    *,
    state: str,
    rows: int,
) -> PublishResult:
    """Publish a partition a state staged itself (custom layouts, e.g. the tz cache)."""
    status = publish_dir(staged, final, state=state)
    return _result(dictionary.dataset(dataset_id), final, data_root, status, rows)


def publish_blob(
    dictionary: Dictionary,
    dataset_id: str,
    data: bytes,
    final: Path,
    data_root: Path,
    *,
    state: str,
    rows: int,
) -> PublishResult:
    """Publish a single-file dataset of raw bytes (alias blobs, canonical JSON contracts)."""
    status = publish_bytes(data, final, data_root, state=state)
    return _result(dictionary.dataset(dataset_id), final, data_root, status, rows)


def json_bytes(doc) -> bytes:
    """Stable, human-readable JSON for documents (sorted keys, no NaN, trailing newline)."""
    return (
        json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    ).encode("utf-8")


def write_json_dataset(
    dictionary: Dictionary,
    dataset_id: str,
    data_root: Path,
    keys: PartitionKeys,
    doc,
    *,
    state: str,
) -> PublishResult:
    """Validate ``doc`` against the dataset's schema and publish it as one file."""
    spec = dictionary.dataset(dataset_id)
    final = resolve(dictionary, dataset_id, data_root, keys)
    dictionary.schemas.validate(
        doc, spec.schema_ref, file=f"{dataset_id} ({final})", code="SCHEMA_VIOLATION", state=state
    )
    status = publish_bytes(json_bytes(doc), final, data_root, state=state)
    return _result(spec, final, data_root, status, 1)


def scan_dataset(dictionary: Dictionary, dataset_id: str, data_root: Path):
    """A polars LazyFrame over every partition of a parquet dataset, hive keys typed
    explicitly (``seed`` as UInt64 — never inferred as Int64)."""
    import polars as pl

    spec = dictionary.dataset(dataset_id)
    base = spec.path.split("{")[0].rsplit("/", 1)[0]  # directory above the first hive key
    pk = spec.partition_keys
    hive = {k: getattr(pl, HIVE_TYPES[k]) for k in pk}
    schema = pl.Schema(pl.from_arrow(dictionary.arrow_schema_of(spec).empty_table()).schema)
    return pl.scan_parquet(
        str(Path(data_root) / base) + "/**/*.parquet",
        hive_partitioning=bool(pk),
        hive_schema=hive or None,
        schema=schema,
    )


class StagedDataset:
    """A parquet partition written part by part (possibly from worker threads, each writing
    its own ``part-NNNNN.parquet``) and published as a whole at the end (A§5)."""

    def __init__(
        self,
        ctx,
        dataset_id: str,
        *,
        state: str,
        column_encoding=None,
        keys: PartitionKeys | None = None,
    ):
        """``keys`` default to the run's (``ctx.mf``, ``ctx.ph``, ``ctx.seed``,
        ``ctx.scenario_id``) restricted to the dataset's partition keys."""
        self.ctx, self.dataset_id, self.state = ctx, dataset_id, state
        self.spec = ctx.dictionary.dataset(dataset_id)
        self.schema = ctx.dictionary.arrow_schema_of(self.spec)
        if keys is None:
            keys = partition_keys_of(
                self.spec, mf=ctx.mf, ph=ctx.ph, seed=ctx.seed, scenario_id=ctx.scenario_id
            )
        self.keys = keys
        self.final = resolve(ctx.dictionary, dataset_id, ctx.data_root, self.keys)
        self.staged = staging_path(ctx.data_root, dataset_id)
        self.staged.mkdir()
        self.encoding = column_encoding
        self.rows = 0

    def write(self, part: int, table: pa.Table) -> int:
        n = write_parquet(
            table,
            self.staged / f"part-{part:05d}.parquet",
            schema=self.schema,
            metadata=_meta(self.ctx.dictionary, self.spec, self.keys, part),
            where=f"{self.dataset_id} part {part}",
            state=self.state,
            column_encoding=self.encoding,
        )
        return n

    def publish(self, rows: int) -> PublishResult:
        if not any(self.staged.iterdir()):
            self.write(0, self.schema.empty_table())
        status = publish_dir(self.staged, self.final, state=self.state)
        return _result(self.spec, self.final, self.ctx.data_root, status, rows)
