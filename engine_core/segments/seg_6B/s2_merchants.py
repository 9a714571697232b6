"""6B.S2 party and merchant typologies (layer3 §4.3): FIRST_PARTY_BUST_OUT (a synthetic
identity's burst of CP/CNP purchases (CONVERT) and cash advances (INJECT QUASI_CASH) up to
``spend_to_limit`` of its limit) and MERCHANT_COLLUSION (INJECT fictitious sales at the
collusive merchant's registered site, half in its off-hours, then refunds to ring cards)."""

from __future__ import annotations

import numpy as np

from engine_core.kernels.alloc import round_half_even
from engine_core.segments.seg_6B import s2_plan as P
from engine_core.segments.seg_6B.s2_cards import _rank, _start, _z, outcome, ring_of
from engine_core.segments.seg_6B.s2_plan import CONVERT, DAY_US, INJECT

MAX_BUSTOUT_SLOTS = 256  # a burst never needs more (limit / smallest group median)
QUASI, PURCHASE, REFUND = 5, 0, 1
CASH_GROUP = "MONEY"  # cash advances are priced like the legit MONEY group
# policy-silent counts of MERCHANT_COLLUSION: cards 1 + NB2(5, 1), sales per card NB2(4, 1.5)
COLLUSION_CARDS = (5.0, 1.0)
COLLUSION_SALES = (4.0, 1.5)


def bust_out(env, typ: int, budget: int) -> None:
    pol, book, sw = env.pol["FIRST_PARTY_BUST_OUT"], env.book, env.sw
    pool, name, w = env.pools["FIRST_PARTY_BUST_OUT"], "FIRST_PARTY_BUST_OUT", sw.w
    groups = [env.groups.index(g) for g in pol["mcc_groups"]]
    cash_g = env.groups.index(CASH_GROUP)
    has_quasi = env.quasi_m.size > 0

    def amounts(Ws, cash):
        g = np.array(groups)[P.uniform_int(Ws[:, P.S_CELL], 0, len(groups) - 1)]
        g = np.where(cash, cash_g, g)
        z = _z(Ws[:, P.S_AMOUNT])
        return g, np.exp(env.ln_median[g] + env.sigma[g] * z + pol["amount_lift"]), z

    def per_party(parties, Wall):
        lim = env.party_limit(parties, pol["debit_limit_usd"]) * pol["spend_to_limit"]
        cash = (P.u01(Wall[:, P.S_ENTRY]) < pol["cash_share"]) & has_quasi
        _, usd, _ = amounts(Wall, cash)
        usd = usd.reshape(parties.size, MAX_BUSTOUT_SLOTS)
        c = np.cumsum(usd, axis=1)
        n = 1 + (c < lim[:, None]).sum(axis=1)
        return np.minimum(n, MAX_BUSTOUT_SLOTS)

    def counts(Pw):
        parties = np.searchsorted(w.parties.id, pool.peek(Pw.shape[0]))
        Wall = book._txn.cells(
            book._keys(name, range(Pw.shape[0])),
            np.full(Pw.shape[0], MAX_BUSTOUT_SLOTS),
            6,
            trace=False,
        )
        return np.ones(Pw.shape[0], np.int64), per_party(parties, Wall)

    Pw, _, per_c, n = P.grow(book, name, budget, 20, counts)
    if n == 0:
        return
    b = pol["burst_days"]
    burst = (P.lognormal(Pw[:, 2], b["median"], b["sigma"]) * DAY_US).astype(np.int64)
    mid = env.h0 + (env.h_end - env.h0) // 2  # after a normal build-up: the second half
    burst = np.minimum(burst, env.h_end - mid)
    start = _start(Pw[:, 1], mid, env.h_end - burst)
    ids = pool.take(n)
    party = np.searchsorted(w.parties.id, ids)
    rows = book.add_campaigns(
        typ, n, actor_party=party, start=start, end=start + burst, n_targets=np.ones(n, np.int64)
    )
    book.target_words(name, range(n), np.ones(n, np.int64))
    book.add_targets(rows, "PARTY", ids, "ACTOR")
    W = book.slot_words(name, range(n), per_c)
    c = np.repeat(np.arange(n), per_c)
    p = party[c]
    cash = (P.u01(W[:, P.S_ENTRY]) < pol["cash_share"]) & has_quasi
    g, usd, z = amounts(W, cash)
    card = env.party_card(p, W[:, P.S_EDGE])
    cp = P.u01(W[:, P.S_AUTH]) < 0.5  # CP purchases in the home country, CNP anywhere
    ok, code = outcome(W[:, P.S_APPROVE], W[:, P.S_CODE], pol["approve"], pol["decline_codes"])
    dev, ip = env.own_device(p, W[:, P.S_DEV], W[:, P.S_IP])
    m = np.where(
        cash,
        env.quasi_m[P.uniform_int(W[:, P.S_CELL], 0, max(env.quasi_m.size - 1, 0))]
        if has_quasi
        else -1,
        -1,
    )
    channel = np.where(cash, -1, np.where(cp, 0, 1))
    book.add_slots(
        {
            "typ": typ,
            "camp": rows[c],
            "j": _rank(c),
            "cluster": 0,
            "mode": np.where(cash, INJECT, CONVERT),
            "stage": np.where(
                cash, P.STAGES.index("BUSTOUT_CASH"), P.STAGES.index("BUSTOUT_SPEND")
            ),
            "ts": P.window(W[:, P.S_TIME], start[c], start[c] + burst[c]),
            "type": np.where(cash, QUASI, PURCHASE),
            "channel": channel,
            "entry": np.where(cp & ~cash, 0, np.where(cash, -1, 4)),
            "auth": np.where(cp & ~cash, 0, np.where(cash, -1, 1)),
            "ok": ok,
            "code": code,
            "party": p,
            "account": w.inst.account[card],
            "inst": card,
            "dev": np.where(channel == 0, 0, dev).astype(np.uint64),
            "ip": np.where(channel == 0, -1, ip),
            "m": m,
            "usd": np.where(cash, usd, -1.0),
            "z": z,
            "lift": float(pol["amount_lift"]),
            "gmask": np.left_shift(1, g),
            "cell_word": W[:, P.S_CELL],
            "cc_mode": np.where(cp, 1, 0),
            "cc_country": w.parties.country[p],
        }
    )


