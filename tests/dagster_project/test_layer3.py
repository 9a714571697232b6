"""Layer-3 Dagster wiring (layer3 §5): a failing enforced 6A realism gate publishes the
bundle without ``_passed.flag`` and fails its asset check with ERROR, carrying the measured
value and band; the S5 data assets and their integrity checks are still reported, and 6B.S0
(eager once the 6A bundle's blocking checks passed) refuses the unflagged bundle."""

import dagster as dg

from dagster_project.assets import materializable_assets
from dagster_project.checks import all_checks
from dagster_project.partitions import partition_key
from dagster_project.registration import register_world
from dagster_project.resources import EngineResource
from engine_core.runner import run_world


def test_failing_6a_gate_withholds_the_flag_and_fails_its_check(tmp_path, monkeypatch):
    import engine_core.checks as checks_mod
    from engine_core.segments.seg_6A import constants as K

    run_world(profile="tiny", seed=42, data_root=tmp_path, until="6A.S4")
    monkeypatch.setattr(checks_mod, "ADVISORY_PROFILES", frozenset())  # enforce as in small
    monkeypatch.setattr(K, "R13_RING_P50", (1000, 2000))  # rings can never be that large
    instance = dg.DagsterInstance.ephemeral()
    m = register_world(instance, "tiny", tmp_path, [42])
    s5 = next(a for a in materializable_assets() if a.node_def.name == "6a_s5")
    gates = next(c for c in all_checks() if c.node_def.name == "realism_6a")
    result = dg.materialize(
        [s5, gates],
        instance=instance,
        partition_key=partition_key(42, m.worlds[0]),
        resources={"engine": EngineResource(data_root=str(tmp_path), profiles=["tiny"])},
        raise_on_error=False,
    )
    bundle = next((tmp_path / "layer3/6A/validation").glob("seed=42/*"))
    assert not (bundle / "_passed.flag").exists()
    assert (bundle / "validation_report_6A.json").is_file()
    mats = {
        e.asset_key.path[-1]: e.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert mats["validation_bundle_6A"]["publish"].value == "published without _passed.flag"
    assert mats["validation_bundle_6A"]["code"].value == "6A.S5.VALIDATION_FAILED"
    evals = {e.check_name: e for e in result.get_asset_check_evaluations()}
    r13 = evals["6A_S5_R13"]
    assert not r13.passed and r13.severity == dg.AssetCheckSeverity.ERROR
    assert r13.metadata["status"].value == "FAIL"
    assert "ring_size_p50" in r13.metadata["measured"].value
    assert r13.metadata["band"].value is not None
    assert evals["6A_S5_I09_roles"].passed  # integrity of the published S5 tables
    assert all(e.passed for n, e in evals.items() if n != "6A_S5_R13" and "_I0" in n)

    # the withheld flag blocks 6B.S0: its HashGate refuses the bundle, nothing is published
    s0 = next(a for a in materializable_assets() if a.node_def.name == "6b_s0")
    blocked = dg.materialize(
        [s0],
        instance=instance,
        partition_key=partition_key(42, m.worlds[0]),
        resources={"engine": EngineResource(data_root=str(tmp_path), profiles=["tiny"])},
        raise_on_error=False,
    )
    assert not blocked.success
    failure = next(e for e in blocked.all_events if e.event_type_value == "STEP_FAILURE")
    err = failure.step_failure_data.user_failure_data
    assert err.metadata["code"].value == "6B.S0.UPSTREAM_HASHGATE_MISSING"
    assert not (tmp_path / "layer3/6B").exists()


def test_6b_gate_follows_the_6a_bundle_only_after_its_blocking_checks_passed():
    s0 = next(a for a in materializable_assets() if a.node_def.name == "6b_s0")
    for spec in s0.specs:
        labels = str(spec.automation_condition)
        assert "all_deps_blocking_checks_passed" in labels and "eager" in labels
        assert dg.AssetKey(["layer3", "6A", "validation_bundle_6A"]) in {
            d.asset_key for d in spec.deps
        }
