"""The sealed tz timetable cache as layer 2 reads it (2A's ``tz_timetable_cache``): loading
it, and the T11 check that it covers a horizon and agrees with the sealed zoneinfo."""

from __future__ import annotations

import json

import numpy as np

from engine_core.context import RunContext
from engine_core.errors import EngineError
from engine_core.kernels import tzcache
from engine_core.segments.common import input_path

MARGIN = 14 * 86_400  # coverage the cache must have on each side of the horizon [S, E)


def load_cache(ctx: RunContext) -> tzcache.TzCache:
    return tzcache.decode((input_path(ctx, "tz_timetable_cache") / "tz_cache.bin").read_bytes())


def check_cache(ctx: RunContext, s: int, e: int, tzids: list[str], *, state: str = "5A.S0") -> dict:
    """Coverage ⊇ [S − 14 d, E + 14 d); every hour of [S, E) and every transition in the
    window agrees with the sealed zoneinfo for every domain tzid (T11). ``state`` is the
    state errors name (5A.S0, whose gate the check belongs to, for every caller)."""
    import tzdata

    d = input_path(ctx, "tz_timetable_cache")
    cache = tzcache.decode((d / "tz_cache.bin").read_bytes())
    if cache.coverage_start > s - MARGIN or cache.coverage_end < e + MARGIN:
        raise EngineError("TZ_CACHE_COVERAGE", state, f"{d}: coverage misses [S − 14 d, E + 14 d)")
    man = json.loads((d / "tz_cache_manifest.json").read_bytes())
    if man["tzdata_version"] != tzdata.__version__:
        raise EngineError(
            "TZDATA_VERSION_MISMATCH",
            state,
            f"{d}: tzdata {man['tzdata_version']} != sealed {tzdata.__version__}",
        )
    grid = np.arange(s, e, 3600, dtype=np.int64)
    zi = cache.zone_index(tzids)
    mismatches = 0
    for z, tz in zip(zi.tolist(), tzids, strict=True):  # one zoneinfo scan per domain tzid
        lo, n = int(cache.first[z]), int(cache.count[z])
        tr = cache.instants[lo : lo + n]
        tr = tr[(tr >= s - MARGIN) & (tr < e + MARGIN)]
        pts = np.concatenate([grid, tr, tr - 1])
        got = cache.offset_at(np.full(pts.shape[0], z), pts)
        mismatches += int((got != tzcache.zoneinfo_offsets((tz, pts))).sum())
    if mismatches:
        raise EngineError("TZ_CACHE_DISAGREES_ZONEINFO", state, f"{mismatches} offsets differ")
    return {"tzids": len(tzids), "hours_checked": int(grid.shape[0] * len(tzids))}
