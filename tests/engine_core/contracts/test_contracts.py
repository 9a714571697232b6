"""Dictionary validation, schema packs with cross-file refs, policy errors with pointers."""

import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from engine_core.contracts import (
    Dictionary,
    arrow_schema,
    load_dictionary,
    load_policy,
    load_profile,
)
from engine_core.errors import EngineError
from engine_core.paths import contracts_root, policies_root, project_root

ROOT = project_root()


def copy_project(tmp_path: Path) -> Path:
    dst = tmp_path / "proj"
    for sub in ("contracts", "policies"):
        shutil.copytree(ROOT / sub, dst / sub)
    return dst


def test_dictionary_loads_and_maps_tables_to_arrow():
    d = load_dictionary()
    assert "manifest_record" in d.datasets and "horizon_world" in d.policies
    s = arrow_schema(d.schemas, "rng.yaml#/$defs/rng_trace_log")
    assert s.field("first_key").type == pa.uint64() and not s.field("first_key").nullable
    assert s.field("part_index").type == pa.int32()
    assert len(d.digest) == 64


def test_arrow_mapping_follows_cross_file_refs_and_flags(tmp_path):
    proj = copy_project(tmp_path)
    (proj / "contracts/schemas/demo.yaml").write_text(
        yaml.safe_dump(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": "https://fwe.invalid/schemas/demo.yaml",
                "$defs": {
                    "t": {
                        "type": "object",
                        "properties": {
                            "site_id": {"$ref": "defs.yaml#/$defs/id64"},
                            "ts_utc": {"$ref": "defs.yaml#/$defs/utc_instant"},
                            "ts_local": {"$ref": "defs.yaml#/$defs/local_time"},
                            "tzid": {"$ref": "defs.yaml#/$defs/string_dict"},
                            "note": {"type": "string", "x-arrow": "string", "x-nullable": True},
                        },
                    }
                },
            },
            sort_keys=False,
        )
    )
    d = Dictionary(proj / "contracts")
    s = arrow_schema(d.schemas, "demo.yaml#/$defs/t")
    assert s.names == ["site_id", "ts_utc", "ts_local", "tzid", "note"]
    assert s.field("ts_utc").type == pa.timestamp("us", tz="UTC")
    assert s.field("ts_local").type == pa.timestamp("us")
    assert s.field("tzid").type == pa.dictionary(pa.int32(), pa.string())
    assert s.field("note").nullable and not s.field("site_id").nullable


def test_malformed_dictionary_is_a_contract_error(tmp_path):
    proj = copy_project(tmp_path)
    p = proj / "contracts/dataset_dictionary.yaml"
    doc = yaml.safe_load(p.read_text())
    doc["datasets"][0]["format"] = "csv"
    p.write_text(yaml.safe_dump(doc))
    with pytest.raises(EngineError) as e:
        Dictionary(proj / "contracts")
    assert e.value.code == "CONTRACT_INVALID"
    assert "contracts/dataset_dictionary.yaml: /datasets/0/format" in e.value.message


@pytest.mark.parametrize(
    ("edit", "pointer"),
    [
        (lambda d: d.update(tz_cache_margin_days="many"), "/tz_cache_margin_days"),
        (lambda d: d.pop("end_utc"), "/end_utc"),
        (lambda d: d.update(start_utc="2026-01-01"), "/start_utc"),
        (lambda d: d.update(surprise=1), "/surprise"),
    ],
)
def test_malformed_policy_names_file_and_pointer(tmp_path, edit, pointer):
    proj = copy_project(tmp_path)
    p = proj / "policies/world/horizon.yaml"
    doc = yaml.safe_load(p.read_text())
    edit(doc)
    p.write_text(yaml.safe_dump(doc))
    d = Dictionary(proj / "contracts")
    with pytest.raises(EngineError) as e:
        load_policy("horizon_world", d, proj / "policies")
    msg = e.value.message
    assert msg.startswith(f"ENGINE.POLICY_INVALID: policies/world/horizon.yaml: {pointer}: ")
    assert "\n" not in msg


def test_cli_reports_a_bad_policy_in_one_line(tmp_path):
    proj = copy_project(tmp_path)
    p = proj / "policies/world/horizon.yaml"
    p.write_text(p.read_text().replace("tz_cache_margin_days: 366", "tz_cache_margin_days: x"))
    res = subprocess.run(
        [sys.executable, "-m", "engine_core.cli", "manifest", "--profile", "tiny"],
        capture_output=True,
        text=True,
        env={"FWE_PROJECT_ROOT": str(proj), "PATH": "/usr/bin"},
        cwd=ROOT,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert lines[0].startswith(
        "error: ENGINE.POLICY_INVALID: policies/world/horizon.yaml (overridden by "
        "policies/profiles/tiny.yaml): /tz_cache_margin_days: 'x' is not of type 'integer'"
    )


def test_profile_overrides_apply_and_bad_pointers_fail(tmp_path):
    d = load_dictionary()
    tiny = load_profile("tiny", d, policies_root())
    assert load_policy("horizon_world", d, policies_root(), tiny)["start_utc"] == (
        "2026-03-01T00:00:00Z"
    )
    small = load_profile("small", d, policies_root())
    assert load_policy("horizon_world", d, policies_root(), small)["start_utc"] == (
        "2026-01-01T00:00:00Z"
    )
    proj = copy_project(tmp_path)
    p = proj / "policies/profiles/tiny.yaml"
    p.write_text(p.read_text().replace("/start_utc", "/begin_utc"))
    d2 = Dictionary(proj / "contracts")
    with pytest.raises(EngineError, match=r"/begin_utc: overrides a field the policy lacks"):
        load_policy(
            "horizon_world", d2, proj / "policies", load_profile("tiny", d2, proj / "policies")
        )


def test_contracts_root_is_the_project_one():
    assert contracts_root() == ROOT / "contracts"


def test_every_policy_follows_the_one_naming_rule():
    """``policies/<seg>/<name>.yaml`` has logical name and ``policy_id`` ``<name>_<seg>``,
    for every layer's policies and the shared ones (``world/``, ``layer1/``) alike; a
    segment's authored reference data ``policies/<seg>/refdata/<name>.yaml`` (layer3 §2) is
    ``<name>_<seg>`` too."""
    d = load_dictionary()
    assert len(d.policies) == 46
    files = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "policies").rglob("*.yaml"))
    listed = sorted(s.path for s in d.policies.values())
    assert [f for f in files if not f.startswith("policies/profiles/")] == listed
    for name, spec in d.policies.items():
        parts = spec.path.split("/")
        if len(parts) == 4:
            _, seg, sub, file = parts
            assert sub == "refdata", spec.path
        else:
            _, seg, file = parts
        assert name == f"{file.removesuffix('.yaml')}_{seg}", spec.path
        assert yaml.safe_load((ROOT / spec.path).read_text())["policy_id"] == name


def test_the_dictionary_names_no_reader_by_hand():
    """Consumers and policy readers are derived from the state declarations."""
    doc = yaml.safe_load((ROOT / "contracts/dataset_dictionary.yaml").read_text())
    assert not any("consumers" in ds for ds in doc["datasets"])
    assert not any("read_by" in p for p in doc["policies"])
