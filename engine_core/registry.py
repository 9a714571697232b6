"""The ordered registry of runnable states. The CLI and the Dagster assets run the same
functions; segments register their states here as they land."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.manifest import publish_manifest


@dataclass(frozen=True)
class StateSpec:
    segment: str  # "ENGINE", "1A", …
    state: str  # "manifest", "S0", …
    func: Callable[[RunContext], StateResult]
    outputs: tuple[str, ...] = ()  # dataset ids this state publishes (one asset each)
    reads: tuple[str, ...] = ()  # dataset ids of earlier states it reads (asset deps)
    scenario_scoped: bool = False

    @property
    def state_id(self) -> str:
        return f"{self.segment}.{self.state}"


def manifest_state(ctx: RunContext) -> StateResult:
    """Publish the manifest record (idempotent: same policies → same bytes → reuse)."""
    res = publish_manifest(ctx.manifest, ctx.data_root, ctx.dictionary)
    return StateResult(
        "ENGINE.manifest",
        [res],
        rows=1,
        metadata={"manifest_fingerprint": ctx.mf, "parameter_hash": ctx.ph},
    )


def _layer1() -> tuple[StateSpec, ...]:
    from engine_core.segments.seg_1A import (
        s0_gate,
        s1_country_reference,
        s2_merchant_universe,
        s3_outlet_counts,
        s4_outlet_catalogue,
        s5_validation,
    )

    gate_1a = ("s0_gate_receipt_1A", "sealed_inputs_1A")
    return (
        StateSpec("1A", "S0", s0_gate.run, gate_1a, ("manifest_record",)),
        StateSpec("1A", "S1", s1_country_reference.run, ("s1_country_reference",), gate_1a),
        StateSpec(
            "1A",
            "S2",
            s2_merchant_universe.run,
            ("merchant_universe", "rng_trace_log_1A_S2", "rng_audit_log_1A_S2"),
            (*gate_1a, "s1_country_reference"),
        ),
        StateSpec(
            "1A",
            "S3",
            s3_outlet_counts.run,
            ("s3_outlet_counts", "rng_trace_log_1A_S3", "rng_audit_log_1A_S3"),
            (*gate_1a, "s1_country_reference", "merchant_universe"),
        ),
        StateSpec(
            "1A",
            "S4",
            s4_outlet_catalogue.run,
            ("outlet_catalogue",),
            (*gate_1a, "merchant_universe", "s3_outlet_counts"),
        ),
        StateSpec(
            "1A",
            "S5",
            s5_validation.run,
            ("validation_bundle_1A",),
            (
                "s1_country_reference",
                "merchant_universe",
                "rng_trace_log_1A_S2",
                "rng_audit_log_1A_S2",
                "s3_outlet_counts",
                "rng_trace_log_1A_S3",
                "rng_audit_log_1A_S3",
                "outlet_catalogue",
            ),
        ),
    )


def _layer1_1b() -> tuple[StateSpec, ...]:
    from engine_core.segments.seg_1B import (
        s0_gate,
        s1_tile_index,
        s2_tile_weights,
        s3_site_requirements,
        s4_alloc_plan,
        s5_site_tile_assignment,
        s6_site_locations,
        s7_validation,
    )

    gate = ("s0_gate_receipt_1B", "sealed_inputs_1B")
    return (
        StateSpec("1B", "S0", s0_gate.run, gate, ("validation_bundle_1A",)),
        StateSpec(
            "1B", "S1", s1_tile_index.run, ("s1_tile_index",), (*gate, "s1_country_reference")
        ),
        StateSpec("1B", "S2", s2_tile_weights.run, ("s2_tile_weights",), (*gate, "s1_tile_index")),
        StateSpec(
            "1B",
            "S3",
            s3_site_requirements.run,
            ("s3_site_requirements",),
            (*gate, "outlet_catalogue"),
        ),
        StateSpec(
            "1B",
            "S4",
            s4_alloc_plan.run,
            ("s4_alloc_plan", "rng_trace_log_1B_S4", "rng_audit_log_1B_S4"),
            (*gate, "s2_tile_weights", "s3_site_requirements"),
        ),
        StateSpec(
            "1B",
            "S5",
            s5_site_tile_assignment.run,
            ("s5_site_tile_assignment", "rng_trace_log_1B_S5", "rng_audit_log_1B_S5"),
            (*gate, "outlet_catalogue", "s4_alloc_plan"),
        ),
        StateSpec(
            "1B",
            "S6",
            s6_site_locations.run,
            ("site_locations", "rng_trace_log_1B_S6", "rng_audit_log_1B_S6"),
            (*gate, "s1_tile_index", "s5_site_tile_assignment"),
        ),
        StateSpec(
            "1B",
            "S7",
            s7_validation.run,
            ("validation_bundle_1B",),
            (
                "s1_tile_index",
                "s2_tile_weights",
                "s3_site_requirements",
                "s4_alloc_plan",
                "rng_trace_log_1B_S4",
                "rng_audit_log_1B_S4",
                "s5_site_tile_assignment",
                "rng_trace_log_1B_S5",
                "rng_audit_log_1B_S5",
                "site_locations",
                "rng_trace_log_1B_S6",
                "rng_audit_log_1B_S6",
            ),
        ),
    )


def _layer1_2a() -> tuple[StateSpec, ...]:
    from engine_core.segments.seg_2A import (
        s0_gate,
        s1_site_timezones,
        s2_tz_timetable_cache,
        s3_validation,
    )

    gate = ("s0_gate_receipt_2A", "sealed_inputs_2A")
    return (
        StateSpec("2A", "S0", s0_gate.run, gate, ("validation_bundle_1A", "validation_bundle_1B")),
        StateSpec(
            "2A",
            "S1",
            s1_site_timezones.run,
            ("site_timezones",),
            (*gate, "site_locations", "s1_tile_index", "s1_country_reference"),
        ),
        StateSpec(
            "2A",
            "S2",
            s2_tz_timetable_cache.run,
            ("tz_timetable_cache",),
            (*gate, "s1_country_reference"),
        ),
        StateSpec(
            "2A",
            "S3",
            s3_validation.run,
            ("validation_bundle_2A",),
            ("site_timezones", "tz_timetable_cache"),
        ),
    )


def _layer1_2b() -> tuple[StateSpec, ...]:
    from engine_core.segments.seg_2B import (
        s0_gate,
        s1_site_weights,
        s2_alias_tables,
        s3_day_effects,
        s4_group_weights,
        s5_validation,
    )

    gate = ("s0_gate_receipt_2B", "sealed_inputs_2B")
    return (
        StateSpec(
            "2B",
            "S0",
            s0_gate.run,
            gate,
            ("validation_bundle_1A", "validation_bundle_1B", "validation_bundle_2A"),
        ),
        StateSpec(
            "2B",
            "S1",
            s1_site_weights.run,
            ("s1_site_weights", "rng_trace_log_2B_S1", "rng_audit_log_2B_S1"),
            (*gate, "site_timezones", "site_locations", "s1_tile_index"),
        ),
        StateSpec(
            "2B",
            "S2",
            s2_alias_tables.run,
            ("s2_alias_index", "s2_alias_blob"),
            (*gate, "s1_site_weights"),
        ),
        StateSpec(
            "2B",
            "S3",
            s3_day_effects.run,
            ("s3_day_effects", "rng_trace_log_2B_S3", "rng_audit_log_2B_S3"),
            (*gate, "site_timezones", "merchant_universe"),
        ),
        StateSpec(
            "2B",
            "S4",
            s4_group_weights.run,
            ("s4_group_weights",),
            (*gate, "s1_site_weights", "s3_day_effects"),
        ),
        StateSpec(
            "2B",
            "S5",
            s5_validation.run,
            ("validation_bundle_2B",),
            (
                "s1_site_weights",
                "rng_trace_log_2B_S1",
                "rng_audit_log_2B_S1",
                "s2_alias_index",
                "s2_alias_blob",
                "s3_day_effects",
                "rng_trace_log_2B_S3",
                "rng_audit_log_2B_S3",
                "s4_group_weights",
            ),
        ),
    )


def _layer1_3a() -> tuple[StateSpec, ...]:
    from engine_core.segments.seg_3A import (
        s0_gate,
        s1_country_zone_priors,
        s2_zone_alloc,
        s3_universe_hash,
        s4_validation,
    )

    gate = ("s0_gate_receipt_3A", "sealed_inputs_3A")
    return (
        StateSpec(
            "3A",
            "S0",
            s0_gate.run,
            gate,
            (
                "validation_bundle_1A",
                "validation_bundle_1B",
                "validation_bundle_2A",
                "validation_bundle_2B",
            ),
        ),
        StateSpec(
            "3A",
            "S1",
            s1_country_zone_priors.run,
            ("s1_country_zone_priors",),
            (*gate, "s1_tile_index"),
        ),
        StateSpec(
            "3A",
            "S2",
            s2_zone_alloc.run,
            ("zone_alloc",),
            (*gate, "s1_site_weights", "s1_country_zone_priors"),
        ),
        StateSpec(
            "3A",
            "S3",
            s3_universe_hash.run,
            ("zone_alloc_universe_hash",),
            (*gate, "zone_alloc", "s1_country_zone_priors"),
        ),
        StateSpec(
            "3A",
            "S4",
            s4_validation.run,
            ("validation_bundle_3A",),
            ("s1_country_zone_priors", "zone_alloc", "zone_alloc_universe_hash"),
        ),
    )


def _layer1_3b() -> tuple[StateSpec, ...]:
    from engine_core.segments.seg_3B import (
        s0_gate,
        s1_virtual_classification,
        s2_edge_catalogue,
        s3_edge_alias,
        s4_routing_contract,
        s5_validation,
    )

    gate = ("s0_gate_receipt_3B", "sealed_inputs_3B")
    up = tuple(f"validation_bundle_{s}" for s in ("1A", "1B", "2A", "2B", "3A"))
    return (
        StateSpec("3B", "S0", s0_gate.run, gate, up),
        StateSpec(
            "3B",
            "S1",
            s1_virtual_classification.run,
            (
                "virtual_classification_3B",
                "virtual_settlement_3B",
                "rng_trace_log_3B_S1",
                "rng_audit_log_3B_S1",
            ),
            (*gate, "merchant_universe", "outlet_catalogue", "site_timezones", "site_locations"),
        ),
        StateSpec(
            "3B",
            "S2",
            s2_edge_catalogue.run,
            ("edge_catalogue_3B", "rng_trace_log_3B_S2", "rng_audit_log_3B_S2"),
            (
                *gate,
                "virtual_classification_3B",
                "virtual_settlement_3B",
                "s1_country_reference",
                "s1_tile_index",
            ),
        ),
        StateSpec(
            "3B",
            "S3",
            s3_edge_alias.run,
            ("edge_alias_index_3B", "edge_alias_blob_3B"),
            (*gate, "edge_catalogue_3B"),
        ),
        StateSpec(
            "3B",
            "S4",
            s4_routing_contract.run,
            ("edge_universe_hash_3B", "virtual_routing_policy_3B"),
            (
                *gate,
                "virtual_classification_3B",
                "virtual_settlement_3B",
                "edge_catalogue_3B",
                "edge_alias_index_3B",
                "edge_alias_blob_3B",
                "zone_alloc_universe_hash",
                "s2_alias_blob",
                "s2_alias_index",
            ),
        ),
        StateSpec(
            "3B",
            "S5",
            s5_validation.run,
            ("validation_bundle_3B",),
            (
                "virtual_classification_3B",
                "virtual_settlement_3B",
                "rng_trace_log_3B_S1",
                "rng_audit_log_3B_S1",
                "edge_catalogue_3B",
                "rng_trace_log_3B_S2",
                "rng_audit_log_3B_S2",
                "edge_alias_index_3B",
                "edge_alias_blob_3B",
                "edge_universe_hash_3B",
                "virtual_routing_policy_3B",
            ),
        ),
    )


def _layer2_5a() -> tuple[StateSpec, ...]:
    from engine_core.segments.seg_5A import (
        s0_gate,
        s1_scenarios,
        s2_shapes,
        s3_profiles,
        s4_state,
        s5_surfaces,
        s6_validation,
    )

    gate = ("s0_gate_receipt_5A", "sealed_inputs_5A")
    up = tuple(f"validation_bundle_{s}" for s in ("1A", "1B", "2A", "2B", "3A", "3B"))
    return (
        StateSpec("5A", "S0", s0_gate.run, gate, up),
        StateSpec(
            "5A",
            "S1",
            s1_scenarios.run,
            ("scenario_manifest_5A", "holiday_calendar_5A"),
            (*gate, "s1_country_reference"),
        ),
        StateSpec(
            "5A",
            "S2",
            s2_shapes.run,
            ("shape_grid_definition_5A", "class_zone_shape_5A"),
            (*gate, "s1_country_reference"),
        ),
        StateSpec(
            "5A",
            "S3",
            s3_profiles.run,
            ("merchant_zone_profile_5A",),
            (*gate, "zone_alloc", "merchant_universe", "virtual_classification_3B"),
        ),
        StateSpec(
            "5A",
            "S4",
            s4_state.run,
            ("merchant_zone_overlay_factors_5A",),
            (
                *gate,
                "merchant_zone_profile_5A",
                "holiday_calendar_5A",
                "scenario_manifest_5A",
                "tz_timetable_cache",
            ),
            scenario_scoped=True,
        ),
        StateSpec(
            "5A",
            "S5",
            s5_surfaces.run,
            ("merchant_zone_scenario_utc_5A", "merchant_zone_scenario_local_5A"),
            (
                *gate,
                "merchant_zone_profile_5A",
                "class_zone_shape_5A",
                "merchant_zone_overlay_factors_5A",
            ),
            scenario_scoped=True,
        ),
        StateSpec(
            "5A",
            "S6",
            s6_validation.run,
            ("validation_bundle_5A",),
            (
                "merchant_zone_profile_5A",
                "merchant_zone_overlay_factors_5A",
                "merchant_zone_scenario_utc_5A",
                "merchant_zone_scenario_local_5A",
                "class_zone_shape_5A",
                "holiday_calendar_5A",
                "scenario_manifest_5A",
                "shape_grid_definition_5A",
            ),
            scenario_scoped=True,
        ),
    )


def _layer2_5b() -> tuple[StateSpec, ...]:
    from engine_core.segments.seg_5B import (
        s0_gate,
        s1_grid,
        s2_latent,
        s3_counts,
        s4_arrivals,
        s5_validation,
    )
    from engine_core.segments.seg_5B.base import VIRTUAL_INPUTS

    gate = ("s0_gate_receipt_5B", "sealed_inputs_5B")
    l1 = (
        "s3_day_effects",
        "s2_alias_index",
        "s2_alias_blob",
        "s1_site_weights",
        "site_timezones",
        "tz_timetable_cache",
        *VIRTUAL_INPUTS,
    )
    return (
        StateSpec("5B", "S0", s0_gate.run, gate, ("validation_bundle_5A",), scenario_scoped=True),
        StateSpec(
            "5B",
            "S1",
            s1_grid.run,
            ("s1_time_grid_5B", "s1_grouping_5B"),
            (*gate, "scenario_manifest_5A", "merchant_zone_profile_5A"),
            scenario_scoped=True,
        ),
        StateSpec(
            "5B",
            "S2",
            s2_latent.run,
            (
                "s2_latent_field_5B",
                "s2_realised_intensity_5B",
                "rng_trace_log_5B_S2",
                "rng_audit_log_5B_S2",
            ),
            (*gate, "s1_grouping_5B", "merchant_zone_scenario_utc_5A", "s3_day_effects"),
            scenario_scoped=True,
        ),
        StateSpec(
            "5B",
            "S3",
            s3_counts.run,
            ("s3_bucket_counts_5B", "rng_trace_log_5B_S3", "rng_audit_log_5B_S3"),
            (*gate, "s1_grouping_5B", "s2_realised_intensity_5B", "rng_trace_log_5B_S2"),
            scenario_scoped=True,
        ),
        StateSpec(
            "5B",
            "S4",
            s4_arrivals.run,
            ("arrival_events_5B", "rng_trace_log_5B_S4", "rng_audit_log_5B_S4"),
            (
                *gate,
                "s1_grouping_5B",
                "s3_bucket_counts_5B",
                "rng_trace_log_5B_S3",
                *l1[1:3],
                *l1[5:],
            ),
            scenario_scoped=True,
        ),
        StateSpec(
            "5B",
            "S5",
            s5_validation.run,
            ("validation_bundle_5B",),
            (
                "s1_time_grid_5B",
                "s1_grouping_5B",
                "s2_latent_field_5B",
                "s2_realised_intensity_5B",
                "rng_trace_log_5B_S2",
                "rng_audit_log_5B_S2",
                "s3_bucket_counts_5B",
                "rng_trace_log_5B_S3",
                "rng_audit_log_5B_S3",
                "arrival_events_5B",
                "rng_trace_log_5B_S4",
                "rng_audit_log_5B_S4",
                *l1,
            ),
            scenario_scoped=True,
        ),
    )


STATES: tuple[StateSpec, ...] = (
    StateSpec("ENGINE", "manifest", manifest_state, ("manifest_record",)),
    *_layer1(),
    *_layer1_1b(),
    *_layer1_2a(),
    *_layer1_2b(),
    *_layer1_3a(),
    *_layer1_3b(),
    *_layer2_5a(),
    *_layer2_5b(),
)


def published_outputs(spec: StateSpec, ctx: RunContext):
    """The state's outputs if every one is already published for this partition, else None.

    A scenario-free state's outputs are identical for every scenario of a world (same mf and
    seed ⇒ same bytes), so a later scenario reuses them without recomputing (A§7). A validation
    bundle without its flag is a failed segment and is re-raised, never reused."""
    import json

    from engine_core.io.datasets import PublishResult
    from engine_core.io.publish import REUSED, tree_listing
    from engine_core.segments.common import dataset_path

    if spec.scenario_scoped:
        return None
    outs = []
    for ds in spec.outputs:
        path = dataset_path(ctx, ds)
        if not path.exists():
            return None
        if ds.startswith("validation_bundle_") and not (path / "_passed.flag").exists():
            report = json.loads((path / f"validation_report_{spec.segment}.json").read_bytes())
            failed = [
                c["check_id"] for c in report["checks"] if c["status"] == "FAIL" and c["enforced"]
            ]
            raise EngineError(
                "VALIDATION_FAILED",
                spec.state_id,
                f"failed checks: {', '.join(failed)} (published report at {path})",
            )
        if path.is_dir():
            files = [
                ((path / r).relative_to(ctx.data_root).as_posix(), d) for r, d in tree_listing(path)
            ]
        else:
            from engine_core.identity import file_sha256

            files = [(path.relative_to(ctx.data_root).as_posix(), file_sha256(path))]
        outs.append(PublishResult(ds, path, REUSED, 0, files))
    return StateResult(spec.state_id, outs, metadata={"reused_without_recompute": True})


def select_until(until: str | None) -> list[StateSpec]:
    """States in dependency order up to and including ``SEG`` (all its states) or
    ``SEG.STATE``."""
    if until is None:
        return list(STATES)
    ids = [s.state_id for s in STATES]
    segs = [s.segment for s in STATES]
    if until in ids:
        return list(STATES[: ids.index(until) + 1])
    if until in segs:
        last = max(i for i, s in enumerate(segs) if s == until)
        return list(STATES[: last + 1])
    known = ", ".join(dict.fromkeys(segs)) + "; states: " + ", ".join(ids)
    raise EngineError("USAGE", detail=f"--until {until}: not a registered segment/state ({known})")


def segment_checks(segment: str):
    """The check list of a segment (what its validation state and asset checks run)."""
    import importlib

    return importlib.import_module(f"engine_core.segments.seg_{segment}.checks").CHECKS


def all_checks():
    return [
        c
        for seg in dict.fromkeys(s.segment for s in STATES if s.segment != "ENGINE")
        for c in segment_checks(seg)
    ]
