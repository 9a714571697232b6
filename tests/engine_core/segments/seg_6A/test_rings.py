"""6A.S5 rings (layer3 §3.6 step 7): at reference scale (≈ 2 900 mules over ≈ 240 rings
of one region, σ = 0.8) plain LRR on lognormal weights empties the lightest rings; sizes
are one mule each plus an LRR of the rest, so every ring has a mule and all mules that
have a ring sum exactly."""

from types import SimpleNamespace

import numpy as np

from engine_core.segments.seg_6A import s5_rings
from engine_core.segments.seg_6A.base import StateRng

POL = {"rings": {"mules_per_ring_mean": 12, "ring_size_sigma": 0.8, "ring_size_max": 200}}


def test_rings_are_never_empty_and_cover_every_mule():
    ctx = SimpleNamespace(mf="0" * 64, ph="1" * 64, seed=7)
    for n, regions in ((2911, ["EUR_W"]), (40_000, ["A", "B", "C"]), (13, ["A", "B"])):
        rng = StateRng(ctx, "6A.S5")
        mules = np.arange(n)
        region = np.arange(n) % len(regions)
        ring_of, ring_region, words = s5_rings.form_rings(rng, POL, mules, region, regions, {})
        k = ring_region.size
        assert k == max(1, round(n / 12)) and words.shape == (k, 2 * s5_rings.RING_BLOCKS)
        sizes = np.bincount(ring_of[ring_of >= 0], minlength=k)
        assert sizes.min() >= 1 and sizes.max() <= 200
        # lone mules only in a region allotted no ring (13 mules → 1 ring for 2 regions)
        ringed = np.unique(ring_region)
        assert ((ring_of >= 0) == np.isin(region, ringed)).all()
        if n > 1000:
            assert np.median(sizes) > 5  # still spread around the mean, not flattened
