"""Segment 5B assets: S0 gate, time grid and grouping, latent field + realised intensity,
bucket counts, arrival events, the validation bundle (checks T1–T16, R1, R2, G1 evaluated in
S5's own full pass and reported as its asset checks), and the T10 stability panel
(partitioned by world only; reads the panel seeds' bundles)."""

from __future__ import annotations

import dagster as dg

from dagster_project.assets.factory import asset_key, segment_assets
from dagster_project.partitions import world_partitions
from dagster_project.resources import EngineResource
from engine_core.errors import EngineError
from engine_core.registry import segment_checks
from engine_core.segments.seg_5B import stability_panel

assets = segment_assets("5B", inline_checks={"5B.S5": segment_checks("5B")})


@dg.asset(
    key=asset_key("stability_panel_5B"),
    partitions_def=world_partitions,
    group_name="seg_5B",
    deps=[
        dg.AssetDep(
            asset_key("validation_bundle_5B"),
            partition_mapping=dg.MultiToSingleDimensionPartitionMapping(
                partition_dimension_name="world"
            ),
        )
    ],
    check_specs=[
        dg.AssetCheckSpec(
            name="5B_S5_T10",
            asset=asset_key("stability_panel_5B"),
            description="seed stability of arrivals, T6 and T7 over seeds 42, 7, 101",
        )
    ],
    kinds={"json"},
    description="T10 stability panel over the seeds 42, 7 and 101 of one world (weekly).",
)
def stability_panel_5B(context, engine: EngineResource):
    from engine_core.segments.seg_5B.constants import T10_SEEDS

    world = context.partition_key
    try:
        ctx = engine.run_context(T10_SEEDS[0], world, scenario_scoped=True, log=context.log)
        res = stability_panel.run(ctx)
        row = stability_panel.T10_CHECK.evaluate(ctx)
    except EngineError as e:
        raise dg.Failure(description=e.message, metadata={"code": e.full_code}) from None
    from dagster_project.checks.factory import check_result

    yield dg.MaterializeResult(
        metadata={
            "rows": len(res.metadata["panel"]),
            "panel": dg.MetadataValue.json(res.metadata["panel"]),
        }
    )
    yield check_result(stability_panel.T10_CHECK, row, with_key=True)


panel_assets = [stability_panel_5B]
