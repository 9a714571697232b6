"""The T10 stability panel: seeds 42, 7 and 101 of one tiny world, through the engine and
through the Dagster asset (partitioned by world only) with its asset check."""

import dagster as dg

from dagster_project.assets.panel import stability_panel_5B
from dagster_project.registration import register_world
from dagster_project.resources import EngineResource
from engine_core.runner import run_world


def test_panel_asset_reports_t10_over_three_seeds(tmp_path):
    for seed in (42, 7, 101):
        run_world(profile="tiny", seed=seed, data_root=tmp_path, until="5B", scenario="baseline")
    instance = dg.DagsterInstance.ephemeral()
    m = register_world(instance, "tiny", tmp_path, [42])
    world = next(w for w in m.worlds if w.endswith(".baseline"))
    res = dg.materialize(
        [stability_panel_5B],
        instance=instance,
        partition_key=world,
        resources={"engine": EngineResource(data_root=str(tmp_path), profiles=["tiny"])},
    )
    assert res.success
    (mat,) = res.get_asset_materialization_events()
    panel = mat.materialization.metadata["panel"].value
    assert [r["seed"] for r in panel] == [42, 7, 101]
    assert len({r["arrivals"] for r in panel}) == 3
    (ev,) = res.get_asset_check_evaluations()
    assert ev.check_name == "5B_panel_T10"
    assert ev.severity == dg.AssetCheckSeverity.WARN  # tiny: realism gates are advisory
    measured = ev.metadata["measured"].value
    assert 0 < measured["arrivals_spread"] < 0.5, measured
    assert (tmp_path / "layer2/5B/stability_panel_5B").is_dir()
