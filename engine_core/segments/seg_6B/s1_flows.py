"""6B.S1 transfers and inbound credits (layer3 §4.2 step 4): the online-banking flows fraud
later imitates, one unit per party.

``6B.S1.p2p`` (193 blocks): slot 0 the count ``k ~ Poisson(p2p_per_month[type] · H/30.44)``
(cap 48), then 8 slots per transfer — time, route, payee (or foreign country), amount, device
availability, device, IP, decline. ``6B.S1.credit`` (25 blocks): slot 0 the count (cap 16),
then time, amount and counterparty country per credit. Times follow the party's weekly
profile in its home zone through ``kernels.weekly_time`` (no local→UTC inversion). Transfers
go out of the primary account's TRANSFER_HANDLE; parties without one send none."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine_core.kernels.csr import Csr, csr, pick
from engine_core.kernels.weekly_time import build_laws, draw_times
from engine_core.rng.detmath import exp, log
from engine_core.rng.samplers import as241, poisson_inv
from engine_core.rng.uniform import uniform01
from engine_core.segments.seg_6B.party_units import PartyUnits

MONTH_DAYS = 30.44
DAY_US = 86_400 * 1_000_000
P2P_CAP, P2P_STRIDE = 48, 193
CREDIT_CAP, CREDIT_STRIDE = 16, 25
ROUTES = ("HOUSEHOLD", "SAME_CELL", "SAME_COUNTRY", "EXTERNAL_FOREIGN")
PARTY_TYPES = ("RETAIL", "BUSINESS")
TRANSFER_CODES = ("00", "05", "14", "51", "54", "59", "N7")


@dataclass(frozen=True)
class Flows:
    """Rows of one kind; ``cp_account`` −1 and ``cp_country`` −1 where null."""

    party: np.ndarray
    k: np.ndarray  # the transfer/credit number of the party (txn ordinal offset)
    ts: np.ndarray  # UTC µs
    amount_usd: np.ndarray
    device: np.ndarray
    ip: np.ndarray
    cp_account: np.ndarray
    cp_country: np.ndarray
    approved: np.ndarray
    code: np.ndarray  # index into TRANSFER_CODES
    used: np.ndarray  # the device used (``device``: as reported)


def _counted(rng, family, stride, per, cap, per_month, parties, countries, handle, h0, h_end):
    """Slot 0 of each party's unit: ``k ~ Poisson(per_month[type] · H/30.44)`` capped (0 for
    a party without a transfer handle), traced as ``1 + per·k`` per party; returns the units,
    the rows ``(party, j)`` of every flow and each flow's first slot ``1 + per·j``."""
    units = PartyUnits(rng.family(family), parties, countries, stride)
    months = (h_end - h0) / DAY_US / MONTH_DAYS
    rate = np.array([per_month[t] for t in PARTY_TYPES])[parties["ptype"]]
    mu = np.where(handle >= 0, rate * months, 0.0)
    n = mu.size
    k = np.minimum(poisson_inv(uniform01(units.words(np.arange(n), 0)), mu), cap)
    k = k.astype(np.int64)
    units.trace((1 + per * k).astype(np.float64))
    party, j = _expand(k)
    return units, party, j, 1 + per * j


def _expand(k):
    party = np.repeat(np.arange(k.size), k)
    j = np.arange(party.size) - np.repeat(np.cumsum(k) - k, k)
    return party, j


def _uniform_member(words, group, table: Csr, exclude):
    """A uniform pick among the members of ``group`` other than ``exclude`` (a member;
    members are in row order), −1 when the group has no other member."""
    n = table.sizes()[group]
    k = (uniform01(words) * np.maximum(n - 1, 0)).astype(np.int64)
    k = np.minimum(k, np.maximum(n - 2, 0))
    idx = table.ptr[group] + k
    last = max(table.items.size - 1, 0)
    cand = table.items[np.minimum(idx, last)]
    idx = np.where(cand >= exclude, idx + 1, idx)  # skip the payer's own slot
    return np.where(n >= 2, table.items[np.minimum(idx, last)], -1)


