"""Parquet writing with explicit schema, zstd, fixed row groups and KV metadata (A§5, L2§1.4)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine_core.contracts.arrow import ENUM_KEY
from engine_core.errors import EngineError

ROW_GROUP_ROWS = 1_048_576
ZSTD_LEVEL = 3


def conform(table: pa.Table, schema: pa.Schema, *, where: str, state: str) -> pa.Table:
    """Cast to the contract schema (same columns, safe casts), reject nulls in non-null
    columns and NaN/±Inf in every float column (layer1 §0.3)."""
    if table.schema.names != schema.names:
        raise EngineError(
            "SCHEMA_VIOLATION", state, f"{where}: columns {table.schema.names} != {schema.names}"
        )
    cols = []
    for field, col in zip(schema, table.columns, strict=True):
        try:  # column by column so the error names the column
            cols.append(col.cast(field.type, safe=True))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            msg = " ".join(str(e).split())
            raise EngineError(
                "SCHEMA_VIOLATION", state, f"{where}: column {field.name}: {msg}"
            ) from None
    table = pa.Table.from_arrays(cols, schema=schema.remove_metadata())
    for field, col in zip(schema, table.columns, strict=True):
        if not field.nullable and col.null_count:
            raise EngineError("SCHEMA_VIOLATION", state, f"{where}: column {field.name} has nulls")
        if field.metadata and ENUM_KEY in field.metadata and len(col):
            allowed = pa.array(json.loads(field.metadata[ENUM_KEY]), pa.string())
            if pa.types.is_dictionary(col.type):
                # every value is a dictionary entry: checking the dictionaries suffices
                col = pa.chunked_array([c.dictionary for c in col.chunks], col.type.value_type)
            bad = pc.filter(col, pc.invert(pc.is_in(col.cast(pa.string()), allowed)))
            if len(bad):
                raise EngineError(
                    "SCHEMA_VIOLATION",
                    state,
                    f"{where}: column {field.name}: {bad[0].as_py()!r} not in the enum "
                    f"{allowed.to_pylist()}",
                )
        if pa.types.is_floating(field.type) and len(col):
            finite = pc.all(pc.is_finite(col)).as_py()
            if finite is False:
                raise EngineError(
                    "SCHEMA_VIOLATION", state, f"{where}: column {field.name} has NaN/Inf"
                )
    return table.replace_schema_metadata(None)


def kv_metadata(
    dataset_id: str,
    *,
    mf: str | None,
    ph: str | None,
    seed: int | None,
    scenario_id: str | None,
    part_index: int,
    spec_version: str,
    engine_version: str,
) -> dict[str, str]:
    meta = {"fwe.dataset_id": dataset_id}
    if mf is not None:
        meta["fwe.manifest_fingerprint"] = mf
    if ph is not None:
        meta["fwe.parameter_hash"] = ph
    if seed is not None:
        meta["fwe.seed"] = str(int(seed))
    if scenario_id is not None:
        meta["fwe.scenario_id"] = scenario_id
    meta["fwe.spec_version"] = spec_version
    meta["fwe.engine_version"] = engine_version
    meta["fwe.part_index"] = str(int(part_index))
    return meta


def write_parquet(
    table: pa.Table,
    path: Path,
    *,
    schema: pa.Schema,
    metadata: Mapping[str, str],
    where: str,
    state: str = "ENGINE",
    column_encoding: Mapping[str, str] | None = None,
) -> int:
    """Write one part file. Returns its row count. Bytes depend only on data + metadata.
    ``column_encoding`` (e.g. ``DELTA_BINARY_PACKED`` for sorted integers and timestamps)
    turns dictionary encoding off for those columns only."""
    table = conform(table, schema, where=where, state=state)
    table = table.replace_schema_metadata(dict(metadata))
    enc = dict(column_encoding or {})
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=ZSTD_LEVEL,
        row_group_size=ROW_GROUP_ROWS,
        write_statistics=True,
        use_dictionary=[n for n in table.column_names if n not in enc] if enc else True,
        column_encoding=enc or None,
    )
    return table.num_rows
