"""Validation bundles and HashGate: any tampering fails verification naming the file."""

import json

import pyarrow as pa
import pytest

from engine_core.contracts import load_dictionary
from engine_core.errors import EngineError
from engine_core.gates import (
    FLAG,
    INDEX,
    METADATA_ONLY,
    SealedInput,
    SealedInputs,
    build_bundle,
    gate_receipt,
    verify_bundle,
)
from engine_core.io.datasets import PartitionKeys, write_json_dataset
from engine_core.io.parquet import write_parquet
from engine_core.io.publish import publish_dir, staging_path, tree_listing

MF = "0f" * 32
PH = "1e" * 32


def make_world(root):
    """One parquet dataset + one json document published, then a PASS bundle over them."""
    d = load_dictionary()
    ds = root / f"layer1/1A/demo/seed=42/manifest_fingerprint={MF}"
    staged = staging_path(root, "demo")
    staged.mkdir()
    schema = pa.schema([pa.field("merchant_id", pa.uint64(), nullable=False)])
    for p in range(2):
        write_parquet(
            pa.table({"merchant_id": pa.array([2**64 - 1 - p, 7 + p], pa.uint64())}),
            staged / f"part-{p:05d}.parquet",
            schema=schema,
            metadata={"fwe.part_index": str(p)},
            where="demo",
        )
    publish_dir(staged, ds)
    res = write_json_dataset(
        d, "manifest_record", root, PartitionKeys(MF, PH), _record(), state="T"
    )
    files = [((ds / r).relative_to(root).as_posix(), s) for r, s in tree_listing(ds)] + res.files
    bundle = root / f"layer1/1A/validation/seed=42/manifest_fingerprint={MF}"
    checks = [
        {
            "check_id": "1A.S4.pk_unique",
            "kind": "integrity",
            "status": "PASS",
            "measured": 0,
            "threshold": 0,
            "enforced": True,
        },
        {
            "check_id": "1A.S2.realism_x",
            "kind": "realism",
            "status": "WARN",
            "measured": 0.4,
            "threshold": [0.5, 1.0],
            "enforced": False,
        },
    ]
    status, digest, _ = build_bundle(
        d,
        segment="1A",
        bundle_dir=bundle,
        data_root=root,
        files=files,
        checks=checks,
        mf=MF,
        seed=42,
        state="1A.S5",
    )
    return bundle, ds, digest


def _record():
    return {
        "profile_id": "tiny",
        "parameter_hash": PH,
        "manifest_fingerprint": MF,
        "spec_version": "s",
        "engine_version": "e",
        "policies": [],
        "refdata": [],
        "contracts_digest": PH,
        "scenarios": ["baseline"],
        "worlds": [f"{MF[:16]}.baseline"],
    }


def test_pass_bundle_verifies_and_digest_is_the_index_law(tmp_path):
    bundle, _, digest = make_world(tmp_path)
    assert verify_bundle(bundle, tmp_path) == digest
    index = json.loads((bundle / INDEX).read_bytes())
    paths = [e["path"] for e in index["files"]]
    assert paths == sorted(paths) and len(paths) == 4  # 2 parts + record + report
    import hashlib

    assert (
        digest == hashlib.sha256("".join(e["sha256"] for e in index["files"]).encode()).hexdigest()
    )
    assert json.loads((bundle / FLAG).read_bytes()) == {"bundle_digest_sha256": digest}
    # report rows sorted by check id, no timestamps
    report = json.loads((bundle / "validation_report_1A.json").read_bytes())
    assert [c["check_id"] for c in report["checks"]] == ["1A.S2.realism_x", "1A.S4.pk_unique"]


