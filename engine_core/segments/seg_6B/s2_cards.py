"""6B.S2 card typologies (layer3 §4.3): CARD_TESTING (INJECT bursts of micro-auths on
breached cards at 1–3 small CNP merchants), STOLEN_CARD_CNP (CONVERT sprees on breached
cards, half of them on cards a test approved) and STOLEN_CARD_CP (REBIND compromise visits
at a skimming point, then CONVERT counterfeit cash-outs after a lag)."""

from __future__ import annotations

import numpy as np

from engine_core.errors import EngineError
from engine_core.kernels.csr import pick
from engine_core.segments.seg_6B import s2_plan as P
from engine_core.segments.seg_6B import txn as X
from engine_core.segments.seg_6B.s2_plan import CONVERT, DAY_US, HOUR_US, INJECT

ECOM = X.ENTRY.index("ECOM")


def ring_of(env, words) -> np.ndarray:
    """ALIAS on ring size (``RING_MISSING`` when the world has no ring)."""
    f = env.sw.fraud
    if f.ring_id.size == 0:
        raise EngineError("RING_MISSING", P.STATE, "s5_fraud_rings_6A has no ring")
    w = f.ring_size if (f.ring_size > 0).any() else np.ones(f.ring_id.size)
    return P.alias_pick(w, f.ring_id, words)


def device_ip(env, ring, src_words, dev_words, ip_words, p_operator) -> tuple:
    """Operator device of the ring, reported with ``p_operator`` (else none), and its IP."""
    f = env.sw.fraud
    use = P.u01(src_words) < p_operator
    d = P.member(dev_words, f.ring_devices.ptr, f.ring_devices.items, ring)
    ids = f.op_device_id[np.maximum(d, 0)] if f.op_device_id.size else np.zeros(d.size, np.uint64)
    dev = np.where(use & (d >= 0), ids, np.uint64(0)).astype(np.uint64)
    # the IP is the (reported or not) operator device's, by its IP law; a ring without
    # devices uses any ring IP
    ip = pick(f.op_ips, np.maximum(d, 0), ip_words) if f.op_device_id.size else np.full(d.size, -1)
    ring_ip = P.member(ip_words, f.ring_ips.ptr, f.ring_ips.items, ring)
    ip = np.where((d >= 0) & (ip >= 0), ip, ring_ip)
    return dev, ip


def outcome(words_ok, words_code, approve: float, codes: dict):
    ok = P.u01(words_ok) < approve
    decl = P.cdf_pick(words_code, codes, X.CODES)
    return ok, np.where(ok, 0, decl)


def card_side(env, inst_rows) -> dict:
    w = env.sw.w
    return {
        "inst": inst_rows,
        "account": w.inst.account[inst_rows],
        "party": w.inst.holder[inst_rows],
    }


def _start(words, lo, hi_minus) -> np.ndarray:
    return P.window(words, lo, np.maximum(hi_minus, lo + 1))


