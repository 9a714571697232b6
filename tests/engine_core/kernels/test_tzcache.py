"""The TZC2 tz cache against zoneinfo: exact transition seconds, half-hour zones, binary
round trip, coverage errors."""

import datetime as dt

import numpy as np
import pytest

from engine_core.errors import EngineError
from engine_core.kernels import tzcache
from engine_core.timeutil import parse_utc

START = parse_utc("2025-03-01T00:00:00Z")
END = parse_utc("2027-01-01T00:00:00Z")


@pytest.fixture(scope="module")
def cache():
    zones = [
        "Europe/Berlin",
        "America/St_Johns",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
        "Pacific/Chatham",
        "Africa/Casablanca",
        "Etc/UTC",
        "America/New_York",
    ]
    return tzcache.build(zones, START, END, 3600, "2026f", workers=1)


def ref_offset(tzid, t):
    # the sealed tzdata wheel, not the host's /usr/share/zoneinfo (which may be older)
    return int(dt.datetime.fromtimestamp(t, tzcache._zone(tzid)).utcoffset().total_seconds())


def test_known_transitions_to_the_second(cache):
    z = cache.zone_index(["Europe/Berlin"])[0]
    inst = cache.instants[cache.first[z] : cache.first[z] + cache.count[z]]
    assert parse_utc("2026-03-29T01:00:00Z") in inst.tolist()  # EU spring forward
    assert parse_utc("2025-10-26T01:00:00Z") in inst.tolist()  # EU fall back
    sj = cache.zone_index(["America/St_Johns"])[0]
    sj_inst = cache.instants[cache.first[sj] : cache.first[sj] + cache.count[sj]].tolist()
    assert parse_utc("2026-03-08T05:30:00Z") in sj_inst  # inside a UTC bucket
    k = cache.zone_index(["Asia/Kolkata"])[0]
    assert cache.count[k] == 0 and cache.initial_offset[k] == 19800
    lh = cache.zone_index(["Australia/Lord_Howe"])[0]
    offs = set(cache.offsets[cache.first[lh] : cache.first[lh] + cache.count[lh]].tolist())
    assert offs == {37800, 39600}  # +10:30 / +11:00 half-hour DST


def test_every_half_hour_agrees_with_zoneinfo(cache):
    grid = np.arange(START + 1800, END, 1800, dtype=np.int64)
    for i, tzid in enumerate(cache.tzids):
        got = cache.offset_at(np.full(grid.shape[0], i), grid)
        sample = grid[::97]
        want = np.array([ref_offset(tzid, int(t)) for t in sample])
        assert np.array_equal(got[::97], want), tzid
    # transition exactness: one second before and at the instant
    zone = np.repeat(np.arange(len(cache.tzids)), cache.count)
    assert np.array_equal(cache.offset_at(zone, cache.instants), cache.offsets)
    assert np.array_equal(cache.offset_at(zone, cache.instants - 1), cache.before)


def test_binary_round_trip_and_layout(cache):
    data = tzcache.encode(cache)
    assert data[:4] == b"TZC2" and data[6:8] == b"\xff\xfe" and len(data) % 8 == 0
    back = tzcache.decode(data)
    assert back.tzids == sorted(cache.tzids, key=str.encode)
    for f in ("initial_offset", "first", "count", "instants", "offsets", "is_dst"):
        assert np.array_equal(getattr(back, f), getattr(cache, f)), f
    assert back.iana_release == "2026f"
    with pytest.raises(EngineError, match="TZ_CACHE_INVALID"):
        tzcache.decode(data[:-8])
    with pytest.raises(EngineError, match="TZ_CACHE_INVALID"):
        tzcache.decode(b"TZC1" + data[4:])


def test_lookup_outside_coverage_is_an_error(cache):
    with pytest.raises(EngineError, match="TZ_CACHE_COVERAGE"):
        cache.offset_at(np.array([0]), np.array([END]))
    with pytest.raises(EngineError, match="TZ_NOT_IN_TZDATA"):
        cache.zone_index(["Mars/Olympus"])
