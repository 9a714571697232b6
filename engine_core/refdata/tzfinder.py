"""The timezone polygon finder over the sealed ``timezonefinder-data`` files (in memory)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def finder():
    from timezonefinder import TimezoneFinder

    return TimezoneFinder(in_memory=True)


def zone_ids(lats: np.ndarray, lons: np.ndarray, *, land_only: bool) -> np.ndarray:
    """int16 finder zone ids for points (one vectorised call); −1 where there is none
    (``land_only`` also maps the finder's ocean zones ``Etc/GMT±N`` to −1)."""
    tf = finder()
    lats = np.ascontiguousarray(lats, dtype=np.float64)
    lons = np.ascontiguousarray(lons, dtype=np.float64)
    if lats.size == 0:
        return np.empty(0, dtype=np.int16)
    call = tf.timezone_ids_at_land if land_only else tf.timezone_ids_at
    return np.asarray(call(lngs=lons, lats=lats), dtype=np.int16)


def zone_names() -> np.ndarray:
    return np.array(finder().timezone_names, dtype=object)
