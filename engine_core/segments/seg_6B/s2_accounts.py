"""6B.S2 account typologies (layer3 §4.3): ACCOUNT_TAKEOVER (INJECT transfers to ring mules
and CONVERT CNP purchases within hours of the takeover, from an operator device or, 20 %,
the victim's own compromised device) and MULE_MONEY_MOVEMENT (INJECT inbound credits,
layering hops along FAN_IN / FAN_OUT / CHAIN / SCATTER_GATHER, cash-out)."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine_core.kernels.csr import pick
from engine_core.segments.seg_6B import s2_plan as P
from engine_core.segments.seg_6B import txn as X
from engine_core.segments.seg_6B.s2_cards import (
    _rank,
    _start,
    _z,
    device_ip,
    outcome,
    ring_of,
)
from engine_core.segments.seg_6B.s2_plan import CONVERT, DAY_US, HOUR_US, INJECT

OB, NA = 2, X.ENTRY.index("NOT_APPLICABLE")
TRANSFER_OUT, TRANSFER_IN, QUASI = 3, 4, 5


def split_u(words):
    """Two uniforms from one word (high and low 32 bits)."""
    w = np.asarray(words, np.uint64)
    return (w >> np.uint64(32)).astype(np.float64) / 2**32, (w & np.uint64(0xFFFFFFFF)).astype(
        np.float64
    ) / 2**32


def account_takeover(env, typ: int, budget: int) -> None:
    pol, book, sw = env.pol["ACCOUNT_TAKEOVER"], env.book, env.sw
    pool, name, f, w = env.pools["ACCOUNT_TAKEOVER"], "ACCOUNT_TAKEOVER", sw.fraud, sw.w
    handle = env.handle  # account row -> TRANSFER_HANDLE instrument row (−1)
    n_cards = f.account_cards.sizes()

    def per_target(tw, accts):
        hi, lo = split_u(tw[:, 0])
        a, b = pol["transfers"], pol["purchases"]
        n_tr = a[0] + np.minimum((hi * (a[1] - a[0] + 1)).astype(np.int64), a[1] - a[0])
        n_pu = b[0] + np.minimum((lo * (b[1] - b[0] + 1)).astype(np.int64), b[1] - b[0])
        n_tr = np.where(handle[accts] >= 0, n_tr, 0)
        n_pu = np.where(n_cards[accts] > 0, n_pu, 0)
        return n_tr, n_pu

    def counts(Pw):
        v = pol["victims"]
        n_t = P.nb_count(Pw[:, 3], Pw[:, 4], v["nb_mean"], v["nb_k"])
        tw = book._target.cells(book._keys(name, range(n_t.size)), n_t, 2, trace=False)
        accts = np.searchsorted(w.accounts["id"], pool.peek(int(n_t.sum())))
        n_tr, n_pu = per_target(tw, accts)
        return n_t, n_tr + n_pu

    Pw, n_t, per_t, n = P.grow(book, name, budget, 3 * 3.5, counts)
    if n == 0:
        return
    wl = pol["window_h"]
    span = int(wl["max"]) * HOUR_US
    start = _start(Pw[:, 1], env.h0 + env.warmup, env.h_end - 2 * span)
    ring = ring_of(env, Pw[:, 0])
    end = np.minimum(start + 2 * span, env.h_end)
    rows = book.add_campaigns(typ, n, ring=ring, start=start, end=end, n_targets=n_t)
    tw = book.target_words(name, range(n), n_t)
    accts = np.searchsorted(w.accounts["id"], pool.take(int(n_t.sum())))
    t_camp = np.repeat(np.arange(n), n_t)
    book.add_targets(rows[t_camp], "ACCOUNT", w.accounts["id"][accts], "VICTIM")
    n_tr, n_pu = per_target(tw, accts)
    n_tr, n_pu = n_tr[: per_t.size], n_pu[: per_t.size]
    over = n_tr + n_pu - per_t  # the truncated last target loses purchases first, then transfers
    cut_pu = np.minimum(over, n_pu)
    n_pu, n_tr = n_pu - cut_pu, n_tr - (over - cut_pu)
    take = start[t_camp] + (P.u01(tw[:, 3]) * span).astype(np.int64)
    length = ((wl["min"] + P.u01(tw[:, 1]) * (wl["max"] - wl["min"])) * HOUR_US).astype(np.int64)
    via = (P.u01(tw[:, 2]) < pol["via_compromised_device"]) & (
        f.compromised_device.sizes()[w.accounts["owner"][accts]] > 0
    )
    per_c = np.bincount(t_camp[: per_t.size], per_t, n).astype(np.int64)
    W = book.slot_words(name, range(n), per_c)
    s_t = np.repeat(np.arange(per_t.size), per_t)
    is_tr = _rank(s_t) < n_tr[s_t]
    c = t_camp[s_t]
    acc = accts[s_t]
    party = w.accounts["owner"][acc]
    ts = P.window(W[:, P.S_TIME], take[s_t], np.minimum(take[s_t] + length[s_t], env.h_end))
    dev, ip = device_ip(env, ring[c], W[:, P.S_DEV_SRC], W[:, P.S_DEV], W[:, P.S_IP], 1.0)
    own = P.member(W[:, P.S_DEV], f.compromised_device.ptr, f.compromised_device.items, party)
    own_ip = pick(w.dev.ips, np.maximum(own, 0), W[:, P.S_IP])
    v = via[s_t] & (own >= 0)
    dev = np.where(v, w.dev.id[np.maximum(own, 0)], dev)
    ip = np.where(v, own_ip, ip)
    ok, code = outcome(W[:, P.S_APPROVE], W[:, P.S_CODE], pol["approve"], pol["decline_codes"])
    mule = P.member(W[:, P.S_CELL], f.ring_mules.ptr, f.ring_mules.items, ring[c])
    card = P.member(W[:, P.S_EDGE], f.account_cards.ptr, f.account_cards.items, acc)
    inst = np.where(is_tr, handle[acc], np.maximum(card, 0))
    t = pol["transfer_usd"]
    usd = P.lognormal(W[:, P.S_AMOUNT], t["median"], t["sigma"])
    mule_country = w.parties.country[w.accounts["owner"][np.maximum(mule, 0)]]
    book.add_slots(
        {
            "typ": typ,
            "camp": rows[c],
            "j": _rank(c),
            "cluster": _rank(t_camp)[s_t],
            "mode": np.where(is_tr, INJECT, CONVERT),
            "stage": np.where(
                is_tr, P.STAGES.index("ATO_TRANSFER"), P.STAGES.index("ATO_PURCHASE")
            ),
            "ts": ts,
            "type": np.where(is_tr, TRANSFER_OUT, 0),
            "channel": np.where(is_tr, OB, 1),
            "entry": np.where(is_tr, NA, X.ENTRY.index("ECOM")),
            "auth": np.where(is_tr, 0, X.AUTH.index("NONE")),
            "ok": ok,
            "code": code,
            "party": party,
            "account": acc,
            "inst": inst,
            "dev": dev,
            "ip": ip,
            "usd": np.where(is_tr, usd, -1.0),
            "z": _z(W[:, P.S_AMOUNT]),
            "lift": float(pol["amount_lift"]),
            "gmask": env.gmask(None),
            "cell_word": W[:, P.S_CELL],
            "cp_account": np.where(is_tr, mule, -1),
            "cp_country": np.where(
                is_tr, np.where(mule >= 0, mule_country, f.ring_country[ring[c]]), -1
            ),
        }
    )


@njit(cache=True)
def _propagate_nb(src, dst, delay, frac, out_deg, got_t, got_usd):
    """Money along the hops: each hop leaves ``delay`` after its source's last receipt with
    ``frac`` of what the source received split over its out-hops (updates got_t/got_usd)."""
    n = src.size
    t_h, usd_h = np.zeros(n, np.int64), np.zeros(n)
    for i in range(n):
        t_h[i] = got_t[src[i]] + delay[i]
        usd_h[i] = got_usd[src[i]] * frac[i] / out_deg[src[i]]
        got_t[dst[i]] = max(got_t[dst[i]], t_h[i])
        got_usd[dst[i]] += usd_h[i]
    return t_h, usd_h


def _shape(pattern: int, n: int):
    """Hops ``(src, dst)`` between mule ordinals, the inbound receivers and the cash-out
    mules of one campaign's pattern (n ≥ 1 mules)."""
    if n == 1:
        return np.zeros((0, 2), np.int64), np.array([0]), np.array([0])
    if n == 2 or pattern == 2:  # CHAIN
        hops = np.stack([np.arange(n - 1), np.arange(1, n)], 1)
        return hops, np.array([0]), np.array([n - 1])
    if pattern == 0:  # FAN_IN: L1 mules forward to one collector
        hops = np.stack([np.arange(n - 1), np.full(n - 1, n - 1)], 1)
        return hops, np.arange(n - 1), np.array([n - 1])
    if pattern == 1:  # FAN_OUT: one L1 forwards to every L2, each cashes out
        hops = np.stack([np.zeros(n - 1, np.int64), np.arange(1, n)], 1)
        return hops, np.array([0]), np.arange(1, n)
    mid = np.arange(1, n - 1)  # SCATTER_GATHER
    hops = np.concatenate(
        [
            np.stack([np.zeros(mid.size, np.int64), mid], 1),
            np.stack([mid, np.full(mid.size, n - 1)], 1),
        ]
    )
    return hops, np.array([0]), np.array([n - 1])