def card_testing(env, typ: int, budget: int) -> None:
    pol, book, sw = env.pol["CARD_TESTING"], env.book, env.sw
    pool = env.pools["CARD_TESTING"]
    name = "CARD_TESTING"
    m_ok = eligible_merchants(sw, pol["mcc"], virtual=True)
    cards = pol["cards"]

    def counts(Pw):
        n_t = P.nb_count(Pw[:, 3], Pw[:, 4], cards["nb_mean"], cards["nb_k"], 1, cards["max"])
        tw = book._target.cells(book._keys(name, range(n_t.size)), n_t, 2, trace=False)
        return n_t, 1 + _poisson(tw[:, 0], pol["attempts_extra_mean"])

    Pw, n_t, per_t, n = P.grow(book, name, budget, 60 * 1.6, counts)
    if n == 0:
        return
    d = pol["duration_h"]
    dur = np.clip(P.lognormal(Pw[:, 2], d["median"], d["sigma"]), d["min"], d["max"])
    dur = (dur * HOUR_US).astype(np.int64)
    start = _start(Pw[:, 1], env.h0 + env.warmup, env.h_end - dur)
    ring = ring_of(env, Pw[:, 0])
    n_m = P.uniform_int(Pw[:, 5], pol["merchants"][0], pol["merchants"][1])
    wts = sw.fraud.m_volume[m_ok].astype(np.float64) ** float(pol["volume_exponent"])
    wts = np.where(wts > 0, wts, 1.0)
    picks = np.stack([m_ok[P.alias_pick(wts, sw.w.m_id[m_ok], Pw[:, 6 + k])] for k in range(3)], 1)
    rows = book.add_campaigns(typ, n, ring=ring, start=start, end=start + dur, n_targets=n_t)
    book.target_words(name, range(n), n_t)  # traced: the attempts law above
    targets = pool.take(int(n_t.sum()))
    t_camp = np.repeat(np.arange(n), n_t)
    inst = np.searchsorted(sw.w.inst.id, targets)
    book.add_targets(rows[t_camp], "INSTRUMENT", targets, "VICTIM")
    per_c = np.bincount(t_camp, per_t, n).astype(np.int64)
    W = book.slot_words(name, range(n), per_c)
    s_t = np.repeat(np.arange(per_t.size), per_t)  # slot -> target
    c = t_camp[s_t]
    ts = P.window(W[:, P.S_TIME], start[c], start[c] + dur[c])
    dev, ip = device_ip(
        env, ring[c], W[:, P.S_DEV_SRC], W[:, P.S_DEV], W[:, P.S_IP], pol["device"]["OPERATOR"]
    )
    ok, code = outcome(W[:, P.S_APPROVE], W[:, P.S_CODE], pol["approve"], pol["decline_codes"])
    verify = P.u01(W[:, P.S_ENTRY]) < pol["verification_share"]
    a = pol["amount_usd"]
    usd = np.minimum(P.lognormal(W[:, P.S_AMOUNT], a["median"], a["sigma"]), a["max"])
    k = P.uniform_int(W[:, P.S_CELL], 0, n_m[c] - 1)
    m = picks[c, k]
    edge = pick(sw.fraud.m_edges, m, W[:, P.S_EDGE])
    book.add_slots(
        {
            "typ": typ,
            "camp": rows[c],
            "j": _rank(c),
            "cluster": s_t - np.repeat(np.concatenate([[0], np.cumsum(n_t)])[:-1], n_t)[s_t],
            "mode": INJECT,
            "stage": P.STAGES.index("CARD_TEST"),
            "ts": ts,
            "type": np.where(verify, 2, 0),
            "channel": 1,
            "entry": ECOM,
            "auth": 1 + P.cdf_pick(W[:, P.S_AUTH], pol["cnp_auth"], X.AUTH[1:]),
            "code": code,
            "ok": ok,
            **card_side(env, inst[s_t]),
            "dev": dev,
            "ip": ip,
            "m": m,
            "edge": edge,
            "usd": np.where(verify, 0.0, usd),
        }
    )


def stolen_card_cnp(env, typ: int, budget: int) -> None:
    pol, book = env.pol["STOLEN_CARD_CNP"], env.book
    pool, name = env.pools["STOLEN_CARD_CNP"], "STOLEN_CARD_CNP"
    tested = env.tested  # CARD_TESTING campaign row -> its approved cards (instrument ids)
    parents = np.array(sorted(tested), np.int64)

    def plan(Pw):
        n_t = P.nb_count(Pw[:, 3], Pw[:, 4], pol["cards"]["nb_mean"], pol["cards"]["nb_k"])
        par = np.full(n_t.size, -1, np.int64)
        if parents.size:
            has = P.u01(Pw[:, 5]) < pol["from_tested_share"]
            par = np.where(has, parents[P.uniform_int(Pw[:, 6], 0, parents.size - 1)], -1)
            avail = np.array([tested.get(int(p), np.zeros(0)).size for p in par.tolist()])
            n_t = np.where(par >= 0, np.minimum(n_t, np.maximum(avail, 1)), n_t)
        return n_t, par

    def counts(Pw):
        n_t, _ = plan(Pw)
        tw = book._target.cells(book._keys(name, range(n_t.size)), n_t, 2, trace=False)
        t = pol["txns_per_card"]
        return n_t, P.nb_count(tw[:, 0], tw[:, 1], t["nb_mean"], t["nb_k"])

    Pw, n_t, per_t, n = P.grow(book, name, budget, 8 * 3, counts)
    if n == 0:
        return
    _, par = plan(Pw)
    par = par[:n]
    sp = pol["spree_days"]
    spree = np.clip(
        P.lognormal(Pw[:, 2], sp["median"], sp["sigma"]) * DAY_US,
        HOUR_US,
        (env.h_end - env.h0) // 2,
    ).astype(np.int64)
    start = _start(Pw[:, 1], env.h0 + env.warmup, env.h_end - spree)
    p_end = env.camp_end(par)
    start = np.where(par >= 0, np.minimum(np.maximum(start, p_end), env.h_end - spree), start)
    ring = np.where(par >= 0, env.camp_ring(par), ring_of(env, Pw[:, 0]))
    rows = book.add_campaigns(
        typ, n, ring=ring, parent=par, start=start, end=start + spree, n_targets=n_t
    )
    book.target_words(name, range(n), n_t)
    ids = []
    for c, p in enumerate(par.tolist()):  # one array op per campaign (hundreds)
        ids.append(tested[p][: n_t[c]] if p >= 0 else pool.take(int(n_t[c])))
    targets = np.concatenate(ids).astype(np.uint64) if ids else np.zeros(0, np.uint64)
    _convert_slots(
        env,
        typ,
        name,
        rows,
        n_t,
        per_t,
        targets,
        start,
        start + spree,
        ring,
        pol,
        "CNP_SPREE",
        channel=1,
    )


