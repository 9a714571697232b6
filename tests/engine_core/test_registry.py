"""One declaration per state: the registry, seal lists, consumers, guarded reads and the
Dagster graph all come from ``seg_XX/__init__.py``; a drift between a declaration and what
the state really reads fails here."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
import yaml

from engine_core.contracts import load_dictionary
from engine_core.errors import EngineError
from engine_core.manifest import build_manifest
from engine_core.registry import Registry, discover_segments, registry
from engine_core.runner import execute, run_world
from engine_core.segments.common import dataset_path
from engine_core.segments.sealing import sealed_names
from engine_core.statespec import Read, Refdata

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """The tiny world through every registered state (baseline), recording what each state
    opened."""
    import engine_core.runner as runner

    seen: dict[str, set] = {}
    bind = runner.bind_state

    def spy(ctx, spec):
        bound = bind(ctx, spec)
        seen[spec.state_id] = bound.seen  # filled as the state reads
        return bound

    root = tmp_path_factory.mktemp("traced")
    mp = pytest.MonkeyPatch()
    mp.setattr(runner, "bind_state", spy)
    try:
        run_world(profile="tiny", seed=42, data_root=root, scenario="baseline")
    finally:
        mp.undo()
    return root, seen


def test_every_state_reads_exactly_what_it_declares(traced):
    """Reading an undeclared input raises (READ_SCOPE_VIOLATION); a declared input no run
    reads is drift too — the declaration says what the state really reads."""
    _, seen = traced
    reg = registry()
    assert len(seen) == len(reg.states)  # every registered state ran
    for spec in reg.states:
        if spec.segment == "ENGINE":
            continue
        declared = {r.name for r in spec.inputs if isinstance(r, Read)}
        implied = set(spec.reads) - declared  # the gate's receipt/seal, the upstream bundles
        if spec.validation:  # a validation state may read any dataset of its segment
            implied |= {d.id for d in reg.dictionary.datasets.values() if d.segment == spec.segment}
            declared -= implied
        got = seen[spec.state_id] - implied
        assert got == declared, (spec.state_id, sorted(declared - got), sorted(got - declared))


def test_removing_a_declared_read_fails_the_state(traced):
    """The drift test in action: drop one read from 2B.S1's declaration and the state is
    refused at its first read of it, naming the input; nothing is published."""
    root, _ = traced
    reg = registry()
    spec = reg.state("2B.S1")
    ctx = _ctx(root)
    out = dataset_path(ctx, "s1_site_weights")
    shutil.rmtree(out)
    for name in ("s1_tile_index", "routing_weights_2B"):
        cut = replace(
            spec,
            inputs=tuple(r for r in spec.inputs if r.name != name),
            reads=tuple(r for r in spec.reads if r != name),
        )
        with pytest.raises(EngineError) as e:
            execute(ctx, cut)
        assert e.value.code == "READ_SCOPE_VIOLATION" and name in e.value.detail
        assert e.value.state == "2B.S1" and not out.exists()
    execute(ctx, spec)  # the declared state itself publishes the same bytes again
    assert out.is_dir()


def test_s0_seal_lists_are_the_declared_plan(traced):
    """``sealed_inputs_<SEG>``: every input a state of the segment declares (not produced in
    the segment), ``read_by`` = the declaring states, plus each upstream bundle (S0)."""
    root, _ = traced
    reg = registry()
    ctx = _ctx(root, scenario="baseline")
    for seg in reg.segments:
        doc = json.loads(dataset_path(ctx, f"sealed_inputs_{seg}").read_bytes())
        got = {i["name"]: (tuple(i["read_by"]), i["read_scope"]) for i in doc["inputs"]}
        want = {}
        for p in reg.seal_plan(seg):
            names = sealed_names(p.read, ctx) if isinstance(p.read, Refdata) else [p.read.name]
            for n in names:
                want[n] = (p.read_by, p.scope)
        assert got == want, seg
        assert all(f"validation_bundle_{u}" in got for u in reg.segments[seg].upstream)


def test_consumers_and_deps_are_derived():
    reg = registry()
    assert "2A.S1" in reg.consumers("site_locations")
    assert "5B.S4" in reg.consumers("edge_alias_blob_3B")
    assert reg.consumers("rng_1A") == ("1A.S2", "1A.S3")
    assert reg.consumers("horizon_world")[:4] == ("2A.S2", "2A.S3", "2B.S3", "2B.S5")
    s4 = reg.state("5B.S4")
    assert s4.outputs == ("arrival_events_5B", "rng_trace_log_5B_S4", "rng_audit_log_5B_S4")
    assert {"s0_gate_receipt_5B", "sealed_inputs_5B", "s3_bucket_counts_5B"} <= set(s4.reads)
    assert reg.state("5B.S0").reads[:7] == tuple(
        f"validation_bundle_{s}" for s in ("1A", "1B", "2A", "2B", "3A", "3B", "5A")
    )


def test_a_declared_read_that_is_no_dataset_or_policy_is_refused():
    from engine_core.segments.seg_1A import SEGMENT

    bad = replace(SEGMENT, states=(*SEGMENT.states[:2], replace(SEGMENT.states[2], reads=("x",))))
    with pytest.raises(EngineError) as e:
        Registry(load_dictionary(), [bad])
    assert e.value.code == "CONTRACT_INVALID" and "'x'" in e.value.detail
    # nor may a state read what a later state of its own segment publishes
    late = replace(SEGMENT.states[2], reads=("outlet_catalogue",))
    with pytest.raises(EngineError) as e:
        Registry(load_dictionary(), [replace(SEGMENT, states=(*SEGMENT.states[:2], late))])
    assert e.value.code == "CONTRACT_INVALID" and "later state" in e.value.detail


def test_a_toy_state_is_one_declaration_plus_one_module(tmp_path, monkeypatch):
    """tests/fixtures/toy_segments/seg_9Z: its __init__.py declares S0 and S1, its one module
    holds S1's algorithm; with its dictionary entries it is registered, sealed, run by the
    CLI runner and wired into Dagster without touching the registry or Dagster modules."""
    proj = tmp_path / "proj"
    for sub in ("contracts", "policies"):
        shutil.copytree(ROOT / sub, proj / sub)
    toy = yaml.safe_load((ROOT / "tests/fixtures/toy_segments/contracts_9Z.yaml").read_text())
    dd = proj / "contracts/dataset_dictionary.yaml"
    doc = yaml.safe_load(dd.read_text())
    doc["datasets"] += toy["datasets"]
    dd.write_text(yaml.safe_dump(doc, sort_keys=False))
    (proj / "contracts/schemas/seg_9Z.yaml").write_text(yaml.safe_dump(toy["schema"]))
    monkeypatch.setenv("FWE_PROJECT_ROOT", str(proj))
    d = load_dictionary(proj / "contracts")
    reg = Registry(d, discover_segments() + discover_segments("tests.fixtures.toy_segments"))

    s1 = reg.state("9Z.S1")
    assert s1.outputs == ("home_countries_9Z",)
    assert set(s1.reads) == {"s0_gate_receipt_9Z", "sealed_inputs_9Z", "merchant_universe"}
    assert "9Z.S1" in reg.consumers("merchant_universe")
    plan = {p.read.name: p.read_by for p in reg.seal_plan("9Z")}
    assert plan == {
        "merchant_universe": ("S1",),
        "mcc_taxonomy_1A": ("S1",),
        "validation_bundle_1A": ("S0",),
    }

    data = tmp_path / "data"
    run_world(profile="tiny", seed=42, data_root=data, until="1A", reg=reg)
    for st in ("9Z.S0", "9Z.S1"):
        (row,) = run_world(profile="tiny", seed=42, data_root=data, until=st, only=True, reg=reg)
        assert row["state"] == st
    m = build_manifest("tiny", d)
    out = next((data / "layer9/9Z/home_countries_9Z").rglob("part-00000.parquet"))
    assert f"manifest_fingerprint={m.mf}" in str(out)
    got = pl.read_parquet(out)
    mu = pl.read_parquet(next((data / "layer1/1A/merchant_universe").rglob("*.parquet")))
    want = mu.group_by("home_country_iso", "mcc_group").len().sort("home_country_iso", "mcc_group")
    assert got["merchants"].to_list() == want["len"].to_list()
    assert got.height == want.height and got["merchants"].sum() == mu.height

    from dagster_project.assets import materializable_assets

    assets = {k.to_user_string(): a for a in materializable_assets(reg) for k in a.keys}
    node = assets["layer9/9Z/home_countries_9Z"]
    deps = {k.to_user_string() for k in node.asset_deps[next(iter(node.keys))]}
    assert deps == {
        "layer9/9Z/s0_gate_receipt_9Z",
        "layer9/9Z/sealed_inputs_9Z",
        "layer1/1A/merchant_universe",
    }


def _ctx(root, scenario=None):
    from engine_core.context import RunContext

    d = load_dictionary()
    m = build_manifest("tiny", d)
    return RunContext(
        data_root=root, dictionary=d, manifest=m, seed=42, scenario_id=scenario, workers=1
    )