def _n_slots(pattern, n) -> np.ndarray:
    return np.array(
        [sum(a.shape[0] for a in _shape(int(p), int(k))) for p, k in zip(pattern, n, strict=True)],
        np.int64,
    )


def mule_movement(env, typ: int, budget: int) -> None:
    pol, book, sw = env.pol["MULE_MONEY_MOVEMENT"], env.book, env.sw
    name, f = "MULE_MONEY_MOVEMENT", sw.fraud
    size = env.ring_mule_order.sizes().astype(np.float64)

    def plan(Pw):
        ring = (
            P.alias_pick(np.where(size > 0, size, 0.0), f.ring_id, Pw[:, 0])
            if (size > 0).any()
            else ring_of(env, Pw[:, 0])
        )
        pattern = P.cdf_pick(Pw[:, 5], pol["pattern"], P.PATTERNS)
        want = P.uniform_int(Pw[:, 6], pol["mules"]["min"], pol["mules"]["max"])
        n = np.maximum(np.minimum(want, env.ring_mule_order.sizes()[ring]), 1)
        return ring, pattern, n

    def counts(Pw):
        ring, pattern, n = plan(Pw)
        return np.ones(n.size, np.int64), _n_slots(pattern, n)  # one target row per campaign

    Pw, _, per_c, n = P.grow(book, name, budget, 25, counts)
    if n == 0:
        return
    ring, pattern, n_m = (a[:n] for a in plan(Pw))
    d = pol["duration_days"]
    dur = (P.lognormal(Pw[:, 2], d["median"], d["sigma"]) * DAY_US).astype(np.int64)
    dur = np.minimum(dur, env.h_end - env.h0 - env.warmup)  # short horizons (tiny)
    start = _start(Pw[:, 1], env.h0 + env.warmup, env.h_end - dur)
    rows = book.add_campaigns(
        typ, n, ring=ring, pattern=pattern, start=start, end=start + dur, n_targets=n_m
    )
    book.target_words(name, range(n), n_m)
    W = book.slot_words(name, range(n), per_c)
    at = 0
    cols = []
    for c in range(n):  # one campaign's flow graph per step (tens of rows, O(F) in total)
        k = int(per_c[c])
        mules = env.take_mules(int(ring[c]), int(n_m[c]))
        full = int(_n_slots([pattern[c]], [mules.size])[0])
        Wc = W[at : at + k]
        if full > k:  # the truncated last campaign: its flow is planned whole, cut after
            Wc = book._txn.words(book._txn.stream(f"{name}|{c}"), 0, full, 6)
        f_cols = _flows(
            env,
            pol,
            typ,
            int(rows[c]),
            int(ring[c]),
            int(pattern[c]),
            mules,
            int(start[c]),
            int(dur[c]),
            Wc,
            full,
        )
        cols.append({key: v[:k] for key, v in f_cols.items()})
        at += k
    book.add_slots({key: np.concatenate([x[key] for x in cols]) for key in cols[0]})