def stolen_card_cp(env, typ: int, budget: int) -> None:
    pol, book, sw = env.pol["STOLEN_CARD_CP"], env.book, env.sw
    pool, name = env.pools["STOLEN_CARD_CP"], "STOLEN_CARD_CP"
    skim = sw.fraud.skim_site
    v = pol["victims"]

    def counts(Pw):
        n_t = P.nb_count(Pw[:, 3], Pw[:, 4], v["nb_mean"], v["nb_k"], 1, v["max"])
        tw = book._target.cells(book._keys(name, range(n_t.size)), n_t, 2, trace=False)
        t = pol["txns_per_card"]
        return n_t, P.nb_count(tw[:, 0], tw[:, 1], t["nb_mean"], t["nb_k"])

    Pw, n_t, per_t, n = P.grow(book, name, budget, 40 * 4, counts)
    if n == 0:
        return
    if skim.size == 0:
        raise EngineError("POOL_EMPTY", P.STATE, "STOLEN_CARD_CP: no SKIMMING_POINT site")

    def days(col, key):
        d = pol[key]
        return (P.lognormal(Pw[:, col], d["median"], d["sigma"]) * DAY_US).astype(np.int64)

    comp, lag, cash = days(2, "compromise_days"), days(6, "lag_days"), days(7, "cashout_days")
    # a short horizon (tiny: 7 days) scales the three phases to fit after the warm-up
    avail = env.h_end - env.h0 - env.warmup
    scale = np.minimum(1.0, avail / np.maximum(comp + lag + cash, 1))
    comp, lag, cash = ((x * scale).astype(np.int64) for x in (comp, lag, cash))
    start = _start(Pw[:, 1], env.h0 + env.warmup, env.h_end - comp - lag - cash)
    comp_end = np.minimum(start + comp, env.h_end - 2)
    c0 = np.minimum(comp_end + lag, env.h_end - 1)
    c1 = np.minimum(c0 + cash, env.h_end)
    site = skim[P.uniform_int(Pw[:, 5], 0, skim.size - 1)]
    ring = ring_of(env, Pw[:, 0])
    rows = book.add_campaigns(
        typ, n, ring=ring, site=site, start=start, end=c1, n_targets=n_t, comp_end=comp_end
    )
    tw = book.target_words(name, range(n), n_t)
    targets = pool.take(int(n_t.sum()))
    t_camp = np.repeat(np.arange(n), n_t)
    book.add_targets(rows, "SITE", sw.w.s_id[site], "COMPROMISE_POINT")
    foreign = P.u01(tw[:, 2]) < pol["p_foreign"]
    inst = np.searchsorted(sw.w.inst.id, targets)
    side = card_side(env, inst)
    book.rebinds.append(
        {
            "camp": rows[t_camp],
            "cluster": _rank(t_camp),
            "site": site[t_camp],
            "lo": start[t_camp],
            "hi": comp_end[t_camp],
            **side,
        }
    )
    home = sw.w.parties.country[side["party"]]
    _convert_slots(
        env,
        typ,
        name,
        rows,
        n_t,
        per_t,
        targets,
        c0,
        c1,
        ring,
        pol,
        "CP_CASHOUT",
        channel=0,
        cc=(np.where(foreign, 2, 1), home),
    )


