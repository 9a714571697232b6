"""Table schemas (JSON Schema objects with ``x-arrow`` column types) → explicit pyarrow schemas.

Column order is the order of ``properties``; a column is nullable only with ``x-nullable:
true``. The ``x-arrow`` of a column is its own or, following ``$ref``, that of the shared def.
"""

from __future__ import annotations

import json
from urllib.parse import urljoin

import pyarrow as pa

from engine_core.contracts.schemas import BASE_URI, SchemaRegistry
from engine_core.errors import EngineError

ENUM_KEY = b"fwe.enum"  # allowed values of an enum column, checked on write

_SIMPLE = {
    "uint64": pa.uint64(),
    "uint32": pa.uint32(),
    "uint16": pa.uint16(),
    "uint8": pa.uint8(),
    "int64": pa.int64(),
    "int32": pa.int32(),
    "int16": pa.int16(),
    "int8": pa.int8(),
    "float64": pa.float64(),
    "float32": pa.float32(),
    "bool": pa.bool_(),
    "string": pa.string(),
    "large_string": pa.large_string(),
    "binary": pa.binary(),
    "date32": pa.date32(),
    "timestamp[us,UTC]": pa.timestamp("us", tz="UTC"),
    "timestamp[us]": pa.timestamp("us"),
    "dictionary<int32,string>": pa.dictionary(pa.int32(), pa.string()),
    "list<string>": pa.list_(pa.string()),
}


def arrow_type(name: str, where: str) -> pa.DataType:
    t = _SIMPLE.get(name.replace(" ", ""))
    if t is None:
        raise EngineError("CONTRACT_INVALID", detail=f"{where}: unknown x-arrow type {name!r}")
    return t


def _column_type(reg: SchemaRegistry, prop: dict, uri: str, where: str) -> pa.DataType:
    for _ in range(16):  # follow $ref chains to the def that names the arrow type
        if "x-arrow" in prop:
            return arrow_type(prop["x-arrow"], where)
        if "enum" in prop and "$ref" not in prop:  # enums are plain strings (layer1 §0.3)
            return pa.string()
        if "$ref" not in prop:
            break
        uri = urljoin(uri, prop["$ref"])
        prop = reg.resolve(uri)
    raise EngineError("CONTRACT_INVALID", detail=f"{where}: column has no x-arrow type")


def arrow_schema(reg: SchemaRegistry, ref: str) -> pa.Schema:
    """pyarrow schema of the table schema at ``ref`` (e.g. ``rng.yaml#/$defs/rng_trace_log``)."""
    table = reg.resolve(ref)
    props = table.get("properties")
    if table.get("type") != "object" or not isinstance(props, dict):
        raise EngineError("CONTRACT_INVALID", detail=f"{ref}: not a table schema")
    fields = []
    for name, prop in props.items():
        typ = _column_type(reg, prop, BASE_URI + ref, f"{ref}/properties/{name}")
        meta = {ENUM_KEY: json.dumps(prop["enum"])} if "enum" in prop else None
        fields.append(
            pa.field(name, typ, nullable=bool(prop.get("x-nullable", False)), metadata=meta)
        )
    return pa.schema(fields)


__all__ = ["BASE_URI", "arrow_schema", "arrow_type"]
