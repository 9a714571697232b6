"""6B.S0 on the tiny world (layer3 §4.1): the receipt's scenario fields, the seal list, a
second scenario on the same entity world, and a negative test per failure code."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from engine_core.errors import EngineError
from engine_core.runner import run_world
from engine_core.segments.seg_6B import s0_gate
from engine_core.segments.seg_6B.families import FAMILIES, registry_mismatch
from engine_core.tools import data_files

ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny6b")
    run_world(profile="tiny", seed=42, data_root=root, until="6B.S0", scenario="baseline")
    return root


def _receipt(root: Path, scenario: str) -> dict:
    p = next((root / "layer3/6B/s0_gate_receipt_6B").rglob(f"scenario_id={scenario}/*.json"))
    return json.loads(p.read_text())


def _policy(name):
    return yaml.safe_load((ROOT / "policies/6B" / name).read_text())


def _copy_without_6b(root: Path, dst: Path) -> Path:
    shutil.copytree(root, dst, ignore=shutil.ignore_patterns("6B"))
    return dst


def test_receipt_carries_the_scenario_horizon_rate_and_every_gate(world):
    r = _receipt(world, "baseline")
    assert r["segment"] == "6B" and r["scenario_id"] == "baseline" and r["seed"] == 42
    assert r["fraud_rate"] == 0.01  # the tiny profile leaf (layer3 §4.8)
    assert (r["horizon_start_utc"], r["horizon_end_utc"]) == (
        "2026-03-25T00:00:00Z",
        "2026-04-01T00:00:00Z",
    )
    gates = {g["segment"]: g for g in r["upstream_gates"]}
    assert list(gates) == ["1A", "1B", "2A", "2B", "3A", "3B", "5A", "5B", "6A"]
    assert {g["status"] for g in gates.values()} == {"PASS"}
    assert gates["5A"]["scenario_id"] == gates["5B"]["scenario_id"] == "baseline"
    assert "scenario_id" not in gates["6A"]  # 6A is scenario-free
    sealed = json.loads(
        next((world / "layer3/6B/sealed_inputs_6B").rglob("sealed_inputs_6B.json")).read_text()
    )
    names = {i["name"]: i for i in sealed["inputs"]}
    assert names["validation_bundle_6A"]["read_scope"] == "METADATA_ONLY"
    assert names["scenario_manifest_5A"]["read_scope"] == "ROW_LEVEL"
    assert {"fraud_campaigns_6B", "legit_flows_6B", "weekly_profile_6B", "rng_6B"} <= set(names)
    assert sealed["sealed_inputs_digest"] == r["sealed_inputs_digest"]


def test_a_second_scenario_gates_its_own_bundles_on_the_same_entity_world(world, tmp_path):
    other = tmp_path / "hp"
    shutil.copytree(world, other)
    six_a = {p: s for p, s in data_files(other) if p.startswith("layer3/6A/")}
    rows = run_world(
        profile="tiny", seed=42, data_root=other, until="6B.S0", scenario="holiday_peak"
    )
    assert {r["status"] for r in rows if r["state"].startswith("6A.")} == {"reused"}
    assert {p: s for p, s in data_files(other) if p.startswith("layer3/6A/")} == six_a
    hp, base = _receipt(other, "holiday_peak"), _receipt(other, "baseline")
    assert hp["fraud_rate"] == 0.0133
    g_hp = {g["segment"]: g for g in hp["upstream_gates"]}
    g_base = {g["segment"]: g for g in base["upstream_gates"]}
    assert g_hp["6A"] == g_base["6A"]
    assert g_hp["5B"]["scenario_id"] == "holiday_peak"
    assert g_hp["5B"]["bundle_digest_sha256"] != g_base["5B"]["bundle_digest_sha256"]


def test_a_withheld_6a_flag_blocks_the_gate_and_publishes_nothing(world, tmp_path):
    other = _copy_without_6b(world, tmp_path / "f")
    (next((other / "layer3/6A/validation").glob("seed=42/*")) / "_passed.flag").unlink()
    with pytest.raises(EngineError, match=r"6B.S0.UPSTREAM_HASHGATE_MISSING.*_passed.flag"):
        run_world(
            profile="tiny", seed=42, data_root=other, until="6B.S0", only=True, scenario="baseline"
        )
    assert not (other / "layer3/6B").exists()


def test_a_tampered_5b_bundle_is_a_digest_mismatch(world, tmp_path):
    other = _copy_without_6b(world, tmp_path / "t")
    bundle = next((other / "layer2/5B/validation").rglob("scenario_id=baseline"))
    report = bundle / "validation_report_5B.json"
    report.write_bytes(report.read_bytes() + b" ")
    with pytest.raises(EngineError, match=r"6B.S0.UPSTREAM_HASHGATE_DIGEST_MISMATCH"):
        run_world(
            profile="tiny", seed=42, data_root=other, until="6B.S0", only=True, scenario="baseline"
        )
    assert not (other / "layer3/6B").exists()


def _bundle(dir_: Path, files: list[tuple[str, str]]) -> Path:
    dir_.mkdir(parents=True)
    doc = {"files": [{"path": p, "sha256": s} for p, s in files]}
    (dir_ / "index.json").write_text(json.dumps(doc))
    return dir_


def test_a_scenario_with_another_zone_profile_is_a_digest_mismatch(tmp_path):
    prof = "layer2/5A/merchant_zone_profile_5A/seed=42/manifest_fingerprint=ab"
    same = [(f"{prof}/part-00000.parquet", "a" * 64), ("layer2/5A/other.parquet", "b" * 64)]
    here = _bundle(tmp_path / "here", same)
    s0_gate.same_profile_files(here, _bundle(tmp_path / "same", same), prof, "t")
    moved = [(f"{prof}/part-00000.parquet", "c" * 64), same[1]]
    with pytest.raises(EngineError, match=r"UPSTREAM_HASHGATE_DIGEST_MISMATCH.*part-00000"):
        s0_gate.same_profile_files(here, _bundle(tmp_path / "moved", moved), prof, "t")
    with pytest.raises(EngineError, match=r"UPSTREAM_HASHGATE_DIGEST_MISMATCH"):
        s0_gate.same_profile_files(here, _bundle(tmp_path / "none", same[1:]), prof, "t")


def test_an_unknown_scenario_is_refused_before_its_bundles_are_read(world, tmp_path):
    from engine_core.context import RunContext
    from engine_core.contracts import load_dictionary
    from engine_core.manifest import build_manifest
    from engine_core.registry import registry
    from engine_core.runner import execute

    d = load_dictionary()
    spec = registry(d).state("6B.S0")
    ctx = RunContext(
        data_root=_copy_without_6b(world, tmp_path / "u"),
        dictionary=d,
        manifest=build_manifest("tiny", d),
        seed=42,
        scenario_id="atlantis",
    )
    with pytest.raises(EngineError, match=r"6B.S0.SCENARIO_UNKNOWN.*atlantis.*baseline"):
        execute(ctx, spec)


def test_fraud_rate_resolves_per_scenario_else_default():
    pol = _policy("fraud_campaigns.yaml")
    assert s0_gate.resolve_fraud_rate(pol, "payday_stress") == 0.0053
    assert s0_gate.resolve_fraud_rate(pol, "some_new_scenario") == pol["fraud_rate"]["default"]


def test_weekly_profile_is_checked_by_name_length_and_sign():
    legit, wp = _policy("legit_flows.yaml"), _policy("weekly_profile.yaml")
    w = s0_gate.check_weekly_profile(legit, wp)
    assert len(w) == 168 and min(w) > 0
    bad = {**wp, "weights": [*wp["weights"][:30], 0.0, *wp["weights"][31:]]}
    with pytest.raises(EngineError, match=r"6B.S0.POLICY_INVALID.*/weights/30.*day 1, hour 6"):
        s0_gate.check_weekly_profile(legit, bad)
    with pytest.raises(EngineError, match=r"POLICY_INVALID.*/weights: 167 weights"):
        s0_gate.check_weekly_profile(legit, {**wp, "weights": wp["weights"][:-1]})
    with pytest.raises(EngineError, match=r"POLICY_INVALID.*/weekly_profile.*names no shipped"):
        s0_gate.check_weekly_profile({**legit, "weekly_profile": "builtin:nope"}, wp)


def test_rng_registry_mismatch_is_detected():
    doc = _policy("rng.yaml")
    assert registry_mismatch(doc) is None and len(FAMILIES) == len(doc["families"]) == 13
    attach = next(f for f in FAMILIES if f.family_id == "6B.S1.attach")
    assert (attach.stride, attach.draws) == (10, "20·A")  # 20 slots per arrival (§4.2)
    tilt = next(f for f in FAMILIES if f.family_id == "6B.S1.merchant_tilt")
    assert tilt.scenario is False  # keyed with scenario_id "" (§4.2 step 3)
    doc["families"][0]["scenario"] = True
    assert "6B.S1.merchant_tilt" in registry_mismatch(doc)
    doc = _policy("rng.yaml")
    doc["families"][2]["stride"] = 9
    assert "/families/2/stride" in registry_mismatch(doc)
