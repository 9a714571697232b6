"""6A.S2 — accounts, holders and product holdings (layer3 §3.3).

A primary account per party (RNG-free); extra accounts per (country, type, segment,
account type) cell from expected counts with every tilt, integerised per account type by
LRR, placed on owners by CAPPED_MULTINOMIAL with zero-gated lognormal activity weights;
open dates and credit limits; joint holders and authorised users inside households with
exact per-(country, account type) counts. Canonical party order inside a cell is party_id.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from engine_core.errors import EngineError
from engine_core.kernels.alloc import capped_multinomial_cells, exact_subset, lrr, lrr_capped
from engine_core.rng.detmath import exp
from engine_core.rng.samplers import as241
from engine_core.rng.uniform import uniform01
from engine_core.segments.seg_6A import base
from engine_core.segments.seg_6A.base import PARTY_TYPES, ln1, power, round_half_even
from engine_core.segments.seg_6A.checks_integrity import (
    i01_ids,
    i02_fk,
    i03_counts,
    i04_caps,
    i07_trace,
)
from engine_core.segments.state_io import open_state

STATE = "6A.S2"
ROLES = ("AUTHORISED_USER", "JOINT", "OWNER")  # sorted: the holder table's sort order


def run(ctx):
    io = open_state(ctx, STATE)
    prod = io.policy("products_6A")
    seg = io.policy("segmentation_6A")
    segments = [s for t in seg["party_types"] for s in seg["segments"][t]]
    minor = io.policy("currencies_6A")["minor_units"]
    fx = io.policy("fx_static_6A")["usd_per_unit"]
    reference = dt.date.fromisoformat(io.read_json("s0_gate_receipt_6A")["reference_date"])
    ref_day = base.day_number(reference)
    parties = base.load_parties(
        io, ["household_id", "customer_since", "activity_cp", "activity_cnp"]
    )
    ref = io.read_table("s1_country_reference", ["country_iso", "currency"])
    currency_of = dict(zip(ref.column(0).to_pylist(), ref.column(1).to_pylist(), strict=True))
    cells = base.Cells(parties, segments)
    types = list(prod["account_types"])  # taxonomy order
    for t in PARTY_TYPES:
        if not any(v["party_type"] == t for v in prod["account_types"].values()):
            raise EngineError("DOMAIN_EMPTY", STATE, f"party type {t} has no account type")
    for c in cells.countries:
        if currency_of.get(c) not in minor or currency_of.get(c) not in fx:
            raise EngineError("CURRENCY_UNKNOWN", STATE, f"{c}: currency {currency_of.get(c)}")
    since = parties.column("customer_since").cast(pa.int32()).to_numpy().astype(np.int64)
    act = (
        parties.column("activity_cp").to_numpy().astype(np.float64)
        + parties.column("activity_cnp").to_numpy().astype(np.float64)
    ) / 2
    # the owner-weight activity factor, once per party (it does not depend on the type)
    act = power(act, prod["allocation"]["activity_exponent"])
    rng = base.StateRng(ctx, STATE)

    primary = {
        t: types.index(
            next(
                a
                for a, v in prod["account_types"].items()
                if v["party_type"] == t and v.get("primary")
            )
        )
        for t in PARTY_TYPES
    }
    acc = {  # primary accounts first (cell order, party_id inside a cell), RNG-free
        "owner": [cells.order],
        "type": [np.array([primary[t] for t in PARTY_TYPES])[cells.ptype[cells.order]]],
        "open": [since[cells.order]],
        "limit_usd": [np.full(cells.order.size, np.nan)],
    }
    plan, realised, expect = (
        [],
        [],
        {f"6A.S2.{f}": [0, 0] for f in ("count_tb", "owner_weight", "alloc", "attr", "holders")},
    )
    for a in types:
        _extra_accounts(
            rng, prod, cells, a, types, act, since, ref_day, acc, plan, realised, expect
        )
    owner = np.concatenate(acc["owner"])
    atype = np.concatenate(acc["type"])
    n_acc = owner.size
    account_id = base.mint(ctx, "account", 0, n_acc)
    country = cells.country[owner]
    cur_vocab = sorted({currency_of[c] for c in cells.countries})
    cur_code = np.array([cur_vocab.index(currency_of[c]) for c in cells.countries])[country]
    limit = _limits(np.concatenate(acc["limit_usd"]), cur_code, cur_vocab, minor, fx)

    h_acc, h_party, h_role = _holders(
        rng, prod, cells, parties, types, owner, atype, account_id, expect
    )
    pid = cells.pid
    holdings_key = owner * len(types) + atype
    hk, hn = np.unique(holdings_key, return_counts=True)
    # integrity before publish: ids, FK closure, plan = realised, caps, RNG trace
    i01_ids(STATE, "s2_account_base_6A", account_id)
    i02_fk(STATE, "s2_account_holders_6A.account_id", h_acc, account_id)
    i02_fk(STATE, "s2_account_holders_6A.party_id", h_party, pid)
    i03_counts(STATE, "extra accounts per cell", np.array(realised), np.array(plan))
    caps = np.array([prod["caps_per_party"][a] for a in types])
    i04_caps(STATE, "accounts per party and type", hn, caps[hk % len(types)])
    i07_trace(STATE, rng.ledger, {k: tuple(v) for k, v in expect.items()})

    vocab = sorted(types)
    remap = np.array([vocab.index(a) for a in types])
    table = pa.table(
        {
            "account_id": account_id,
            "owner_party_id": pid[owner],
            "account_type": base.coded(remap[atype], vocab),
            "currency": base.coded(cur_code, cur_vocab),
            "open_date": base.dates(np.concatenate(acc["open"])),
            "is_primary": pa.array(np.arange(n_acc) < cells.order.size),
            "credit_limit_minor": pa.array(limit, pa.int64(), mask=limit < 0),
        }
    )
    base.write_sorted(io, "s2_account_base_6A", table, account_id)
    holders = pa.table(
        {"account_id": h_acc, "party_id": h_party, "holder_role": base.coded(h_role, list(ROLES))}
    )
    base.write_sorted(io, "s2_account_holders_6A", holders, h_acc, second=(h_party,))
    holdings = pa.table(
        {
            "party_id": pid[hk // len(types)],
            "account_type": base.coded(remap[hk % len(types)], vocab),
            "n_accounts": pa.array(hn.astype(np.uint16)),
        }
    )
    base.write_sorted(
        io,
        "s2_party_product_holdings_6A",
        holdings,
        pid[hk // len(types)],
        second=(remap[hk % len(types)],),
    )
    io.publish_ledger(rng.ledger)
    by_type = np.bincount(atype, minlength=len(types))
    return io.result(
        rows=n_acc,
        metadata={
            "accounts": n_acc,
            "holders": int(h_acc.size),
            **{f"accounts_{a}": int(by_type[i]) for i, a in enumerate(types)},
        },
    )


def _extra_accounts(rng, prod, cells, a, types, act, since, ref_day, acc, plan, realised, expect):
    """One account type: LRR of the expected counts over its cells (tb = rng), then
    CAPPED_MULTINOMIAL per cell; open dates and credit limits from ``6A.S2.attr``."""
    spec = prod["account_types"][a]
    al = prod["allocation"]
    lam = prod["extra_lambda"].get(spec["party_type"], {}).get(a, 0.0)
    ks = [k for k in range(cells.keys.size) if cells.cell(k)[1] == spec["party_type"]]
    if not ks:
        return
    info = [cells.cell(k) for k in ks]
    keys = [f"{c}|{t}|{s}|{a}" for c, t, s, _, _ in info]
    ow = uniform01(rng.family("owner_weight").cells(keys, cells.n[ks], 1))
    expect["6A.S2.owner_weight"][0] += len(ks)
    expect["6A.S2.owner_weight"][1] += 2 * int(cells.n[ks].sum())
    p_zero = al["p_zero"].get(a, al["p_zero"]["default"])
    bounds = np.r_[0, np.cumsum(cells.n[ks])]
    # a cell whose every owner is zero-gated expects no account: without this a 1–2 party
    # cell of a small world would fail ALLOC_EMPTY_WEIGHTS by chance (p_zero^n)
    open_cell = np.add.reduceat((ow[:, 0] >= p_zero).astype(np.int64), bounds[:-1]) > 0
    e = (
        np.array(
            [
                cells.n[k]
                * lam
                * prod["segment_tilt"].get(s, {}).get(a, 1.0)
                * prod["region_tilt"].get(r, {}).get(a, 1.0)
                for k, (_, _, s, r, _) in zip(ks, info, strict=True)
            ]
        )
        * open_cell
    )
    tb = uniform01(rng.family("count_tb").units(a, len(ks), 1)[:, 0])
    expect["6A.S2.count_tb"][0] += 1
    expect["6A.S2.count_tb"][1] += 2 * len(ks)
    cap = prod["caps_per_party"][a] - (1 if spec.get("primary") else 0)
    # a cell holds at most its open owners' room; any excess is water-filled to other cells
    room = np.add.reduceat((ow[:, 0] >= p_zero).astype(np.int64), bounds[:-1]) * cap
    n_k = lrr_capped(round_half_even(float(e.sum())), e, room, tb, state=STATE, where=f"{a} cells")
    cap = prod["caps_per_party"][a] - (1 if spec.get("primary") else 0)
    alloc, attr = rng.family("alloc"), rng.family("attr")
    # every owner's weight at once (cells slice it)
    w_all = (
        (ow[:, 0] >= p_zero)
        * act[np.concatenate([r for *_, r in info])]
        * ln1(al["sigma"], as241(ow[:, 1]))
    )
    streams = [alloc.stream(k) for k in keys]
    cnt_all, big_all = capped_multinomial_cells(
        n_k,
        w_all,
        np.full(w_all.size, cap),
        np.zeros(w_all.size, np.int64),
        bounds,
        n_k > 0,
        False,
        np.array(streams, np.uint64),
        workers=rng.workers,
        state=STATE,
        where=keys,
    )
    for i, (_, _, s, _, rows) in enumerate(info):
        if n_k[i] == 0:
            plan.append(0)
            realised.append(0)
            continue
        stream, cnt, big_n = streams[i], cnt_all[bounds[i] : bounds[i + 1]], int(big_all[i])
        alloc.trace(stream, blocks=2 * big_n + rows.size, draws=4 * big_n + 2 * rows.size)
        expect["6A.S2.alloc"][0] += 1
        expect["6A.S2.alloc"][1] += 4 * big_n + 2 * rows.size
        plan.append(int(n_k[i]))
        realised.append(int(cnt.sum()))
        owners = np.repeat(rows, cnt)
        ua = uniform01(attr.units(keys[i], big_n, 1))
        expect["6A.S2.attr"][0] += 1
        expect["6A.S2.attr"][1] += 2 * big_n
        acc["owner"].append(owners)
        acc["type"].append(np.full(big_n, types.index(a)))
        acc["open"].append(
            since[owners] + np.floor(ua[:, 0] * (ref_day - since[owners])).astype(np.int64)
        )
        if spec.get("credit"):
            cl = prod["credit_limit_usd"]
            acc["limit_usd"].append(cl["median"][s] * exp(cl["sigma"] * as241(ua[:, 1])))
        else:
            acc["limit_usd"].append(np.full(big_n, np.nan))


def _limits(usd, cur_code, cur_vocab, minor, fx) -> np.ndarray:
    """USD limits → local major units at ``fx_static``, rounded (half even) to 100 major
    units (at least 100), in minor units; −1 where the account has no limit."""
    rate = np.array([fx[c] for c in cur_vocab])[cur_code]
    scale = np.array([10 ** minor[c] for c in cur_vocab], np.int64)[cur_code]
    major = np.where(np.isnan(usd), 0.0, usd / rate)
    hundreds = np.maximum(np.round(major / 100.0), 1.0).astype(np.int64)
    return np.where(np.isnan(usd), -1, hundreds * 100 * scale)


def _holders(rng, prod, cells, parties, types, owner, atype, account_id, expect):
    """OWNER rows; JOINT / AUTHORISED_USER co-holders inside households of size ≥ 2 with
    exact per-(country, account type) counts (LRR of the expected counts over countries,
    then an EXACT_SUBSET of the eligible accounts)."""
    n = owner.size
    col = parties.column("household_id")
    hh_valid = col.is_valid().to_numpy(zero_copy_only=False)
    hh = col.fill_null(0).to_numpy()
    # household members in party_id order: a household's other members for the pick
    members = np.flatnonzero(hh_valid)
    morder = members[np.lexsort((cells.pid[members], hh[members]))]
    mh = hh[morder]
    # each member's household start and size in ``morder`` (by the sort, not a search)
    new = np.r_[True, mh[1:] != mh[:-1]] if mh.size else np.zeros(0, bool)
    starts = np.flatnonzero(new)
    run = np.cumsum(new) - 1
    hstart = np.zeros(hh.size, np.int64)
    hsize = np.zeros(hh.size, np.int64)
    hstart[morder] = starts[run]
    hsize[morder] = np.diff(np.r_[starts, mh.size])[run]
    accs, parts, roles = [account_id], [cells.pid[owner]], [np.full(n, ROLES.index("OWNER"))]
    rates = [(a, "JOINT", p) for a, p in prod["joint"].items()]
    rates.append(("CREDIT_CARD", "AUTHORISED_USER", prod["authorised_user"]))
    holders = rng.family("holders")
    for a, role, p in rates:
        if a not in types:
            continue
        elig = np.flatnonzero((atype == types.index(a)) & (hsize[owner] >= 2))
        if elig.size == 0:
            continue
        c_of = cells.country[owner[elig]]
        per_c = np.bincount(c_of, minlength=len(cells.countries))
        e = p * per_c.astype(np.float64)
        n_c = lrr(
            round_half_even(float(e.sum())),
            e,
            np.arange(e.size, dtype=np.float64),
            state=STATE,
            where=f"{role} {a}",
        )
        eorder = elig[np.lexsort((account_id[elig], c_of))]  # per country, account_id order
        starts = np.r_[0, np.cumsum(per_c)]
        keys = [f"{c}|{a}" for c in cells.countries]
        u = uniform01(holders.cells(keys, per_c, 1))
        expect["6A.S2.holders"][0] += int((per_c > 0).sum())
        expect["6A.S2.holders"][1] += 2 * int(elig.size)
        for ci in np.flatnonzero(n_c > 0):
            sl = slice(starts[ci], starts[ci + 1])
            chosen = exact_subset(
                int(n_c[ci]), np.ones(per_c[ci]), u[sl, 0], state=STATE, where=keys[ci]
            )
            acc_rows = eorder[sl][chosen]
            o = owner[acc_rows]
            k = np.floor(u[sl, 1][chosen] * (hsize[o] - 1)).astype(np.int64)
            # the k-th other member: skip the owner's own position in the household list
            first = hstart[o]
            pos_owner = _rank_in_household(morder, first, hsize[o], o)
            k = k + (k >= pos_owner)
            accs.append(account_id[acc_rows])
            parts.append(cells.pid[morder[first + k]])
            roles.append(np.full(acc_rows.size, ROLES.index(role)))
    return np.concatenate(accs), np.concatenate(parts), np.concatenate(roles)


def _rank_in_household(morder, first, size, rows):
    """Position of each party row inside its household's member list."""
    out = np.empty(rows.size, np.int64)
    for j in range(int(size.max()) if size.size else 0):  # ≤ 6 members per household
        hit = (j < size) & (morder[np.minimum(first + j, morder.size - 1)] == rows)
        out[hit] = j
    return out