def _flows(env, pol, typ, camp, ring, pattern, mules, start, dur, W, k) -> dict:
    """The rows of one mule campaign: inbound credits, layering hops, cash-outs."""
    f, w = env.sw.fraud, env.sw.w
    hops, inbound, cash = _shape(pattern, mules.size)
    roles = np.full(mules.size, "MULE_L2", object)
    roles[inbound] = "MULE_L1"
    roles[cash] = "COLLECTOR" if cash.size == 1 and mules.size > 1 else roles[cash]
    env.book.add_targets(np.full(mules.size, camp), "ACCOUNT", w.accounts["id"][mules], "")
    env.book.targets[-1]["role"] = roles
    n_in, n_h, n_c = inbound.size, hops.shape[0], cash.size
    u_t = P.u01(W[:, P.S_TIME])
    i_in = np.arange(n_in)
    t_in = start + (u_t[i_in] * dur * 0.5).astype(np.int64)
    a = pol["inbound_usd"]
    usd_in = P.lognormal(W[i_in, P.S_AMOUNT], a["median"], a["sigma"])
    ff = pol["forward_fraction"]
    frac = ff[0] + P.u01(W[:, P.S_ENTRY]) * (ff[1] - ff[0])
    hd = pol["hop_delay_h"]
    delay = (P.lognormal(W[:, P.S_TIME], hd["median"], hd["sigma"]) * HOUR_US).astype(np.int64)
    got_t = np.full(mules.size, start, np.int64)  # last receipt time per mule
    got_usd = np.zeros(mules.size)
    np.maximum.at(got_t, inbound, t_in)
    np.add.at(got_usd, inbound, usd_in)
    src, dst = hops[:, 0], hops[:, 1]
    # hops in topological order: every pattern lists a mule's inbound hops before its outbound
    out_deg = np.bincount(src, minlength=mules.size) if n_h else np.zeros(mules.size, np.int64)
    t_h, usd_h = _propagate_nb(src, dst, delay[n_in:], frac[n_in:], out_deg, got_t, got_usd)
    i_c = n_in + n_h + np.arange(n_c)
    t_c = got_t[cash] + delay[i_c]
    usd_c = got_usd[cash] * frac[i_c]
    acc = np.concatenate([mules[inbound], mules[src], mules[cash]])
    ts = np.minimum(np.concatenate([t_in, t_h, t_c]), env.h_end - 1)
    usd = np.concatenate([usd_in, usd_h, usd_c])
    party = w.accounts["owner"][acc]
    stage = np.repeat(
        [P.STAGES.index(s) for s in ("MULE_INBOUND", "MULE_LAYERING", "MULE_CASHOUT")],
        [n_in, n_h, n_c],
    )
    kind = np.repeat([0, 1, 2], [n_in, n_h, n_c])
    quasi_ok = (P.u01(W[:, P.S_CELL]) < pol["cashout"]["QUASI_CASH"]) & (env.quasi_m.size > 0)
    card = P.member(W[:, P.S_EDGE], f.account_cards.ptr, f.account_cards.items, acc)
    qc = (kind == 2) & quasi_ok & (card >= 0)
    m = np.where(
        qc,
        env.quasi_m[P.uniform_int(W[:, P.S_CELL], 0, max(env.quasi_m.size - 1, 0))]
        if env.quasi_m.size
        else -1,
        -1,
    )
    dev, ip = device_ip(env, np.full(k, ring), W[:, P.S_DEV_SRC], W[:, P.S_DEV], W[:, P.S_IP], 1.0)
    own = pick(w.dev.of_party, party, W[:, P.S_DEV])
    use_own = (P.u01(W[:, P.S_DEV_SRC]) < pol["device"]["OWN"]) & (own >= 0)
    own_ip = pick(w.dev.ips, np.maximum(own, 0), W[:, P.S_IP])
    dev = np.where(use_own, w.dev.id[np.maximum(own, 0)], dev)
    ip = np.where(use_own, own_ip, ip)
    ok, code = outcome(W[:, P.S_APPROVE], W[:, P.S_CODE], pol["approve"], pol["decline_codes"])
    ok, code = np.where(kind == 0, True, ok), np.where(kind == 0, 0, code)
    nxt = np.concatenate([np.full(n_in, -1), mules[dst], np.full(n_c, -1)])
    home = w.parties.country[party]
    ext = env.foreign_country(home, W[:, P.S_AUTH])
    cp_country = np.where(
        kind == 1,
        w.parties.country[w.accounts["owner"][np.maximum(nxt, 0)]],
        np.where(kind == 0, env.credit_country(home, W[:, P.S_AUTH]), ext),
    )
    handle = env.handle[acc]
    inst = np.where(qc, np.maximum(card, 0), handle)
    return {
        "typ": np.full(k, typ),
        "camp": np.full(k, camp),
        "j": np.arange(k),
        "cluster": np.searchsorted(np.arange(mules.size), np.concatenate([inbound, src, cash])),
        "mode": np.full(k, INJECT),
        "stage": stage,
        "ts": ts,
        "type": np.where(kind == 0, TRANSFER_IN, np.where(qc, QUASI, TRANSFER_OUT)),
        "dir": (kind == 0).astype(np.int64),
        "channel": np.where(qc, -1, OB),
        "entry": np.where(qc, -1, NA),
        "auth": np.where(qc, -1, 0),
        "code": code,
        "ok": ok,
        "party": party,
        "account": acc,
        "inst": inst,
        "dev": np.where(kind == 0, 0, dev).astype(np.uint64),
        "ip": np.where(kind == 0, -1, ip),
        "m": m,
        "site": np.full(k, -1),
        "edge": np.full(k, -1),
        "term": np.full(k, -1),
        "usd": usd,
        "z": np.zeros(k),
        "lift": np.zeros(k),
        "cp_account": np.where(kind == 1, nxt, -1),
        "cp_country": np.where(qc, -1, cp_country),
        "parent_j": np.full(k, -1),
        "cc_mode": np.zeros(k, np.int64),
        "cc_country": np.full(k, -1),
        "gmask": np.zeros(k, np.int64),
        "cell_word": W[:, P.S_EDGE],
    }