def transfers(rng, parties, pol, countries, groups, dest: Csr, tz, handle, access: Csr,
              dev_ips: Csr, p_device: float, h0, h_end):  # fmt: skip
    """Transfer rows. ``groups``: CSR member tables ``household``, ``cell``, ``country``;
    ``handle``: the party's primary-account handle (−1: none); ``access``: party → its
    ACCOUNT_ACCESS devices on that account; ``p_device``: device data present
    (``attachment.availability.p_device_data_banking``)."""
    units, party, j, s = _counted(
        rng, "p2p", P2P_STRIDE, 8, P2P_CAP, pol["p2p_per_month"], parties, countries, handle,
        h0, h_end,
    )  # fmt: skip
    slot = [units.words(party, s + i) for i in range(8)]
    ts = draw_times(tz["laws"], tz["zone"][party], uniform01(slot[0]))
    cdf = np.cumsum([pol["p2p_route"][r] for r in ROUTES])
    route = np.searchsorted(cdf / cdf[-1], uniform01(slot[1]), side="right")
    route = np.minimum(route, 3)
    payee = np.full(party.size, -1, np.int64)
    for r, name in enumerate(("household", "cell", "country")):
        # a route without another member widens: household → cell → country → foreign
        rows = np.flatnonzero((route == r) & (payee < 0))
        got = _uniform_member(
            slot[2][rows], groups[name + "_of"][party[rows]], groups[name], party[rows]
        )
        payee[rows] = got
        route[rows[got < 0]] = r + 1
    foreign = route == 3
    cp_country = np.where(
        foreign,
        pick(dest, parties["country"][party], slot[2]),
        parties["country"][np.maximum(payee, 0)],
    )
    med = np.array([pol["p2p_median_usd"][t] for t in PARTY_TYPES])[parties["ptype"][party]]
    amount = exp(log(med) + pol["p2p_sigma"] * as241(uniform01(slot[3])))
    n_acc = access.sizes()[party]
    has_dev = (n_acc > 0) & (uniform01(slot[4]) < p_device)
    kdev = np.minimum((uniform01(slot[5]) * n_acc).astype(np.int64), np.maximum(n_acc - 1, 0))
    at = np.minimum(access.ptr[party] + kdev, max(access.items.size - 1, 0))
    used = np.where(n_acc > 0, access.items[at] if access.items.size else -1, -1)
    device = np.where(has_dev, used, -1)
    ip = np.where(device >= 0, pick(dev_ips, np.maximum(device, 0), slot[6]), -1)
    u = uniform01(slot[7])
    p = pol["p_transfer_decline"]
    declined = u < p
    ccdf = np.cumsum([pol["transfer_decline_codes"].get(c, 0.0) for c in TRANSFER_CODES])
    code = np.where(declined, np.searchsorted(ccdf / ccdf[-1], u / p, side="right"), 0)
    flows = Flows(party, j, ts, amount, device, ip, payee, cp_country, ~declined, code, used)
    return flows, route


def credits(rng, parties, pol, countries, dest: Csr, tz, handle, h0, h_end):
    units, party, j, s = _counted(
        rng, "credit", CREDIT_STRIDE, 3, CREDIT_CAP, pol["credit_per_month"], parties,
        countries, handle, h0, h_end,
    )  # fmt: skip
    ts = draw_times(tz["laws"], tz["zone"][party], uniform01(units.words(party, s)))
    med = np.array([pol["credit_median_usd"][t] for t in PARTY_TYPES])[parties["ptype"][party]]
    amount = exp(log(med) + pol["credit_sigma"] * as241(uniform01(units.words(party, s + 1))))
    u = uniform01(units.words(party, s + 2))
    home = parties["country"][party]
    foreign = u >= 1.0 - pol["p_credit_foreign"]
    v = (u - (1.0 - pol["p_credit_foreign"])) / pol["p_credit_foreign"]
    fw = (np.clip(v, 0.0, 1.0 - 2.0**-53) * 4503599627370496.0).astype(np.uint64) << np.uint64(12)
    cp_country = np.where(foreign, pick(dest, home, fw), home)
    none = np.full(party.size, -1, np.int64)
    ok = np.ones(party.size, bool)
    zero = np.zeros(party.size, np.int64)
    return Flows(party, j, ts, amount, none, none, none, cp_country, ok, zero, none)


def time_laws(cache, tz_codes, tzids, weights, h0, h_end):
    """Weekly-profile laws for the zones parties live in; ``zone`` maps tz code → law."""
    used = np.unique(tz_codes)
    zones = [tzids[z] for z in used.tolist()]
    laws = build_laws(cache, zones, h0 // 1_000_000, h_end // 1_000_000, weights)
    lut = np.full(len(tzids), -1, np.int64)
    lut[used] = np.arange(used.size)
    return {"laws": laws, "zone": lut[tz_codes]}


def member_groups(parties, household_row, n_countries):
    """CSR member tables for payee picks: household, (country, home cell), country."""
    rows = np.arange(household_row.size)
    hh = np.where(household_row >= 0, household_row, household_row.max() + 1 + rows)
    _, hh_of = np.unique(hh, return_inverse=True)
    cellkey = parties["cell"] * n_countries + parties["country"]
    _, cell_of = np.unique(cellkey, return_inverse=True)
    out = {
        "household_of": hh_of,
        "household": csr(hh_of, int(hh_of.max()) + 1 if rows.size else 0, rows),
        "cell_of": cell_of,
        "cell": csr(cell_of, int(cell_of.max()) + 1 if rows.size else 0, rows),
        "country_of": parties["country"],
        "country": csr(parties["country"], n_countries, rows),
    }
    return out
