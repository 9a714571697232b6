"""The 5B T10 stability panel (layer2 §5.2): partitioned by world only, it reads the panel
seeds' 5B bundles and carries the T10 gate as its asset check."""

from __future__ import annotations

import dagster as dg

from dagster_project.keys import asset_key
from dagster_project.partitions import world_partitions
from dagster_project.resources import EngineResource
from engine_core.errors import EngineError
from engine_core.segments.seg_5B import stability_panel

T10 = stability_panel.T10_CHECK


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
            name=T10.check_id.replace(".", "_"),
            asset=asset_key("stability_panel_5B"),
            description=T10.description,
        )
    ],
    kinds={"json"},
    description="T10 stability panel over the seeds 42, 7 and 101 of one world (weekly).",
)
def stability_panel_5B(context, engine: EngineResource):
    from dagster_project.checks.factory import check_result
    from engine_core.segments.seg_5B.constants import T10_SEEDS

    world = context.partition_key
    try:
        ctx = engine.run_context(T10_SEEDS[0], world, scenario_scoped=True, log=context.log)
        res = stability_panel.run(ctx)
        row = T10.evaluate(ctx)
    except EngineError as e:
        raise dg.Failure(description=e.message, metadata={"code": e.full_code}) from None
    yield dg.MaterializeResult(
        metadata={
            "rows": len(res.metadata["panel"]),
            "panel": dg.MetadataValue.json(res.metadata["panel"]),
        }
    )
    yield check_result(T10, row, with_key=True)


panel_assets = [stability_panel_5B]
