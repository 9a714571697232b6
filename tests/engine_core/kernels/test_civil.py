"""civil_segments on the synthetic horizons of layer2 §8: gaps, overlaps, half-hour and
quarter-hour zones, a transition inside a bucket, and UTC."""

import numpy as np
import pytest

from engine_core.kernels import tzcache
from engine_core.kernels.civil import civil_segments, local_hour_exposure
from engine_core.timeutil import parse_utc

ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "America/St_Johns",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "Etc/UTC",
]


@pytest.fixture(scope="module")
def cache():
    return tzcache.build(
        ZONES,
        parse_utc("2025-06-01T00:00:00Z"),
        parse_utc("2027-06-01T00:00:00Z"),
        3600,
        "2026f",
        workers=1,
    )


def window(day_utc: str, days: int = 3):
    s = parse_utc(day_utc) - 86_400
    return s, s + days * 86_400


def exposure_by_local_hour(seg):
    hours, exp = local_hour_exposure(seg)
    return dict(zip(hours.tolist(), exp.tolist(), strict=True))


def local_hour_of(utc: str, offset_h: float) -> int:
    return (parse_utc(utc) + int(offset_h * 3600)) // 3600


@pytest.mark.parametrize("tzid", ZONES)
def test_conservation_and_bucket_tiling(cache, tzid):
    s, e = window("2026-03-29T00:00:00Z", 10)
    seg = civil_segments(cache, tzid, s, e)
    assert seg.seconds.sum() == e - s and (seg.seconds > 0).all()
    assert np.all(np.bincount(seg.bucket_index, weights=seg.seconds) == 3600)
    assert np.all(np.diff(seg.start) > 0)
    # each segment lies inside one local hour
    local_end = seg.start + seg.seconds + seg.offset.astype(np.int64) - 1
    assert np.all(local_end // 3600 == seg.local_hour)


def test_berlin_spring_gap_and_autumn_overlap(cache):
    s, e = window("2026-03-29T00:00:00Z")
    exp = exposure_by_local_hour(civil_segments(cache, "Europe/Berlin", s, e))
    two_am = local_hour_of("2026-03-29T01:00:00Z", 1.0)  # 02:00 local never happens
    assert exp[two_am] == 0 and exp[two_am - 1] == 3600 and exp[two_am + 1] == 3600
    day = (parse_utc("2026-03-29T00:00:00Z")) // 86_400
    seg = civil_segments(cache, "Europe/Berlin", s, e)
    assert seg.seconds[seg.local_day == day].sum() == 82_800
    s, e = window("2026-10-25T00:00:00Z")
    seg = civil_segments(cache, "Europe/Berlin", s, e)
    exp = exposure_by_local_hour(seg)
    two_am = local_hour_of("2026-10-25T00:00:00Z", 2.0)  # 02:00 local lived twice
    assert exp[two_am] == 7200
    assert seg.seconds[seg.local_day == parse_utc("2026-10-25T00:00:00Z") // 86_400].sum() == 90_000


def test_new_york_spring_forward(cache):
    s, e = window("2026-03-08T00:00:00Z")
    seg = civil_segments(cache, "America/New_York", s, e)
    day = parse_utc("2026-03-08T00:00:00Z") // 86_400
    assert seg.seconds[seg.local_day == day].sum() == 82_800
    assert exposure_by_local_hour(seg)[local_hour_of("2026-03-08T07:00:00Z", -5)] == 0


def test_st_johns_transition_inside_a_bucket(cache):
    s, e = window("2026-03-08T00:00:00Z")
    seg = civil_segments(cache, "America/St_Johns", s, e)
    t = parse_utc("2026-03-08T05:30:00Z")
    assert t in seg.start.tolist()  # the bucket [05:00, 06:00) is split at 05:30
    b = (t - s) // 3600
    assert sorted(seg.seconds[seg.bucket_index == b].tolist()) == [1800, 1800]
    # every other bucket is split at :30 by the half-hour offset
    assert (np.bincount(seg.bucket_index) >= 2).all()


def test_half_and_quarter_hour_zones(cache):
    s, e = window("2026-04-05T00:00:00Z", 4)
    for tzid, minute in (("Asia/Kolkata", 1800), ("Pacific/Chatham", 900)):
        seg = civil_segments(cache, tzid, s, e)
        assert set(np.mod(seg.start[1:], 3600).tolist()) <= {0, minute, 3600 - minute}
        days = np.unique(seg.local_day)[1:-1]
        per_day = {d: seg.seconds[seg.local_day == d].sum() for d in days.tolist()}
        assert set(per_day.values()) <= {86_400, 82_800, 90_000}
    # Lord Howe's DST moves by 30 minutes: one local hour gets 5400 s on the fall-back day
    seg = civil_segments(cache, "Australia/Lord_Howe", s, e)
    assert 5400 in exposure_by_local_hour(seg).values()


def test_utc_segments_are_buckets(cache):
    s, e = window("2026-03-29T00:00:00Z")
    seg = civil_segments(cache, "Etc/UTC", s, e)
    assert seg.seconds.shape[0] == (e - s) // 3600 and (seg.seconds == 3600).all()
    # slot: 1970-01-01 is Thursday → dow 3
    assert seg.slot[0] == 24 * ((s // 86_400 + 3) % 7) + 0


def test_surface_conserves_mass_and_zeroes_the_skipped_hour(cache):
    from engine_core.kernels.civil import local_hour_exposure
    from engine_core.kernels.surface import surface_nb, surface_reference

    s, e = window("2026-03-29T00:00:00Z")
    seg = civil_segments(cache, "Europe/Berlin", s, e)
    days = seg.local_day - seg.local_day.min()
    rng = np.random.default_rng(3)
    shape_w = rng.random((2, 168))
    shape_w /= shape_w.sum(axis=1, keepdims=True)
    weekly = np.array([700.0, 1234.5])
    overlay = rng.uniform(0.5, 1.5, (2, int(days.max()) + 1))
    hour = seg.local_hour - seg.h_min
    args = (
        weekly,
        shape_w,
        np.array([0, 1]),
        overlay,
        seg.slot.astype(np.int64),
        days,
        seg.seconds,
        seg.bucket_index.astype(np.int64),
        hour,
        int((e - s) // 3600),
        int(seg.h_max - seg.h_min + 1),
    )
    utc, local = surface_nb(*args)
    ref_utc, ref_local = surface_reference(*args)
    assert np.allclose(utc.sum(axis=1), local.sum(axis=1), rtol=1e-12, atol=0)
    assert np.max(np.abs(utc - ref_utc) / np.maximum(ref_utc, 1e-300)) <= 1e-12
    assert np.max(np.abs(local - ref_local) / np.maximum(ref_local, 1e-300)) <= 1e-12
    hours, exposure = local_hour_exposure(seg)
    assert (local[:, exposure == 0] == 0).all() and (exposure == 0).sum() == 1