def _convert_slots(
    env, typ, name, rows, n_t, per_t, targets, lo, hi, ring, pol, stage, channel, cc=None
) -> None:
    """CONVERT slots of card campaigns (target-major): card side from the victim, time in the
    campaign window, outcome and amount z from the slot, the cell constraint of §4.3 step 4."""
    book, sw = env.book, env.sw
    n = rows.size
    t_camp = np.repeat(np.arange(n), n_t)
    book.add_targets(rows[t_camp], "INSTRUMENT", targets, "VICTIM")
    inst = np.searchsorted(sw.w.inst.id, targets)
    per_c = np.bincount(t_camp, per_t, n).astype(np.int64)
    W = book.slot_words(name, range(n), per_c)
    s_t = np.repeat(np.arange(per_t.size), per_t)
    c = t_camp[s_t]
    ts = P.window(W[:, P.S_TIME], lo[c], hi[c])
    ok, code = outcome(W[:, P.S_APPROVE], W[:, P.S_CODE], pol["approve"], pol["decline_codes"])
    cols = {
        "typ": typ,
        "camp": rows[c],
        "j": _rank(c),
        "cluster": _rank(t_camp)[s_t],
        "mode": CONVERT,
        "stage": P.STAGES.index(stage),
        "ts": ts,
        "type": 0,
        "channel": channel,
        "ok": ok,
        "code": code,
        **card_side(env, inst[s_t]),
        "z": _z(W[:, P.S_AMOUNT]),
        "lift": float(pol["amount_lift"]),
        "gmask": env.gmask(pol["mcc_groups"]),
        "cell_word": W[:, P.S_CELL],
    }
    if channel == 1:
        dev, ip = device_ip(
            env, ring[c], W[:, P.S_DEV_SRC], W[:, P.S_DEV], W[:, P.S_IP], pol["device"]["OPERATOR"]
        )
        cols.update(
            dev=dev,
            ip=ip,
            entry=ECOM,
            auth=1 + P.cdf_pick(W[:, P.S_AUTH], pol["cnp_auth"], X.AUTH[1:]),
        )
    else:
        cols.update(
            dev=np.uint64(0),
            ip=-1,
            auth=0,
            entry=2 + P.cdf_pick(W[:, P.S_ENTRY], pol["entry"], X.ENTRY[2:4]),
        )
        cols.update(cc_mode=cc[0][s_t], cc_country=cc[1][s_t])
    book.add_slots(cols)


def eligible_merchants(sw, mccs, virtual: bool) -> np.ndarray:
    w, f = sw.w, sw.fraud
    ok = np.isin(w.m_mcc, [int(x) for x in mccs]) & (f.m_virtual == virtual)
    ok &= f.m_volume > 0
    if virtual:
        ok &= f.m_edges.sizes() > 0
    if not ok.any():  # a small world without a testing MCC: any merchant of the channel
        ok = (f.m_virtual == virtual) & (f.m_volume > 0)
        if virtual:
            ok &= f.m_edges.sizes() > 0
    return np.flatnonzero(ok)


def _rank(group: np.ndarray) -> np.ndarray:
    """Position of each element inside its run of equal (sorted) group values."""
    group = np.asarray(group)
    if group.size == 0:
        return group.astype(np.int64)
    start = np.concatenate([[True], group[1:] != group[:-1]])
    first = np.maximum.accumulate(np.where(start, np.arange(group.size), 0))
    return np.arange(group.size) - first


def _z(words):
    from engine_core.rng.samplers import as241

    return as241(P.u01(words))


def _poisson(words, mu):
    from engine_core.rng.samplers import poisson_inv

    return np.asarray(poisson_inv(P.u01(words), np.full(np.size(words), float(mu))), np.int64)
