"""6A.S3 instrument attributes (layer3 §3.4): schemes by region/segment mix, issuer BINs per
(country, scheme, card type) probed into disjoint scheme ranges with Zipf popularity,
month-aligned issue and expiry dates, tiers, usage weights; token dates."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
from numba import njit

from engine_core.errors import EngineError
from engine_core.rng.alias import build_alias_table
from engine_core.rng.samplers import as241
from engine_core.rng.uniform import uniform01
from engine_core.segments.seg_6A import base
from engine_core.segments.seg_6A.base import ln1, power

STATE = "6A.S3"
TYPES = (
    "DEBIT_CARD",
    "CREDIT_CARD",
    "PREPAID_CARD",
    "VIRTUAL_CARD",
    "WALLET_TOKEN",
    "TRANSFER_HANDLE",
)
PHYSICAL = (0, 1, 2)
SCHEMES = ("VISA", "MASTERCARD", "AMEX", "DISCOVER", "JCB", "UNIONPAY", "LOCAL_DEBIT")
TIERS = ("STANDARD", "GOLD", "PLATINUM", "BUSINESS")
ROLES = (
    "PRIMARY_CARD",
    "ADDITIONAL_CARD",
    "AUTHORISED_USER_CARD",
    "VIRTUAL_CARD",
    "WALLET_TOKEN",
    "TRANSFER_HANDLE",
)


def count(expect, fam, events, draws):
    expect[f"6A.S3.{fam}"][0] += events
    expect[f"6A.S3.{fam}"][1] += draws


def grouped_units(fam, cells, cell, itype, stride):
    """One stream per (holder cell, instrument type), units in creation order; returns the
    words aligned with the input rows and the number of streams (events)."""
    order = np.lexsort((np.arange(cell.size), itype, cell))
    g = cell[order] * len(TYPES) + itype[order]
    uk, start, n = np.unique(g, return_index=True, return_counts=True)
    keys = []
    for k in uk.tolist():
        c, t, s, _, _ = cells.cell(k // len(TYPES))
        keys.append(f"{c}|{t}|{s}|{TYPES[k % len(TYPES)]}")
    words = np.empty((cell.size, 2 * stride), np.uint64)
    words[order] = fam.cells(keys, n, stride)
    return words, len(keys)


def _categorical(u, cdf):
    return np.minimum(np.searchsorted(cdf, u, side="right"), cdf.size - 1)


def card_attributes(rng, pol, cells, cards, a_open, ref_day, expect):
    cell_of_row = np.empty(cells.pid.size, np.int64)
    cell_of_row[cells.order] = np.repeat(np.arange(cells.keys.size), cells.n)
    hcell = cell_of_row[cards["holder"]]
    words, events = grouped_units(rng.family("attr"), cells, hcell, cards["type"], 3)
    count(expect, "attr", events, 6 * cards["type"].size)
    u = uniform01(words)
    n = cards["type"].size
    scheme = np.zeros(n, np.int64)
    tier = np.zeros(n, np.int64)
    mix = pol["scheme_mix"]
    order = np.lexsort((cards["type"], hcell))
    g = hcell[order] * len(TYPES) + cards["type"][order]
    uk, start, cnt = np.unique(g, return_index=True, return_counts=True)
    for k, a, b in zip(uk.tolist(), start.tolist(), (start + cnt).tolist(), strict=True):
        _, pt, s, r, _ = cells.cell(k // len(TYPES))  # ≤ cells × 4 card types
        t = k % len(TYPES)
        m = order[a:b]
        by = mix.get("BUSINESS", {}) if pt == "BUSINESS" else mix.get(r, {})
        shares = by.get(TYPES[t]) or mix["default"][TYPES[t]]
        cdf = np.cumsum([shares.get(x, 0.0) for x in SCHEMES])
        scheme[m] = _categorical(u[m, 0], cdf / cdf[-1])
        tm = pol["tier_mix"]
        tshares = tm["BUSINESS"] if pt == "BUSINESS" else tm.get(s, tm["default"])
        tcdf = np.cumsum([tshares.get(x, 0.0) for x in TIERS])
        tier[m] = _categorical(u[m, 2], tcdf / tcdf[-1])
    issue, expiry = _dates(u[:, 3], a_open[cards["account"]], ref_day, cards["type"], pol)
    return {
        "scheme": scheme,
        "tier": tier,
        "issue": issue,
        "expiry": expiry,
        "usage": ln1(pol["usage_sigma"], as241(u[:, 4])),
        "bin_word": words[:, 1],
        "cell": hcell,
    }


def _dates(u, lo_day, ref_day, itype, pol):
    """Issue uniform in [max(lo, ref − 3 y), ref], aligned to the first of its month (not
    before lo); expiry = the last day of the month ``validity_months`` later."""
    ref = base.EPOCH + dt.timedelta(days=int(ref_day))
    three = (
        base.day_number(ref.replace(year=ref.year - 3))
        if not (ref.month == 2 and ref.day == 29)
        else base.day_number(dt.date(ref.year - 3, 2, 28))
    )
    lo = np.maximum(lo_day, three)
    d = lo + np.floor(u * (ref_day - lo + 1)).astype(np.int64)
    month = d.astype("datetime64[D]").astype("datetime64[M]")
    first = month.astype("datetime64[D]").astype(np.int64)
    issue = np.maximum(first, lo)
    valid = np.array([pol["validity_months"].get(t, 48) for t in TYPES])[itype]
    exp_month = month + valid.astype("timedelta64[M]") + np.timedelta64(1, "M")
    expiry = exp_month.astype("datetime64[D]").astype(np.int64) - 1
    return issue, expiry


@njit(nogil=True, cache=True)
def probe_bins_nb(draw, lo, hi, used):
    """Linear probing upward inside [lo, hi] (wrapping) until an unused value; −1 when the
    range is full. Slots arrive in canonical order, so the result is order-determined."""
    out = np.empty(draw.shape[0], np.int64)
    for i in range(draw.shape[0]):
        v = draw[i]
        span = hi[i] - lo[i] + 1
        k = 0
        while used[v] and k < span:
            v = v + 1 if v < hi[i] else lo[i]
            k += 1
        if used[v]:
            out[i] = -1
            continue
        used[v] = True
        out[i] = v
    return out


def bin_catalogue(rng, pol, cells, cards, attrs, expect):
    """Issuer BINs per (country, scheme, card type) and each card's BIN by alias over Zipf
    issuer popularity. Tokens and transfer handles are not cards here."""
    country = cells.country[cards["holder"]]  # the issuing country is the holder's
    g = (country * len(SCHEMES) + attrs["scheme"]) * len(TYPES) + cards["type"]
    uk, inv, cnt = np.unique(g, return_inverse=True, return_counts=True)
    n_bins = pol["bins_min"] + np.floor(np.log10(1.0 + cnt)).astype(np.int64)
    keys, lo, hi = [], [], []
    for k, nb in zip(uk.tolist(), n_bins.tolist(), strict=True):
        c, rest = divmod(k, len(SCHEMES) * len(TYPES))
        sc, t = divmod(rest, len(TYPES))
        keys.append(f"{cells.countries[c]}|{SCHEMES[sc]}|{TYPES[t]}")
        r = pol["bin_ranges"][SCHEMES[sc]]
        lo += [r[0]] * nb
        hi += [r[1]] * nb
    u = uniform01(rng.family("bin").cells(keys, n_bins, 1))
    count(expect, "bin", len(keys), 2 * int(n_bins.sum()))
    lo, hi = np.array(lo, np.int64), np.array(hi, np.int64)
    draw = lo + np.floor(u[:, 0] * (hi - lo + 1)).astype(np.int64)
    values = probe_bins_nb(draw, lo, hi, np.zeros(1_000_000, np.bool_))
    if (values < 0).any():
        i = int(np.argmax(values < 0))
        grp = int(np.searchsorted(np.cumsum(n_bins), i, side="right"))
        raise EngineError(
            "BIN_RANGE_EXHAUSTED",
            STATE,
            f"{keys[grp]}: the scheme's BIN range "
            f"{pol['bin_ranges'][keys[grp].split('|')[1]]} is full",
        )
    starts = np.r_[0, np.cumsum(n_bins)]
    rank = np.arange(values.size) - np.repeat(starts[:-1], n_bins) + 1
    pop = power(rank.astype(np.float64), -pol["bin_zipf_s"])
    pop = pop / np.repeat(np.add.reduceat(pop, starts[:-1]), n_bins)
    bin6 = np.zeros(cards["type"].size, np.int64)
    order = np.argsort(inv, kind="stable")
    cstart = np.r_[0, np.cumsum(cnt)]
    for j in range(uk.size):  # one alias table per issuer group (≤ 10^4 groups)
        sl = slice(starts[j], starts[j + 1])
        tab = build_alias_table(np.arange(n_bins[j]), pop[sl], STATE)
        rows = order[cstart[j] : cstart[j + 1]]
        bin6[rows] = values[sl][tab.order[tab.pick(attrs["bin_word"][rows])]]
    attrs["bin6"] = bin6
    gi = np.repeat(np.arange(uk.size), n_bins)
    c_of, rest = np.divmod(uk[gi], len(SCHEMES) * len(TYPES))
    sc_of, t_of = np.divmod(rest, len(TYPES))
    return pa.table(
        {
            "bin6": pa.array(values.astype(np.uint32)),
            "scheme": base.coded(sc_of, list(SCHEMES)),
            "country_iso": base.coded(c_of, cells.countries),
            "instrument_type": base.coded(t_of, list(TYPES)),
            "issuer_rank": pa.array(rank.astype(np.uint8)),
            "popularity": pa.array(pop.astype(np.float32)),
        }
    )


def token_dates(rng, pol, cells, inst, attrs, is_tok, ref_day, expect):
    """Tokens: provisioned uniformly between the parent's issue and the reference date;
    one attr unit each (issue date, usage)."""
    t = np.flatnonzero(is_tok)
    parent = inst["parent"][t]
    hcell = attrs["cell"][parent]
    words, events = grouped_units(rng.family("attr"), cells, hcell, inst["type"][t], 3)
    count(expect, "attr", events, 6 * t.size)
    u = uniform01(words)
    issue, expiry = _dates(u[:, 3], attrs["issue"][parent], ref_day, inst["type"][t], pol)
    return {"issue": issue, "expiry": expiry, "usage": ln1(pol["usage_sigma"], as241(u[:, 4]))}
