"""6B.S1 trips (layer3 §4.2 step 2) on a synthetic population: Poisson counts against scipy,
destinations abroad by affinity × outlets, start and duration laws, trace = 1 + 3·trips per
party, trip numbers by start, and rosters holding exactly the parties present."""

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from engine_core.rng.units import StateRng
from engine_core.segments.seg_6B.affinity import affinity_matrix
from engine_core.segments.seg_6B.families import FAMILIES
from engine_core.segments.seg_6B.s1_trips import DAY_US, destinations, plan_trips, rosters

COUNTRIES = ["DE", "FR", "MX", "US"]
REGION_OF = [0, 0, 1, 2]  # EUR_W, LATAM, NAM
REGIONS = ["EUR_W", "LATAM", "NAM"]
OUTLETS = [500, 300, 100, 1000]
POL = {
    "trips_per_year": {"RETAIL": 1.2, "BUSINESS": 4.0},
    "trip_days_median": {"RETAIL": 5.0, "BUSINESS": 3.0},
    "affinity": {"same_region": 0.6, "default": 0.03, "pairs": {"NAM-LATAM": 0.2}},
}
H0 = 1_767_225_600 * 1_000_000  # 2026-01-01T00:00:00Z
H_END = H0 + 90 * DAY_US
N = 40_000


def _rng():
    ctx = SimpleNamespace(mf="ab" * 32, ph="cd" * 32, seed=42, scenario_id="baseline", workers=1)
    return StateRng(ctx, "6B.S1", FAMILIES, "fw.l3.v1")


@pytest.fixture(scope="module")
def planned():
    g = np.random.default_rng(5)
    parties = {
        "ptype": (g.random(N) < 0.1).astype(np.int64),
        "country": g.integers(0, 4, N),
        "travel": np.full(N, 2.0),
        "act_cp": g.lognormal(0, 0.5, N),
    }
    table = destinations(COUNTRIES, REGION_OF, OUTLETS, affinity_matrix(POL, REGIONS))
    rng = _rng()
    trips = plan_trips(rng, parties, POL, COUNTRIES, table, H0, H_END)
    return parties, trips, rng


def test_trip_counts_are_poisson_per_party_type(planned):
    parties, trips, _ = planned
    k = np.bincount(trips.party, minlength=N)
    for t, per_year in ((0, 1.2), (1, 4.0)):
        kt = k[parties["ptype"] == t]
        mu = 2.0 * per_year * 90 / 365
        obs = np.bincount(np.minimum(kt, 6), minlength=7)
        p = stats.poisson.pmf(np.arange(6), mu)
        exp_ = kt.size * np.r_[p, 1 - p.sum()]
        assert stats.chisquare(obs, exp_).pvalue > 1e-3


def test_destinations_are_abroad_and_follow_affinity_times_outlets(planned):
    parties, trips, _ = planned
    home = parties["country"][trips.party]
    assert (trips.dest != home).all()
    a = affinity_matrix(POL, REGIONS)
    for h in range(4):
        got = np.bincount(trips.dest[home == h], minlength=4)
        w = np.array(
            [a[REGION_OF[h], REGION_OF[d]] * OUTLETS[d] if d != h else 0 for d in range(4)]
        )
        keep = w > 0
        assert stats.chisquare(got[keep], w[keep] / w.sum() * got.sum()).pvalue > 1e-3


def test_starts_and_durations_follow_their_laws(planned):
    parties, trips, _ = planned
    lo = H0 - 7 * DAY_US
    x = (trips.start - lo) / (H_END - lo)
    assert stats.kstest(x, "uniform").pvalue > 1e-3
    days = (trips.end - trips.start) / DAY_US
    assert days.min() >= 1.0 and days.max() <= 30.0
    retail = parties["ptype"][trips.party] == 0
    assert abs(np.median(days[retail]) - 5.0) < 0.1  # LN(5, 0.6): the clip is far from it


def test_trip_numbers_follow_start_and_trace_is_one_plus_three_per_trip(planned):
    _, trips, rng = planned
    same = trips.party[1:] == trips.party[:-1]
    assert (trips.start[1:][same] >= trips.start[:-1][same]).all()
    assert (trips.seq[1:][same] == trips.seq[:-1][same] + 1).all()
    assert (trips.seq[np.r_[True, ~same]] == 0).all()
    assert rng.ledger.totals()["6B.S1.trips"]["draws"] == N + 3 * trips.party.size


def test_rosters_hold_exactly_the_parties_present(planned):
    parties, trips, _ = planned
    table, mass, n_days = rosters(trips, parties, 4, H0, H_END)
    assert n_days == 90
    d = 37  # day 37: who is in FR?
    t0, t1 = H0 + d * DAY_US, H0 + (d + 1) * DAY_US
    here = (trips.dest == 1) & (trips.start < t1) & (trips.end > t0)
    for t in (0, 1):
        want = np.unique(trips.party[here & (parties["ptype"][trips.party] == t)])
        g = (1 * n_days + d) * 2 + t
        got = np.sort(table.items[table.ptr[g] : table.ptr[g + 1]])
        assert np.array_equal(got, want)
        assert mass[g] == pytest.approx(parties["act_cp"][want].sum())