def collusion(env, typ: int, budget: int) -> None:
    pol, book, sw = env.pol["MERCHANT_COLLUSION"], env.book, env.sw
    pool, name, w, f = env.pools["MERCHANT_COLLUSION"], "MERCHANT_COLLUSION", sw.w, sw.fraud

    def plan(Pw):
        ring = ring_of(env, Pw[:, 0])
        avail = np.maximum(f.ring_cards.sizes()[ring], 0)
        avail = np.where(avail > 0, avail, env.all_ring_cards.size)
        n_cards = np.minimum(
            1 + P.nb_count(Pw[:, 3], Pw[:, 4], *COLLUSION_CARDS, lo=0), np.maximum(avail, 1)
        )
        return ring, n_cards

    def sales_refunds(tw, n_t):
        s = P.nb_count(tw[:, 0], tw[:, 1], *COLLUSION_SALES)
        camp = np.repeat(np.arange(n_t.size), n_t)
        sales = np.bincount(camp, s, n_t.size).astype(np.int64)
        refunds = np.array([round_half_even(pol["refund_share"] * x) for x in sales.tolist()])
        return s, sales, refunds.astype(np.int64)

    def counts(Pw):
        _, n_t = plan(Pw)
        tw = book._target.cells(book._keys(name, range(n_t.size)), n_t, 2, trace=False)
        s, sales, refunds = sales_refunds(tw, n_t)
        # one target row per campaign whose "slots" are its sales + refunds
        return np.ones(n_t.size, np.int64), sales + refunds

    Pw, _, per_c, n = P.grow(book, name, budget, 20, counts)
    if n == 0:
        return
    ring, n_t = (a[:n] for a in plan(Pw))
    d = pol["duration_days"]
    dur = (P.lognormal(Pw[:, 2], d["median"], d["sigma"]) * DAY_US).astype(np.int64)
    dur = np.minimum(dur, env.h_end - env.h0 - env.warmup)  # short horizons (tiny)
    start = _start(Pw[:, 1], env.h0 + env.warmup, env.h_end - dur)
    merchants = np.searchsorted(w.m_id, pool.take(n))
    site = np.array([f.collusive_site.get(int(m), -1) for m in merchants.tolist()], np.int64)
    rows = book.add_campaigns(
        typ,
        n,
        ring=ring,
        actor_merchant=merchants,
        site=site,
        start=start,
        end=start + dur,
        n_targets=n_t,
    )
    tw = book.target_words(name, range(n), n_t)
    s, sales, refunds = sales_refunds(tw, n_t)
    tot = sales + refunds
    cut = per_c - tot  # the truncated last campaign loses refunds first, then sales
    refunds = np.maximum(refunds + np.minimum(cut, 0), 0)
    sales = per_c - refunds
    book.add_targets(rows, "MERCHANT", w.m_id[merchants], "ACTOR")
    cards = [env.ring_card_list(int(r), int(k)) for r, k in zip(ring, n_t, strict=True)]
    t_camp = np.repeat(np.arange(n), n_t)
    all_cards = np.concatenate(cards)
    book.add_targets(rows[t_camp], "INSTRUMENT", w.inst.id[all_cards], "MULE_L1")
    W = book.slot_words(name, range(n), per_c)
    c = np.repeat(np.arange(n), per_c)
    j = _rank(c)
    is_sale = j < sales[c]
    # sale slots belong to cards by their per-card counts (target-major), refunds to a card
    first_t = np.concatenate([[0], np.cumsum(n_t)])[:-1]
    s_card = np.repeat(np.arange(all_cards.size), s[: all_cards.size])
    sale_pos = np.concatenate([[0], np.cumsum(sales)])[:-1]
    k_sale = np.where(is_sale, j, 0)
    sale_card = (
        s_card[np.minimum(sale_pos[c] + k_sale, max(s_card.size - 1, 0))] if s_card.size else 0
    )
    linked = ~is_sale & (P.u01(W[:, P.S_EDGE]) >= pol["refund_without_sale"])
    parent = np.where(linked, P.uniform_int(W[:, P.S_DEV], 0, np.maximum(sales[c] - 1, 0)), -1)
    ref_card = first_t[c] + P.uniform_int(W[:, P.S_DEV_SRC], 0, n_t[c] - 1)
    card_row = all_cards[np.where(is_sale, np.minimum(sale_card, all_cards.size - 1), ref_card)]
    off = P.u01(W[:, P.S_AUTH]) < pol["off_hours_share"]
    ts = env.merchant_hours(
        merchants[c], start[c], start[c] + dur[c], off, W[:, P.S_TIME], W[:, P.S_CELL]
    )
    ok, code = outcome(W[:, P.S_APPROVE], W[:, P.S_CODE], pol["approve"], pol["decline_codes"])
    a = pol["sale_usd"]
    usd = P.lognormal(W[:, P.S_AMOUNT], a["median"], a["sigma"])
    entry = 2 + np.where(P.u01(W[:, P.S_ENTRY]) < pol["entry"]["MANUAL_KEYED"], 1, -2)
    book.add_slots(
        {
            "typ": typ,
            "camp": rows[c],
            "j": j,
            "cluster": card_row * 0 + _card_rank(card_row, c),
            "mode": INJECT,
            "stage": np.where(
                is_sale, P.STAGES.index("COLLUSION_SALE"), P.STAGES.index("COLLUSION_REFUND")
            ),
            "ts": ts,
            "type": np.where(is_sale, PURCHASE, REFUND),
            "dir": (~is_sale).astype(np.int64),
            "channel": np.where(site[c] >= 0, 0, 1),
            "entry": np.where(site[c] >= 0, entry, 4),
            "auth": np.where(site[c] >= 0, 0, 1),
            "ok": np.where(is_sale, ok, True),
            "code": np.where(is_sale, code, 0),
            "party": w.inst.holder[card_row],
            "account": w.inst.account[card_row],
            "inst": card_row,
            "dev": np.uint64(0),
            "ip": -1,
            "m": merchants[c],
            "site": site[c],
            "usd": usd,
            "parent_j": parent,
            "cell_word": W[:, P.S_EDGE],
        }
    )


def _card_rank(card_row, camp):
    """Cluster of a collusion row: its card's rank among the campaign's cards (by id)."""
    key = camp.astype(np.int64) * (1 << 40) + card_row
    uniq, inv = np.unique(key, return_inverse=True)
    first = np.searchsorted(uniq, camp.astype(np.int64) * (1 << 40))
    return inv.ravel() - first[np.arange(camp.size)]
