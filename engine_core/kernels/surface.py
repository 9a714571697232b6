"""5A.S5 surface kernel (layer2 §2.6): integrate rate·seconds over the civil segments of a zone
into the UTC buckets and the local hours of each row. numba (sequential, fastmath off) with a
numpy reference for the A6 recomputation check."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def surface_nb(
    weekly,
    shape_w,
    shape_idx,
    overlay,
    seg_slot,
    seg_day,
    seg_seconds,
    seg_bucket,
    seg_hour,
    n_buckets,
    n_hours,
):
    """``weekly`` (rows), ``shape_w`` (shapes × 168), ``overlay`` (rows × local days, day 0 =
    the zone's first local date), segments in UTC order. Returns (utc rows × H, local rows × L).
    rate·seconds = weekly · w[slot] · overlay[date] · seconds / 3600 s."""
    n = weekly.shape[0]
    utc = np.zeros((n, n_buckets))
    local = np.zeros((n, n_hours))
    for r in range(n):
        k = shape_idx[r]
        for s in range(seg_slot.shape[0]):
            v = (
                weekly[r]
                * shape_w[k, seg_slot[s]]
                * overlay[r, seg_day[s]]
                * np.float64(seg_seconds[s])
                / 3600.0
            )
            utc[r, seg_bucket[s]] += v
            local[r, seg_hour[s]] += v
    return utc, local


def surface_reference(
    weekly,
    shape_w,
    shape_idx,
    overlay,
    seg_slot,
    seg_day,
    seg_seconds,
    seg_bucket,
    seg_hour,
    n_buckets,
    n_hours,
):
    """numpy twin: the same law with vectorised products and ``np.add.at`` sums."""
    v = (
        weekly[:, None]
        * shape_w[shape_idx][:, seg_slot]
        * overlay[:, seg_day]
        * seg_seconds.astype(np.float64)[None, :]
        / 3600.0
    )
    utc = np.zeros((weekly.shape[0], n_buckets))
    local = np.zeros((weekly.shape[0], n_hours))
    rows = np.repeat(np.arange(weekly.shape[0]), seg_slot.shape[0])
    np.add.at(utc, (rows, np.tile(seg_bucket, weekly.shape[0])), v.reshape(-1))
    np.add.at(local, (rows, np.tile(seg_hour, weekly.shape[0])), v.reshape(-1))
    return utc, local
