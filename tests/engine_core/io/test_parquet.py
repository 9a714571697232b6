"""Parquet writing: explicit schema, uint64 above 2^63, metadata, determinism, typed errors."""

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from engine_core.contracts import Dictionary
from engine_core.errors import EngineError
from engine_core.io import PartitionKeys, scan_dataset, write_parquet_dataset
from engine_core.io.datasets import resolve
from engine_core.paths import project_root
from tests.engine_core.contracts.test_contracts import copy_project

MF, PH = "a1" * 32, "b2" * 32


@pytest.fixture
def dictionary(tmp_path):
    proj = copy_project(tmp_path)
    p = proj / "contracts/dataset_dictionary.yaml"
    doc = yaml.safe_load(p.read_text())
    doc["datasets"].append(
        {
            "id": "demo_sites",
            "owner": {"segment": "1A", "state": "S9"},
            "path": "layer1/1A/demo_sites/seed={seed}/manifest_fingerprint={manifest_fingerprint}/",
            "format": "parquet",
            "schema_ref": "demo.yaml#/$defs/demo_sites",
            "primary_key": ["site_id"],
            "sort_order": ["site_id"],
        }
    )
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    (proj / "contracts/schemas/demo.yaml").write_text(
        yaml.safe_dump(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": "https://fwe.invalid/schemas/demo.yaml",
                "$defs": {
                    "demo_sites": {
                        "type": "object",
                        "properties": {
                            "site_id": {"$ref": "defs.yaml#/$defs/id64"},
                            "lat_deg": {"$ref": "defs.yaml#/$defs/float64"},
                            "seen_utc": {"$ref": "defs.yaml#/$defs/utc_instant"},
                        },
                    }
                },
            },
            sort_keys=False,
        )
    )
    return Dictionary(proj / "contracts")


def parts(n_parts=2):
    for p in range(n_parts):
        ids = np.array([2**64 - 1 - p, 2**63 + p, 1 + p], dtype=np.uint64)
        yield pa.table(
            {
                "site_id": ids,
                "lat_deg": [1.5, -2.0, 0.0],
                "seen_utc": pa.array([0, 10**15, 2 * 10**15], pa.timestamp("us", tz="UTC")),
            }
        )


def test_uint64_above_2_63_round_trips_and_metadata_is_written(tmp_path, dictionary):
    keys = PartitionKeys(MF, PH, seed=42)
    res = write_parquet_dataset(dictionary, "demo_sites", tmp_path, keys, parts(), state="1A.S9")
    assert res.status == "published" and res.rows == 6 and len(res.files) == 2
    df = scan_dataset(dictionary, "demo_sites", tmp_path).collect()
    assert df.schema["site_id"] == pl.UInt64 and df.schema["seed"] == pl.UInt64
    assert df["site_id"].max() == 2**64 - 1 and (df["site_id"] >= 2**63).sum() == 4
    assert df["manifest_fingerprint"].unique().to_list() == [MF]
    f = pq.ParquetFile(res.path / "part-00001.parquet")
    meta = {
        k.decode(): v.decode() for k, v in f.schema_arrow.metadata.items() if k.startswith(b"fwe.")
    }
    assert meta["fwe.seed"] == "42" and meta["fwe.part_index"] == "1"
    assert meta["fwe.manifest_fingerprint"] == MF and meta["fwe.parameter_hash"] == PH
    assert "fwe.scenario_id" not in meta
    assert f.metadata.row_group(0).column(0).compression == "ZSTD"
    assert "seed" not in f.schema_arrow.names  # identity lives in path + metadata only


def test_rewrite_is_byte_identical_and_reused(tmp_path, dictionary):
    keys = PartitionKeys(MF, PH, seed=1)
    a = write_parquet_dataset(dictionary, "demo_sites", tmp_path / "a", keys, parts(), state="x")
    b = write_parquet_dataset(dictionary, "demo_sites", tmp_path / "b", keys, parts(), state="x")
    assert [s for _, s in a.files] == [s for _, s in b.files]
    again = write_parquet_dataset(
        dictionary, "demo_sites", tmp_path / "a", keys, parts(), state="x"
    )
    assert again.status == "reused"


def test_empty_partition_is_one_zero_row_file(tmp_path, dictionary):
    res = write_parquet_dataset(
        dictionary, "demo_sites", tmp_path, PartitionKeys(MF, PH, seed=3), iter(()), state="x"
    )
    t = pq.read_table(res.path / "part-00000.parquet")
    assert t.num_rows == 0 and t.schema.field("site_id").type == pa.uint64()


@pytest.mark.parametrize(
    ("table", "why"),
    [
        (
            pa.table(
                {
                    "site_id": [1],
                    "lat_deg": [float("nan")],
                    "seen_utc": pa.array([0], pa.timestamp("us", tz="UTC")),
                }
            ),
            "NaN/Inf",
        ),
        (
            pa.table(
                {
                    "site_id": pa.array([None], pa.uint64()),
                    "lat_deg": [1.0],
                    "seen_utc": pa.array([0], pa.timestamp("us", tz="UTC")),
                }
            ),
            "has nulls",
        ),
        (
            pa.table(
                {
                    "site_id": [-1],
                    "lat_deg": [1.0],
                    "seen_utc": pa.array([0], pa.timestamp("us", tz="UTC")),
                }
            ),
            "site_id|overflow|negative",
        ),
        (pa.table({"lat_deg": [1.0]}), "columns"),
    ],
)
def test_bad_tables_are_schema_violations_and_publish_nothing(tmp_path, dictionary, table, why):
    keys = PartitionKeys(MF, PH, seed=5)
    with pytest.raises(EngineError) as e:
        write_parquet_dataset(dictionary, "demo_sites", tmp_path, keys, [table], state="1A.S9")
    assert e.value.full_code == "1A.S9.SCHEMA_VIOLATION"
    import re

    assert re.search(why, e.value.message, re.I)
    assert not resolve(dictionary, "demo_sites", tmp_path, keys).exists()


def test_resolve_requires_partition_keys(dictionary, tmp_path):
    with pytest.raises(EngineError, match=r"needs partition key\(s\) \['seed'\]"):
        resolve(dictionary, "demo_sites", tmp_path, PartitionKeys(MF, PH))


def test_project_root_has_contracts():
    assert (project_root() / "contracts/dataset_dictionary.yaml").is_file()