def test_flipping_one_byte_fails_naming_the_file(tmp_path):
    bundle, ds, _ = make_world(tmp_path)
    part = ds / "part-00001.parquet"
    b = bytearray(part.read_bytes())
    b[len(b) // 2] ^= 0x01
    part.write_bytes(bytes(b))
    with pytest.raises(EngineError) as e:
        verify_bundle(bundle, tmp_path, state="1B.S0", code="UPSTREAM_GATE_FAILED")
    assert e.value.full_code == "1B.S0.UPSTREAM_GATE_FAILED"
    assert str(part) in e.value.message


def test_removing_a_file_fails_naming_it(tmp_path):
    bundle, ds, _ = make_world(tmp_path)
    (ds / "part-00000.parquet").unlink()
    with pytest.raises(EngineError, match="part-00000.parquet: indexed file is missing"):
        verify_bundle(bundle, tmp_path)


def test_editing_the_flag_or_index_fails(tmp_path):
    bundle, _, digest = make_world(tmp_path)
    (bundle / FLAG).write_text(json.dumps({"bundle_digest_sha256": "0" * 64}))
    with pytest.raises(EngineError, match=r"index.json: does not match .*_passed.flag"):
        verify_bundle(bundle, tmp_path)
    (bundle / FLAG).write_text("not json")
    with pytest.raises(EngineError, match=r"_passed.flag: not valid JSON"):
        verify_bundle(bundle, tmp_path)
    (bundle / FLAG).unlink()
    with pytest.raises(EngineError, match=r"_passed.flag: missing"):
        verify_bundle(bundle, tmp_path)


def test_an_unindexed_extra_file_fails(tmp_path):
    bundle, ds, _ = make_world(tmp_path)
    (ds / "part-00002.parquet").write_bytes(b"sneaky")
    with pytest.raises(EngineError, match="part-00002.parquet: file not in the bundle index"):
        verify_bundle(bundle, tmp_path)


def test_failing_enforced_check_publishes_report_without_flag(tmp_path):
    d = load_dictionary()
    bundle = tmp_path / f"layer1/2A/validation/seed=1/manifest_fingerprint={MF}"
    checks = [
        {
            "check_id": "2A.S2.tz_agree",
            "kind": "integrity",
            "status": "FAIL",
            "measured": 3,
            "threshold": 0,
            "enforced": True,
        }
    ]
    with pytest.raises(EngineError) as e:
        build_bundle(
            d,
            segment="2A",
            bundle_dir=bundle,
            data_root=tmp_path,
            files=[],
            checks=checks,
            mf=MF,
            seed=1,
            state="2A.S3",
        )
    assert e.value.full_code == "2A.S3.VALIDATION_FAILED" and "2A.S2.tz_agree" in e.value.message
    assert (bundle / "validation_report_2A.json").exists() and not (bundle / FLAG).exists()
    with pytest.raises(EngineError, match="missing"):
        verify_bundle(bundle, tmp_path)


def test_sealed_inputs_digest_and_read_scope():
    a = SealedInput("policy_a", "policy", "policies/a.yaml", "a" * 64, role="policy")
    b = SealedInput(
        "zone_alloc_universe_hash", "dataset", "layer1/3A/x", "b" * 64, read_scope=METADATA_ONLY
    )
    s1, s2 = SealedInputs("5B", [a, b]), SealedInputs("5B", [b, a])
    assert s1.digest == s2.digest  # order-free
    assert SealedInputs("5B", [a]).digest != s1.digest
    assert s1.require("policy_a", state="5B.S1").digest == "a" * 64
    with pytest.raises(EngineError, match="5B.S2.READ_SCOPE_VIOLATION"):
        s1.require("zone_alloc_universe_hash", state="5B.S2")
    s1.require("zone_alloc_universe_hash", state="5B.S2", scope=METADATA_ONLY)
    with pytest.raises(EngineError, match="READ_SCOPE_VIOLATION: site_locations is not sealed"):
        s1.require("site_locations", state="5B.S4")
    doc = s1.document(mf=MF, ph=PH, seed=3)
    assert SealedInputs.from_document(doc, state="5B.S1").digest == s1.digest
    doc["inputs"][0]["digest"] = "c" * 64
    with pytest.raises(EngineError, match="SEALED_DIGEST_MISMATCH"):
        SealedInputs.from_document(doc, state="5B.S1")
    r = gate_receipt(
        "5B",
        mf=MF,
        ph=PH,
        seed=3,
        spec_version="v",
        upstream=[("3B", "d" * 64), ("1A", "e" * 64)],
        sealed=s1,
    )
    d = load_dictionary()
    d.schemas.validate(r, "gates.yaml#/$defs/gate_receipt", file="r", code="SCHEMA_VIOLATION")
    assert [u["segment"] for u in r["upstream"]] == ["1A", "3B"]
