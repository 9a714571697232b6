"""5A.S4 state — overlay factors for one scenario, written in domain parts of 2048 rows."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import polars as pl
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.kernels import tzcache
from engine_core.segments.common import read_table
from engine_core.segments.seg_5A import s2_shapes
from engine_core.segments.seg_5A.constants import PART_ROWS
from engine_core.segments.seg_5A.s1_scenarios import horizon
from engine_core.segments.seg_5A.s3_profiles import fixed_dictionary
from engine_core.segments.seg_5A.s4_overlays import Calendar, overlay_rows
from engine_core.segments.state_io import open_state
from engine_core.segments.tz import load_cache

STATE = "5A.S4"
DATASET = "merchant_zone_overlay_factors_5A"
DAY = 86_400


def local_day_range(
    cache: tzcache.TzCache, tzids: list[str], s: int, e: int
) -> dict[str, tuple[int, int]]:
    """[date(local(S)), date(local(E − 1 µs))] per tzid, as days since the epoch."""
    z = cache.zone_index(tzids)
    o_s = cache.offset_at(z, np.full(z.shape[0], s)).astype(np.int64)
    o_e = cache.offset_at(z, np.full(z.shape[0], e - 1)).astype(np.int64)
    first = (s + o_s) // DAY
    last = (e - 1 + o_e) // DAY
    return {t: (int(a), int(b)) for t, a, b in zip(tzids, first, last, strict=True)}


def scenario_row(ctx: RunContext) -> dict:
    rows = [
        r
        for r in ctx.manifest.policies["scenarios_5A"]["scenarios"]
        if r["scenario_id"] == ctx.scenario_id
    ]
    if not rows:
        raise EngineError("SCENARIO_NOT_IN_MANIFEST", STATE, f"{ctx.scenario_id}")
    return rows[0]


def build(ctx: RunContext) -> Iterator[pa.Table]:
    pol = ctx.manifest.policies
    s, e, _ = horizon(pol["scenarios_5A"], pol["horizon_world"])
    profile = pl.from_arrow(read_table(ctx, "merchant_zone_profile_5A", state=STATE)).with_columns(
        pl.col(c).cast(pl.String) for c in ("tzid", "channel_group", "demand_class")
    )
    cache = load_cache(ctx)
    tzids = sorted(profile["tzid"].unique().to_list())
    days = local_day_range(cache, tzids, s, e)
    d0 = min(a for a, _ in days.values()) - 14
    n = max(b for _, b in days.values()) - d0 + 15
    countries = sorted(profile["legal_country_iso"].unique().to_list())
    hol = pl.from_arrow(read_table(ctx, "holiday_calendar_5A", state=STATE))
    conv = s2_shapes.conventions(pol["shapes_5A"], countries)
    cal = Calendar(countries, d0, n, hol, {c: conv[c][0] for c in countries})
    sc = scenario_row(ctx)
    for start in range(0, profile.height, PART_ROWS):  # the domain part law (layer2 §1.3)
        part = profile.slice(start, PART_ROWS)
        rows = overlay_rows(part, days, cal, sc, pol["overlays_5A"])
        t = rows.to_arrow()
        for col, vocab in (("tzid", cache.tzids), ("channel_group", list(s2_shapes.CHANNELS))):
            i = t.schema.get_field_index(col)
            t = t.set_column(i, col, fixed_dictionary(t.column(col).to_pylist(), vocab))
        yield t


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    res = io.write(DATASET, build(ctx))
    return io.result(rows=res.rows)
