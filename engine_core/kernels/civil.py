"""Civil-time segments (layer2 §1.7 ``civil_segments``): split a UTC horizon at every bucket
boundary, every transition of the zone and every instant where local time crosses a whole
local hour, so that every segment has one UTC bucket, one offset and one local hour.

Everything is integer seconds from the sealed tz cache — no local→UTC inversion anywhere, so a
skipped spring-forward hour simply has no segment (exposure 0) and a repeated autumn hour gets
two (exposure 7200 s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine_core.kernels.tzcache import TzCache

HOUR = 3600
DAY = 86_400


@dataclass(frozen=True)
class CivilSegments:
    """Segments of one zone over [S, E), in UTC order (all arrays the same length)."""

    start: np.ndarray  # int64 UTC seconds
    seconds: np.ndarray  # int64 length
    bucket_index: np.ndarray  # int32 UTC bucket of the segment
    offset: np.ndarray  # int32 UTC offset in force
    local_hour: np.ndarray  # int64 floor(local / 3600 s)
    local_day: np.ndarray  # int64 days since the epoch of the local date
    slot: np.ndarray  # int16 24·dow + hour, dow 0 = Monday

    @property
    def h_min(self) -> int:
        return int(self.local_hour.min())

    @property
    def h_max(self) -> int:
        return int(self.local_hour.max())


def civil_segments(
    cache: TzCache, tzid: str, start: int, end: int, bucket_seconds: int = HOUR
) -> CivilSegments:
    """The §1.7 segments of ``tzid`` over ``[start, end)`` (seconds; start bucket-aligned)."""
    if (end - start) % bucket_seconds or end <= start:
        raise ValueError("the horizon must be a positive whole number of buckets")
    z = int(cache.zone_index([tzid])[0])
    lo, n = int(cache.first[z]), int(cache.count[z])
    trans = cache.instants[lo : lo + n]
    trans = trans[(trans > start) & (trans < end)]
    # constant-offset intervals [a, b) and the whole-local-hour crossings inside each
    edges = np.concatenate([[start], trans, [end]]).astype(np.int64)
    offs = cache.offset_at(np.full(edges.shape[0] - 1, z), edges[:-1]).astype(np.int64)
    crossings = []
    for a, b, o in zip(edges[:-1].tolist(), edges[1:].tolist(), offs.tolist(), strict=True):
        first = -((-(a + o)) // HOUR) * HOUR - o  # first t ≥ a with (t + o) ≡ 0 mod 1 h
        crossings.append(np.arange(first, b, HOUR, dtype=np.int64))  # ≤ a few per interval
    buckets = np.arange(start, end, bucket_seconds, dtype=np.int64)
    cuts = np.unique(np.concatenate([buckets, edges, *crossings]))
    cuts = cuts[(cuts >= start) & (cuts <= end)]
    seg_start, seg_end = cuts[:-1], cuts[1:]
    offset = cache.offset_at(np.full(seg_start.shape[0], z), seg_start).astype(np.int64)
    local = seg_start + offset
    local_hour = np.floor_divide(local, HOUR)
    local_day = np.floor_divide(local, DAY)
    dow = (local_day + 3) % 7  # 1970-01-01 was a Thursday
    return CivilSegments(
        start=seg_start,
        seconds=seg_end - seg_start,
        bucket_index=((seg_start - start) // bucket_seconds).astype(np.int32),
        offset=offset.astype(np.int32),
        local_hour=local_hour,
        local_day=local_day,
        slot=(24 * dow + np.mod(local_hour, 24)).astype(np.int16),
    )


def local_hour_exposure(seg: CivilSegments) -> tuple[np.ndarray, np.ndarray]:
    """``(local_hour, exposure_seconds)`` for every local hour h_min..h_max, contiguous
    (hours the horizon never lives through get exposure 0)."""
    hours = np.arange(seg.h_min, seg.h_max + 1, dtype=np.int64)
    exposure = np.bincount(
        seg.local_hour - seg.h_min, weights=seg.seconds, minlength=hours.shape[0]
    ).astype(np.int64)
    return hours, exposure
