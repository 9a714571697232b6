"""6B.S2 — fraud campaigns and the overlay (layer3 §4.3): pools, the exact budget, campaigns
per typology in canonical order, conversion capacity at cell level, the budget settled on
the absorber, one gather pass, the overlay rows and the campaign tables."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine_core.errors import EngineError
from engine_core.kernels.sorting import lex_order
from engine_core.rng.units import StateRng
from engine_core.segments.seg_6B import budget as B
from engine_core.segments.seg_6B import (
    s2_accounts,
    s2_cards,
    s2_merchants,
    s2_pools,
    s2_silence,
    s2_world,
)
from engine_core.segments.seg_6B import s2_convert as CV
from engine_core.segments.seg_6B import s2_outputs as O
from engine_core.segments.seg_6B import s2_plan as P
from engine_core.segments.seg_6B import s2_rows as RW
from engine_core.segments.seg_6B.families import FAMILIES
from engine_core.segments.seg_6B.s2_env import Env
from engine_core.segments.seg_6B.s2_pools import TYPOLOGIES
from engine_core.segments.state_io import open_state
from engine_core.segments.tz import load_cache
from engine_core.timeutil import parse_utc

STATE = "6B.S2"
DOMAIN_SEP = "fw.l3.v1"
POLICIES = (
    "countries_6A",
    "currencies_6A",
    "fx_static_6A",
    "region_map_6A",
    "segmentation_6A",
    "population_6A",
    "attachment_6B",
    "amounts_6B",
    "auth_6B",
    "legit_flows_6B",
    "weekly_profile_6B",
    "fraud_campaigns_6B",
)
PLANNERS = {
    "CARD_TESTING": s2_cards.card_testing,
    "STOLEN_CARD_CNP": s2_cards.stolen_card_cnp,
    "STOLEN_CARD_CP": s2_cards.stolen_card_cp,
    "ACCOUNT_TAKEOVER": s2_accounts.account_takeover,
    "MULE_MONEY_MOVEMENT": s2_accounts.mule_movement,
    "FIRST_PARTY_BUST_OUT": s2_merchants.bust_out,
    "MERCHANT_COLLUSION": s2_merchants.collusion,
}


def _rows(io, dataset) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in io.parts(dataset))


def _bin_order(io, pool):
    """CARD_TESTING targets concentrate in BINs: BINs in the order of their first card in the
    Efraimidis order, cards inside a BIN in that order."""
    t = io.read_table("s3_instrument_base_6A", ["instrument_id", "bin6"])
    ids = t.column(0).to_numpy()
    bins = t.column(1).fill_null(0).to_numpy().astype(np.int64)
    b = bins[np.searchsorted(ids, pool.ids)] if pool.ids.size else bins[:0]
    _, first = np.unique(b, return_index=True)
    rank = np.empty(b.size, np.int64)
    uniq, inv = np.unique(b, return_inverse=True)
    rank = np.argsort(np.argsort(first))[inv.ravel()]
    pool.ids = pool.ids[np.lexsort((np.arange(b.size), rank))]


def _concat(parts: list[dict]) -> dict:
    keys = parts[0].keys()
    return {
        k: np.concatenate([np.broadcast_to(p[k], (np.asarray(p["camp"]).size,)) for p in parts])
        for k in keys
    }


def run(ctx):
    io = open_state(ctx, STATE)
    pols = {n: io.policy(n) for n in POLICIES}
    fc = pols["fraud_campaigns_6B"]
    receipt = io.read_json("s0_gate_receipt_6B")
    h0 = parse_utc(receipt["horizon_start_utc"]) * 1_000_000
    h_end = parse_utc(receipt["horizon_end_utc"]) * 1_000_000
    rate = float(receipt["fraud_rate"])
    cache = load_cache(ctx)
    rng = StateRng(ctx, STATE, FAMILIES, DOMAIN_SEP)
    sw = s2_world.build(io, ctx, pols, h0, h_end, cache)
    L = _rows(io, "s1_legit_txns_6B")
    A = _rows(io, "arrival_events_5B")
    n_p = sw.w.parties.id.size
    shares = {t: float(fc["typology_share"].get(t, 0.0)) for t in TYPOLOGIES}
    pools, skipped = s2_pools.pools(io, rng, shares, ctx.manifest.profile_id)
    if (
        sw.fraud.skim_site.size == 0
        and "STOLEN_CARD_CP" not in skipped
        and shares["STOLEN_CARD_CP"]
    ):
        if ctx.manifest.profile_id != "tiny":
            raise EngineError("POOL_EMPTY", STATE, "STOLEN_CARD_CP: no SKIMMING_POINT site")
        skipped = (*skipped, "STOLEN_CARD_CP")
    eligible_n = {t: int(p.ids.size) for t, p in pools.items()}  # traced: 2 draws each
    _bin_order(io, pools["CARD_TESTING"])
    # a bust-out spends on the identity's cards: one without any card cannot bust out
    bo = pools["FIRST_PARTY_BUST_OUT"]
    carded = np.bincount(sw.w.inst.holder[np.isin(sw.w.inst.type, s2_world.CARD_TYPES)],
                         minlength=sw.w.parties.id.size) > 0  # fmt: skip
    bo.ids = bo.ids[carded[np.searchsorted(sw.w.parties.id, bo.ids)]]
    if (
        bo.ids.size == 0
        and shares["FIRST_PARTY_BUST_OUT"]
        and "FIRST_PARTY_BUST_OUT" not in skipped
    ):
        if ctx.manifest.profile_id != "tiny":
            raise EngineError(
                "POOL_EMPTY", STATE, "FIRST_PARTY_BUST_OUT: no carded SYNTHETIC_IDENTITY"
            )
        skipped = (*skipped, "FIRST_PARTY_BUST_OUT")
    plan = B.plan(rate, L, shares, empty=skipped)
    book = P.Book(ctx, rng)
    env = Env(sw, book, pools, fc, h0, h_end, float(pols["legit_flows_6B"]["p_credit_foreign"]))
    env.eligible_n = eligible_n
    for typ, name in enumerate(TYPOLOGIES):
        before = len(book.slots)
        PLANNERS[name](env, typ, plan.planned[name])
        if name == "CARD_TESTING" and len(book.slots) > before:
            s = book.slots[-1]
            ok = np.asarray(s["ok"], bool)
            for c in np.unique(s["camp"][ok]).tolist():
                sel = ok & (s["camp"] == c)
                env.tested[int(c)] = np.unique(sw.w.inst.id[s["inst"][sel]])
    s = _concat(book.slots)
    camps = _concat_camps(book.camps)
    env.campaign_id = book.campaign_ids(camps["typ"], camps["ordinal"])
    # conversions at cell level, then the budget settles on the absorber
    cells = CV.Cells(sw, h0)
    conv = np.flatnonzero(s["mode"] == P.CONVERT)
    cell = np.full(s["camp"].size, -1, np.int64)
    cell[conv] = cells.resolve(s, conv)
    fallback = (s["mode"] == P.CONVERT) & (cell < 0)
    s["mode"] = np.where(fallback, P.INJECT, s["mode"])
    env.fallbacks = np.bincount(s["typ"][fallback], minlength=len(TYPOLOGIES)).tolist()
    settle = _settle(env, plan, s, cell, cells)
    # … (gather, overlay rows and outputs follow)
    return _finish(io, ctx, env, rng, plan, settle, s, cell, cells, camps, fallback, L, A, n_p)


def _concat_camps(camps):
    keys = set().union(*[c.keys() for c in camps])
    out = {}
    for k in sorted(keys):
        out[k] = np.concatenate([np.asarray(c.get(k, np.full(c["row"].size, -1))) for c in camps])
    return out


def _settle(env, plan, s, cell, cells):
    absorber = env.pol["delta_absorber"]
    a = TYPOLOGIES.index(absorber)
    injected = int((s["mode"] == P.INJECT).sum())
    is_a = s["typ"] == a
    conv_a = is_a & (s["mode"] == P.CONVERT)
    inj_a = is_a & (s["mode"] == P.INJECT)
    delta = B.round_half_even(plan.rate * (plan.legit_rows + injected)) - sum(plan.planned.values())
    room = 0
    if delta > 0 and is_a.any():  # trial: do Δ extra conversions all resolve?
        cap = cells.cap.copy()
        e = _extra(env, s, delta, P.CONVERT, trace=False)
        room = delta if (cells.resolve(e, np.arange(delta)) >= 0).all() else 0
        cells.cap[:] = cap
    return B.settle(
        plan,
        injected,
        absorber_room=room,
        absorber_conversions=int(conv_a.sum()),
        injection_slots=int(inj_a.sum()),
    )


def _extra(env, s, k: int, mode: int, trace: bool = True) -> dict:
    """``k`` more slots on the absorber's last campaign (its next slot units): CNP purchases
    on its last target inside its window, converted or injected."""
    a = TYPOLOGIES.index(env.pol["delta_absorber"])
    rows = np.flatnonzero(s["typ"] == a)
    last = rows[-1]
    camp = int(s["camp"][last])
    book = env.book
    ordinal = int(np.concatenate([c["ordinal"] for c in book.camps])[camp])
    n_have = int((s["camp"] == camp).sum())
    W = book.extra_slot_words(TYPOLOGIES[a], ordinal, n_have, k, trace)
    pol = env.pol[TYPOLOGIES[a]]
    c_all = _concat_camps(book.camps)
    lo, hi = int(c_all["start"][camp]), int(c_all["end"][camp])
    ok, code = s2_cards.outcome(
        W[:, P.S_APPROVE], W[:, P.S_CODE], pol["approve"], pol["decline_codes"]
    )
    dev, ip = s2_cards.device_ip(
        env,
        np.full(k, int(c_all["ring"][camp])),
        W[:, P.S_DEV_SRC],
        W[:, P.S_DEV],
        W[:, P.S_IP],
        pol["device"]["OPERATOR"],
    )
    out = {key: np.repeat(np.asarray(s[key])[last : last + 1], k) for key in s}
    out.update(
        {
            "j": n_have + np.arange(k),
            "mode": np.full(k, mode),
            "ts": P.window(W[:, P.S_TIME], lo, hi),
            "ok": ok,
            "code": code,
            "dev": dev,
            "ip": ip,
            "z": s2_cards._z(W[:, P.S_AMOUNT]),
            "cell_word": W[:, P.S_CELL],
        }
    )
    if mode == P.INJECT:
        m_ok = s2_cards.eligible_merchants(env.sw, [], virtual=True)
        grp = env.sw.w.m_grp[m_ok]
        mask = env.gmask(pol["mcc_groups"])
        good = m_ok[((mask >> grp) & 1) == 1]
        good = good if good.size else m_ok
        out["m"] = good[P.uniform_int(W[:, P.S_CELL], 0, good.size - 1)]
        out["edge"] = np.full(k, -1)
    return out


def _apply_settle(env, s, cell, cells, settle):
    """Realise the settlement on the slot arrays (returns the new slots and cells)."""
    a = TYPOLOGIES.index(env.pol["delta_absorber"])
    n_conv = settle.absorber_conversions
    x = settle.injection_delta
    keep = np.ones(s["camp"].size, bool)
    if n_conv < 0:
        idx = np.flatnonzero((s["typ"] == a) & (s["mode"] == P.CONVERT))[n_conv:]
        keep[idx] = False
        np.add.at(cells.cap, cell[idx], 1.0)
    if x < 0:
        keep[np.flatnonzero((s["typ"] == a) & (s["mode"] == P.INJECT))[x:]] = False
    s = {k: np.asarray(v)[keep] for k, v in s.items()}
    cell = cell[keep]
    add = []
    if n_conv > 0:
        e = _extra(env, s, n_conv, P.CONVERT)
        ec = cells.resolve(e, np.arange(n_conv))
        e["mode"] = np.where(ec >= 0, P.CONVERT, P.INJECT)
        add.append((e, ec))
    if x > 0:
        add.append((_extra(env, s, x, P.INJECT), np.full(x, -1)))
    for e, ec in add:
        at = int(np.flatnonzero(s["typ"] == a)[-1]) + 1  # after the absorber's last slot
        s = {
            k: np.concatenate([np.asarray(s[k])[:at], np.asarray(e[k]), np.asarray(s[k])[at:]])
            for k in s
        }
        cell = np.concatenate([cell[:at], ec, cell[at:]])
    return s, cell


def _fallback_merchants(env, s, sel):
    """A converted slot without capacity is injected at an eligible merchant of its cell
    law (group and channel), uniform by its cell word."""
    w, f = env.sw.w, env.sw.fraud
    for ch in (0, 1):
        for gm in np.unique(s["gmask"][sel]).tolist():
            rows = sel & (s["channel"] == ch) & (s["gmask"] == gm)
            if not rows.any():
                continue
            ok = (((gm >> w.m_grp) & 1) == 1) & (f.m_virtual == (ch == 1)) & (f.m_volume > 0)
            if ch == 1:
                ok &= f.m_edges.sizes() > 0
            cand = np.flatnonzero(ok)
            if cand.size == 0:
                cand = np.flatnonzero((f.m_virtual == (ch == 1)) & (f.m_volume > 0))
            s["m"][rows] = cand[P.uniform_int(s["cell_word"][rows], 0, cand.size - 1)]


def _ordinals(env, s, A, n_p):
    key = P.campaign_key(s["typ"], env.camp_ordinal[s["camp"]])
    return np.uint64(4 * A + 80 * n_p) + key * np.uint64(1 << 20) + np.asarray(s["j"], np.uint64)


def _finish(io, ctx, env, rng, plan, settle, s, cell, cells, camps, fallback, L, A, n_p):
    from engine_core.segments.seg_6B import txn as X

    sw, w, book = env.sw, env.sw.w, env.book
    s, cell = _apply_settle(env, s, cell, cells, settle)
    env.camp_ordinal = camps["ordinal"]
    env.schema = ctx.dictionary.arrow_schema_of("s2_overlay_6B")
    s["m"] = np.asarray(s["m"]).copy()
    fb = (
        (s["mode"] == P.INJECT)
        & (s["m"] < 0)
        & (s["channel"] < 2)
        & (s["channel"] >= 0)
        & (s["usd"] < 0)
    )
    _fallback_merchants(env, s, fb)
    conv = np.flatnonzero(s["mode"] == P.CONVERT)
    rb = _concat(book.rebinds) if book.rebinds else None
    bust = TYPOLOGIES.index("FIRST_PARTY_BUST_OUT")
    b_rows = np.flatnonzero(camps["typ"] == bust)
    b_party = camps["actor_party"][b_rows]
    o = np.lexsort((camps["end"][b_rows], sw.w.parties.id[b_party]))
    b_rows, b_party = b_rows[o], b_party[o]
    first = np.concatenate([[True], b_party[1:] != b_party[:-1]])  # a wrapped pool: earliest
    env.busted_party, env.busted_camp, env.bust_typ = b_party[first], b_rows[first], bust
    cand = CV.gather(
        io,
        sw,
        cells.key[cell[conv]],
        rb["site"] if rb else np.zeros(0, np.int64),
        busted=sw.w.parties.id[env.busted_party],
        quiet_from=camps["end"][env.busted_camp],
    )
    camp_keys = [
        f"{TYPOLOGIES[t]}|{o}"
        for t, o in zip(camps["typ"].tolist(), camps["ordinal"].tolist(), strict=True)
    ]
    demands = [(s["camp"][conv], cells.key[cell[conv]], cand["key"])]
    r_key = np.full(cand["txn_index"].size, -1, np.int64)
    if rb is not None:
        for c in np.unique(rb["camp"]).tolist():  # one skimming campaign per step
            i = int(np.flatnonzero(rb["camp"] == c)[0])
            hit = (
                (r_key < 0)
                & (cand["site"] == rb["site"][i])
                & (cand["ts"] >= rb["lo"][i])
                & (cand["ts"] < rb["hi"][i])
            )
            r_key[hit] = c
        demands.append((rb["camp"], rb["camp"], r_key))
    took, scored = CV.assign(rng, cand, demands, camp_keys)
    if (took[0] < 0).any():
        i = int(conv[np.argmax(took[0] < 0)])
        raise EngineError(
            "DEMAND_UNRESOLVED",
            STATE,
            f"{TYPOLOGIES[int(s['typ'][i])]} campaign {int(s['camp'][i])}: a "
            "converted slot found no candidate row in its cell",
        )
    fam = rng.family("pick")
    for c, items in sorted(scored.items()):
        fam.trace(
            fam.stream(camp_keys[c]),
            blocks=max(m for _, m in items) + 1,
            draws=2 * sum(n for n, _ in items),
        )
    tables = []
    inj = s["mode"] == P.INJECT
    si = {k: np.asarray(v)[inj] for k, v in s.items()}
    RW.place(env, si)
    grp = w.m_grp[np.maximum(si["m"], 0)]
    si["usd"] = np.where(
        si["usd"] < 0, np.exp(env.ln_median[grp] + env.sigma[grp] * si["z"] + si["lift"]), si["usd"]
    )
    ords = _ordinals(env, si, A, n_p)
    ids = X.txn_ids(ctx, ords)
    pkey = si["camp"].astype(np.int64) * (1 << 20) + si["j"]
    order = np.argsort(pkey)
    par = si["parent_j"] >= 0
    pidx = order[
        np.searchsorted(pkey[order], si["camp"].astype(np.int64) * (1 << 20) + si["parent_j"])
    ]
    parent_ids = np.where(par, ids[np.minimum(pidx, ids.size - 1)], np.uint64(0))
    si["ts"] = np.where(
        par,
        np.minimum(
            np.maximum(si["ts"], si["ts"][np.minimum(pidx, ids.size - 1)] + P.HOUR_US),
            env.h_end - 1,
        ),
        si["ts"],
    )
    tables.append(RW.inject_table(env, si, ords, ids, parent_ids, RW.meta_cols(env, si, 1, True)))
    sc = {k: np.asarray(v)[conv] for k, v in s.items()}
    legit = RW.legit_rows(io, cand, took[0])
    if legit is not None:
        g = w.m_grp[np.searchsorted(w.m_id, legit.column("merchant_id").to_numpy())]
        usd = np.exp(env.ln_median[g] + env.sigma[g] * sc["z"] + sc["lift"])
        tables.append(
            RW.replace(env, legit, sc, usd, sc["channel"] == 1, RW.meta_cols(env, sc, 0, True))
        )
    n_rebound = np.zeros(env.book.n_camps, np.int64)
    shortfall = 0
    if rb is not None:
        got = took[1] >= 0
        shortfall = int((~got).sum())
        rr = {k: np.asarray(v)[got] for k, v in rb.items()}
        lr = RW.legit_rows(io, cand, took[1][got])
        if lr is not None:
            from engine_core.segments.columns import codes_of

            rr.update(
                typ=np.full(rr["camp"].size, TYPOLOGIES.index("STOLEN_CARD_CP")),
                stage=np.full(rr["camp"].size, P.STAGES.index("COMPROMISE")),
                dev=np.zeros(rr["camp"].size, np.uint64),
                ip=np.full(rr["camp"].size, -1),
                entry=codes_of(lr.column("pos_entry_mode").cast(pa.string()), list(X.ENTRY)),
                auth=codes_of(lr.column("cnp_auth_method").cast(pa.string()), list(X.AUTH)),
                code=codes_of(lr.column("auth_response_code").cast(pa.string()), list(X.CODES)),
                ok=lr.column("is_approved").to_numpy(zero_copy_only=False),
            )
            tables.append(
                RW.replace(
                    env,
                    lr,
                    rr,
                    None,
                    np.zeros(rr["camp"].size, bool),
                    RW.meta_cols(env, rr, 2, False),
                )
            )
            n_rebound = np.bincount(rr["camp"], minlength=env.book.n_camps)
    taken = np.zeros(cand["txn_index"].size, bool)
    for t in took:
        taken[t[t >= 0]] = True
    quiet, n_rebinds = s2_silence.silence(
        io, env, rng, cand, taken, RW.legit_rows, RW.replace, RW.meta_cols
    )
    if quiet is not None:
        tables.append(quiet)
    overlay = pa.concat_tables(tables)
    kind = overlay.column("overlay_kind").cast(pa.string()).to_numpy(zero_copy_only=False)
    rb_camp = np.searchsorted(
        env.campaign_id[np.argsort(env.campaign_id)],
        overlay.column("campaign_id").to_numpy()[kind == "REBIND"],
    )
    n_rebound = np.bincount(np.argsort(env.campaign_id)[rb_camp], minlength=env.book.n_camps)
    ts = overlay.column("ts_utc").cast(pa.int64()).to_numpy()
    tid = overlay.column("txn_id").to_numpy()
    overlay = overlay.take(pa.array(lex_order(ts, tid)))
    n_scored = sum(n for items in scored.values() for n, _ in items)
    env.n_rebinds = n_rebinds
    return O.publish(
        io, ctx, env, rng, plan, settle, s, camps, overlay, n_rebound, shortfall, L, n_scored
    )
