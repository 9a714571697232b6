"""Times from a weekly local-time profile without local→UTC inversion (layer3 §4.2 step 4).

A party's transfer and credit times follow the rate ``weekly_profile[slot(local time)]`` over
the UTC horizon. Per zone the horizon is cut into the civil segments of layer2 §1.7 (one
offset and one local hour each); segment ``j`` carries mass ``w[slot_j] · seconds_j``, so a
skipped spring-forward hour has no segment (mass 0) and a repeated autumn hour has two (twice
the mass). A uniform ``u`` maps to a UTC instant by inverse CDF over those masses: the
segment by binary search on the cumulative mass, the instant linearly inside it. Only IEEE
arithmetic (no transcendental), so the bits are the same on every machine.

Laws of many zones are concatenated (CSR: zone ``z`` owns segments ``ptr[z]:ptr[z+1]``) and
drawn in one numba call per batch."""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from engine_core.kernels.civil import civil_segments
from engine_core.kernels.tzcache import TzCache

WEEK_SLOTS = 168
US = 1_000_000


@dataclass(frozen=True)
class TimeLaws:
    """Inverse-CDF tables of several zones (``tzids`` in the order given)."""

    tzids: tuple[str, ...]
    ptr: np.ndarray  # int64, len(tzids) + 1
    start: np.ndarray  # int64 UTC seconds of each segment
    seconds: np.ndarray  # int64 segment length
    cum: np.ndarray  # float64 mass before each segment, zone-local (starts at 0)
    total: np.ndarray  # float64 mass per zone

    def index(self, tzids) -> np.ndarray:
        pos = {t: i for i, t in enumerate(self.tzids)}
        return np.array([pos[t] for t in tzids], np.int64)


def build_laws(
    cache: TzCache, tzids, start: int, end: int, weights, bucket_seconds: int = 3600
) -> TimeLaws:
    """The laws of ``tzids`` over ``[start, end)`` (UTC seconds) for 168 weights (local
    Monday 00h first, all > 0: checked by 6B.S0)."""
    w = np.asarray(weights, np.float64)
    if w.shape != (WEEK_SLOTS,) or not (w > 0).all():
        raise ValueError("weekly profile: 168 weights, all > 0")
    starts, secs, cums, totals, ptr = [], [], [], [], [0]
    for tz in tzids:
        seg = civil_segments(cache, tz, start, end, bucket_seconds)
        mass = w[seg.slot.astype(np.int64)] * seg.seconds.astype(np.float64)
        c = np.concatenate([[0.0], np.cumsum(mass)])  # sequential sum: fixed order
        starts.append(seg.start.astype(np.int64))
        secs.append(seg.seconds.astype(np.int64))
        cums.append(c[:-1])
        totals.append(c[-1])
        ptr.append(ptr[-1] + seg.start.size)
    return TimeLaws(
        tuple(tzids),
        np.array(ptr, np.int64),
        np.concatenate(starts) if starts else np.zeros(0, np.int64),
        np.concatenate(secs) if secs else np.zeros(0, np.int64),
        np.concatenate(cums) if cums else np.zeros(0),
        np.array(totals, np.float64),
    )


@nb.njit(cache=True, nogil=True)
def _draw(ptr, start, seconds, cum, total, zone, u, out):
    for i in range(u.size):
        z = zone[i]
        lo, hi = ptr[z], ptr[z + 1]
        m = u[i] * total[z]
        # last segment with cum ≤ m (binary search inside the zone's range)
        a, b = lo, hi - 1
        while a < b:
            mid = (a + b + 1) >> 1
            if cum[mid] <= m:
                a = mid
            else:
                b = mid - 1
        seg_mass = (cum[a + 1] if a + 1 < hi else total[z]) - cum[a]
        frac = (m - cum[a]) / seg_mass if seg_mass > 0 else 0.0
        off = np.int64(frac * seconds[a] * 1_000_000)
        if off >= seconds[a] * 1_000_000:  # u < 1 strictly, but keep the segment half-open
            off = seconds[a] * 1_000_000 - 1
        out[i] = start[a] * 1_000_000 + off


def draw_times(laws: TimeLaws, zone: np.ndarray, u: np.ndarray) -> np.ndarray:
    """UTC instants (int64 µs) for uniforms ``u`` in (0, 1) under the laws ``zone`` index."""
    u = np.ascontiguousarray(u, np.float64)
    out = np.empty(u.size, np.int64)
    _draw(
        laws.ptr,
        laws.start,
        laws.seconds,
        laws.cum,
        laws.total,
        np.ascontiguousarray(zone, np.int64),
        u,
        out,
    )
    return out
