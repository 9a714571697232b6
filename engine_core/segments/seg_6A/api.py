"""What other segments may use of 6A (the segments-are-independent contract): the 1° home
cell of a coordinate and the UN M49 region law, so 6B keys sites and countries exactly as
6A keyed its parties."""

from __future__ import annotations

import numpy as np

from engine_core.segments.seg_6A.base import regions_of


def cell_of(lat, lon, grid: float) -> np.ndarray:
    """The ``grid``° cell id of 6A.S1 home cells:
    ``(⌊lat/g⌋ + 90/g)·(360/g) + ⌊lon/g⌋ + 180/g``."""
    per_row = int(round(360 / grid))
    lat = np.asarray(lat, np.float64)
    lon = np.asarray(lon, np.float64)
    return (np.floor(lat / grid) + 90 / grid).astype(np.int64) * per_row + (
        np.floor(lon / grid) + 180 / grid
    ).astype(np.int64)


__all__ = ["cell_of", "regions_of"]
