"""The weekly-profile time law (layer3 §4.2 step 4): inverse CDF over civil segments — uniform
weights give uniform UTC times, slot shares follow weight × exposure (chi-square), a skipped
spring-forward hour gets no time and a repeated autumn hour twice the mass."""

import numpy as np
import pytest
from scipy import stats

from engine_core.kernels import tzcache
from engine_core.kernels.weekly_time import build_laws, draw_times
from engine_core.timeutil import parse_utc

ZONES = ["America/New_York", "Asia/Kolkata", "Europe/Berlin"]
N = 200_000


@pytest.fixture(scope="module")
def cache():
    return tzcache.build(
        ZONES,
        parse_utc("2026-01-01T00:00:00Z"),
        parse_utc("2027-01-01T00:00:00Z"),
        3600,
        "2026f",
        workers=1,
    )


def _u(n, seed=7):
    return np.random.default_rng(seed).random(n)  # test uniforms, not engine randomness


def _local(cache, tz, t_us):
    t = t_us // 1_000_000
    z = np.full(t.size, int(cache.zone_index([tz])[0]))
    return t + cache.offset_at(z, t).astype(np.int64)


def _slot(local_s):
    days, hour = local_s // 86_400, (local_s % 86_400) // 3600
    return 24 * ((days + 3) % 7) + hour  # 1970-01-01 was a Thursday (Monday = 0)


def test_uniform_weights_give_uniform_utc_times(cache):
    s, e = parse_utc("2026-03-02T00:00:00Z"), parse_utc("2026-03-30T00:00:00Z")
    laws = build_laws(cache, ["Europe/Berlin"], s, e, np.ones(168))
    t = draw_times(laws, np.zeros(N, np.int64), _u(N))
    assert t.min() >= s * 1_000_000 and t.max() < e * 1_000_000
    x = (t / 1e6 - s) / (e - s)
    assert stats.kstest(x, "uniform").pvalue > 1e-3


def test_sorted_uniforms_give_sorted_times(cache):
    s, e = parse_utc("2026-03-02T00:00:00Z"), parse_utc("2026-04-06T00:00:00Z")
    w = 0.1 + np.arange(168) % 24
    laws = build_laws(cache, ["America/New_York"], s, e, w)
    t = draw_times(laws, np.zeros(10_000, np.int64), np.sort(_u(10_000)))
    assert (np.diff(t) >= 0).all()


def test_slot_shares_follow_weight_times_exposure(cache):
    s, e = parse_utc("2026-05-04T00:00:00Z"), parse_utc("2026-06-01T00:00:00Z")  # 4 weeks
    w = np.random.default_rng(3).uniform(0.1, 2.0, 168)
    laws = build_laws(cache, ["Asia/Kolkata"], s, e, w)
    t = draw_times(laws, np.zeros(N, np.int64), _u(N))
    got = np.bincount(_slot(_local(cache, "Asia/Kolkata", t)), minlength=168)
    want = w / w.sum() * N  # every slot is exposed exactly four whole hours
    assert stats.chisquare(got, want).pvalue > 1e-3


def test_spring_gap_has_no_time_and_autumn_overlap_twice_the_mass(cache):
    tz = "Europe/Berlin"
    for day, gap in (("2026-03-29", True), ("2026-10-25", False)):
        s = parse_utc(f"{day}T00:00:00Z") - 86_400
        laws = build_laws(cache, [tz], s, s + 3 * 86_400, np.ones(168))
        t = draw_times(laws, np.zeros(N, np.int64), _u(N))
        local = _local(cache, tz, t)
        on_day = local // 86_400 == parse_utc(f"{day}T00:00:00Z") // 86_400
        hours = np.bincount((local[on_day] % 86_400) // 3600, minlength=24)
        if gap:
            assert hours[2] == 0 and hours[1] > 0 and hours[3] > 0
        else:
            ratio = hours[2] / hours[[1, 3, 4]].mean()
            assert 1.85 < ratio < 2.15  # 7 200 s of exposure vs 3 600 s


def test_zones_in_one_call_equal_zones_alone(cache):
    s, e = parse_utc("2026-03-02T00:00:00Z"), parse_utc("2026-03-16T00:00:00Z")
    w = 0.5 + (np.arange(168) % 7)
    laws = build_laws(cache, ZONES, s, e, w)
    zone = np.arange(3000) % 3
    u = _u(3000)
    t = draw_times(laws, zone, u)
    for i, tz in enumerate(ZONES):
        alone = build_laws(cache, [tz], s, e, w)
        m = zone == i
        assert np.array_equal(draw_times(alone, np.zeros(m.sum(), np.int64), u[m]), t[m])


@pytest.mark.parametrize("bad", [np.ones(167), np.r_[np.ones(167), 0.0]])
def test_a_profile_without_168_positive_weights_is_refused(cache, bad):
    s = parse_utc("2026-03-02T00:00:00Z")
    with pytest.raises(ValueError, match="168 weights"):
        build_laws(cache, ["Europe/Berlin"], s, s + 86_400, bad)
