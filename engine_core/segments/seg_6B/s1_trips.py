"""6B.S1 trips and traveller rosters (layer3 §4.2 step 2).

Per party (family ``6B.S1.trips``, domain key ``{country}|{party_type}``, unit = the party's
rank in its cell in ``party_id`` order, 25 blocks): slot 0 the trip count
``k ~ Poisson(travel_propensity · trips_per_year[type] · H/365)`` capped at 16; trip i uses
slots 1+3i (destination: ALIAS over the countries ≠ home, weight ``affinity[r_home][r_dest] ·
O_dest`` with O the outlet count), 2+3i (start, uniform in ``[h0 − 7 d, h_end)``) and 3+3i
(duration ``LN(trip_days_median[type], 0.6)`` clipped to [1, 30] days). Trips are numbered by
start. The roster of a (country, UTC day, party type) is every party present there that day,
picked by ALIAS on ``activity_cp``; its mass ``T`` is their summed activity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine_core.kernels.csr import Csr, csr, pick
from engine_core.kernels.sorting import lex_order
from engine_core.rng.detmath import exp, log
from engine_core.rng.samplers import as241, poisson_inv
from engine_core.rng.uniform import uniform01
from engine_core.segments.seg_6B.party_units import PartyUnits

DAY_US = 86_400 * 1_000_000
MAX_TRIPS = 16
STRIDE = 25
SIGMA = 0.6
PARTY_TYPES = ("RETAIL", "BUSINESS")


@dataclass(frozen=True)
class Trips:
    party: np.ndarray  # int64 party row, sorted (party, seq)
    seq: np.ndarray  # int64 trip number of the party (by start)
    dest: np.ndarray  # int64 country code
    start: np.ndarray  # int64 UTC µs
    end: np.ndarray  # int64 UTC µs (exclusive)


def destinations(countries, region_of, outlets, affinity) -> Csr:
    """Per home country: the ALIAS over the other countries with weight
    ``affinity[r_home][r_dest] · O_dest``."""
    n = len(countries)
    home = np.repeat(np.arange(n), n)
    dest = np.tile(np.arange(n), n)
    w = (
        affinity[np.asarray(region_of)[home], np.asarray(region_of)[dest]]
        * np.asarray(outlets, np.float64)[dest]
    )
    w = np.where(home == dest, 0.0, w)
    return csr(home, n, dest, weights=w, state="6B.S1", what="trip destinations")


def plan_trips(rng, parties: dict, pol: dict, countries, dest_table: Csr, h0: int, h_end: int):
    """Trips of every party. ``parties``: arrays ``ptype`` (0/1), ``country`` (code),
    ``travel`` (travel_propensity); rows in ``party_id`` order. ``h0``/``h_end`` in UTC µs."""
    units = PartyUnits(rng.family("trips"), parties, countries, STRIDE)
    ptype, country = parties["ptype"], parties["country"]
    n = ptype.size
    horizon_days = (h_end - h0) / DAY_US
    per_year = np.array([pol["trips_per_year"][t] for t in PARTY_TYPES])
    mu = parties["travel"].astype(np.float64) * per_year[ptype] * horizon_days / 365.0
    k = np.minimum(poisson_inv(uniform01(units.words(np.arange(n), 0)), mu), MAX_TRIPS)
    k = k.astype(np.int64)
    units.trace((1 + 3 * k).astype(np.float64))  # one event per cell: 1 + 3·trips per party
    party = np.repeat(np.arange(n), k)
    i = np.arange(party.size) - np.repeat(np.cumsum(k) - k, k)
    w_dest, w_start, w_dur = (units.words(party, 1 + 3 * i + j) for j in range(3))
    dest = pick(dest_table, country[party], w_dest)
    lo = h0 - 7 * DAY_US
    start = lo + (uniform01(w_start) * float(h_end - lo)).astype(np.int64)
    med = np.array([pol["trip_days_median"][t] for t in PARTY_TYPES])[ptype[party]]
    days = np.clip(exp(log(med) + SIGMA * as241(uniform01(w_dur))), 1.0, 30.0)
    end = start + (days * DAY_US).astype(np.int64)
    o = lex_order(party, start, i)  # trip numbers by start (ties: draw order)
    party, dest, start, end = party[o], dest[o], start[o], end[o]
    seq = np.arange(party.size) - np.repeat(np.cumsum(k) - k, k)
    return Trips(party, seq, dest, start, end)


def rosters(trips: Trips, parties: dict, n_countries: int, h0: int, h_end: int, can_pay=None):
    """``(roster table, T)``: per group ``(country·D + day)·2 + party type`` the travellers
    present (ALIAS on ``activity_cp``) and their summed activity ``T``; ``can_pay``: the
    parties with a card-present instrument (only they can be drawn at a terminal)."""
    n_days = -(-(h_end - h0) // DAY_US)
    d0 = np.maximum((trips.start - h0) // DAY_US, 0)
    d1 = np.minimum((trips.end - 1 - h0) // DAY_US, n_days - 1)
    n = np.maximum(d1 - d0 + 1, 0)
    row = np.repeat(np.arange(n.size), n)
    day = d0[row] + np.arange(row.size) - np.repeat(np.cumsum(n) - n, n)
    party = trips.party[row]
    group = (trips.dest[row] * n_days + day) * 2 + parties["ptype"][party]
    # a party on two overlapping trips to one country is present once
    o = lex_order(group, party)
    keep = np.r_[True, (group[o][1:] != group[o][:-1]) | (party[o][1:] != party[o][:-1])]
    group, party = group[o][keep], party[o][keep]
    if can_pay is not None:
        ok = np.asarray(can_pay, bool)[party]
        group, party = group[ok], party[ok]
    n_groups = n_countries * n_days * 2
    act = parties["act_cp"].astype(np.float64)[party]
    table = csr(group, n_groups, party, weights=act, state="6B.S1", what="traveller rosters")
    mass = np.bincount(group, weights=act, minlength=n_groups)  # summed in row order
    return table, mass, n_days
