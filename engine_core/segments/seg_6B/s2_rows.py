"""6B.S2 overlay rows (layer3 §4.3 step 6) in the ``s2_overlay_6B`` schema: INJECT rows built
whole from their slot (placed at the slot's merchant: CNP on an edge by ``edge_weight``, CP
at a site and a uniform terminal; online banking without merchant), CONVERT rows copying the
merchant side of the legit row they take, REBIND rows moving a legit row to the victim."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine_core.kernels.csr import pick
from engine_core.segments.seg_6B import s2_plan as P
from engine_core.segments.seg_6B import txn as X
from engine_core.segments.seg_6B.s2_pools import TYPOLOGIES

KINDS = ("CONVERT", "INJECT", "REBIND")


def place(env, s: dict) -> None:
    """Fill the merchant side of INJECT slots in place."""
    w, f = env.sw.w, env.sw.fraud
    m = s["m"]
    merch = m >= 0
    virt = f.m_virtual[np.maximum(m, 0)]
    ch = np.where(merch & (s["channel"] < 0), np.where(virt, 1, 0), s["channel"])
    ch = np.where(merch & (ch == 0) & virt, 1, ch)  # a virtual merchant has no site
    cnp, cp = merch & (ch == 1), merch & (ch == 0)
    edge = np.where(
        cnp & (s["edge"] < 0), pick(f.m_edges, np.maximum(m, 0), s["cell_word"]), s["edge"]
    )
    site = np.where(
        cp & (s["site"] < 0), env.merchant_site(np.maximum(m, 0), s["cell_word"]), s["site"]
    )
    cp &= site >= 0
    term = np.where(
        cp, pick(w.dev.terminals, np.maximum(site, 0), s["cell_word"] >> np.uint64(1)), -1
    )
    s["channel"], s["edge"], s["site"], s["term"] = ch, edge, np.where(cp, site, -1), term
    s["entry"] = np.where(cnp & (s["entry"] < 0), 4, np.where(cp & (s["entry"] < 0), 0, s["entry"]))
    s["auth"] = np.where(cnp & (s["auth"] < 0), 1, np.where(s["auth"] < 0, 0, s["auth"]))
    s["dev"] = np.where(cp, 0, s["dev"]).astype(np.uint64)
    s["ip"] = np.where(cp, -1, s["ip"])


def inject_table(env, s: dict, ordinals: np.ndarray, ids: np.ndarray, parent_ids, meta) -> pa.Table:
    sw, w, rows = env.sw, env.sw.w, env.sw.rows
    f = sw.fraud
    m, site, ch = s["m"], s["site"], s["channel"]
    merch = m >= 0
    m_country = np.where(
        site >= 0,
        w.s_country[np.maximum(site, 0)],
        np.where(merch, w.m_country[np.maximum(m, 0)], -1),
    )
    p_tz = w.parties.tz[s["party"]]
    tz = np.where(ch == 0, f.s_tz[np.maximum(site, 0)], p_tz)
    cur = np.where(merch, rows.c_cur[np.maximum(m_country, 0)], rows.a_cur[s["account"]])
    usd = np.maximum(s["usd"], 0.0)
    minor, amount = rows._money(usd, cur)
    home = w.parties.country[s["party"]]
    xb = np.where(merch, m_country != home, (s["cp_country"] >= 0) & (s["cp_country"] != home))
    edge_id = np.where(s["edge"] >= 0, f.edge_id[np.maximum(s["edge"], 0)], 0)
    cols = {
        "txn_id": ids,
        "ts_utc": pa.array(s["ts"], pa.timestamp("us", tz="UTC")),
        "ts_local": pa.array(rows.clock(tz, s["ts"]), pa.timestamp("us")),
        "tzid": (tz, rows.tzids),
        "txn_type": (s["type"], X.TXN_TYPES),
        "direction": (s["dir"], X.DIRECTIONS),
        "channel": (ch, X.CHANNELS),
        "pos_entry_mode": (np.where(ch == 2, 6, s["entry"]), X.ENTRY),
        "cnp_auth_method": (np.where(ch == 1, s["auth"], 0), X.AUTH),
        "merchant_id": (np.where(merch, w.m_id[np.maximum(m, 0)], 0), ~merch),
        "mcc": (np.where(merch, w.m_mcc[np.maximum(m, 0)], 0), ~merch),
        "merchant_country_iso": (np.maximum(m_country, 0), w.countries, m_country < 0),
        "site_id": (np.where(site >= 0, w.s_id[np.maximum(site, 0)], 0), site < 0),
        "edge_id": (edge_id, edge_id == 0),
        "terminal_id": (
            np.where(s["term"] >= 0, w.dev.id[np.maximum(s["term"], 0)], 0),
            s["term"] < 0,
        ),
        "party_id": w.parties.id[s["party"]],
        "account_id": w.accounts["id"][s["account"]],
        "instrument_id": w.inst.id[s["inst"]],
        "device_id": (s["dev"], s["dev"] == 0),
        "ip_id": (np.where(s["ip"] >= 0, w.dev.ip_id[np.maximum(s["ip"], 0)], 0), s["ip"] < 0),
        "counterparty_account_id": (
            np.where(s["cp_account"] >= 0, w.accounts["id"][np.maximum(s["cp_account"], 0)], 0),
            s["cp_account"] < 0,
        ),
        "counterparty_country_iso": (
            np.maximum(s["cp_country"], 0),
            w.countries,
            s["cp_country"] < 0,
        ),
        "amount_minor": minor,
        "amount": amount,
        "currency": (cur, rows.currencies),
        "amount_usd": minor / rows.exp10[cur] * rows.usd[cur],
        "account_currency": (rows.a_cur[s["account"]], rows.currencies),
        "is_cross_border": xb,
        "auth_response_code": (s["code"], X.CODES),
        "is_approved": s["ok"].astype(bool),
        "parent_txn_id": (parent_ids, parent_ids == 0),
        "txn_index": ordinals,
        **meta,
    }
    return X.table(cols, env.schema)


def meta_cols(env, s: dict, kind: int, fraud: bool) -> dict:
    n = s["camp"].size
    camp_id = env.campaign_id[s["camp"]]
    return {
        "overlay_kind": (np.full(n, kind), KINDS),
        "is_fraud": np.full(n, fraud),
        "campaign_id": (camp_id, np.zeros(n, bool)),
        "fraud_typology": (s["typ"], TYPOLOGIES, np.full(n, not fraud)),
        "fraud_stage": (np.maximum(s["stage"], 0), P.STAGES, np.asarray(s["stage"]) < 0),
        "cluster_key": (np.asarray(s["cluster"], np.uint64), np.zeros(n, bool)),
    }


def legit_rows(io, cand: dict, take: np.ndarray) -> pa.Table:
    """The full S1 rows of candidates ``take`` (in the given order)."""
    parts = io.parts("s1_legit_txns_6B")
    part, row = cand["part"][take], cand["row"][take]
    order = np.lexsort((row, part))
    out = []
    for p in np.unique(part).tolist():
        sel = order[part[order] == p]
        t = pq.read_table(parts[p]).take(pa.array(row[sel]))
        out.append(t)
    t = pa.concat_tables(out) if out else None
    inv = np.empty(take.size, np.int64)
    inv[order] = np.arange(take.size)
    return t.take(pa.array(inv)) if t is not None else t


def replace(env, legit: pa.Table, s: dict, usd, new_tz, meta, terminal=None) -> pa.Table:
    """A legit row with the slot's payer side (CONVERT) or the victim (REBIND)."""
    w, rows = env.sw.w, env.sw.rows
    ch = np.asarray(codes(legit, "channel", X.CHANNELS))
    cur = np.asarray(codes(legit, "currency", rows.currencies))
    m_country = np.asarray(codes(legit, "merchant_country_iso", w.countries))
    ts = pc.cast(legit.column("ts_utc"), pa.int64()).to_numpy()
    tz = np.where(new_tz, w.parties.tz[s["party"]], codes(legit, "tzid", rows.tzids))
    if usd is None:
        minor = legit.column("amount_minor").to_numpy()
    else:
        minor = rows._money(usd, cur)[0]
    cols = {name: legit.column(name) for name in legit.column_names if name in env.schema.names}
    cols.update(
        {
            "tzid": (tz, rows.tzids),
            "ts_local": pa.array(rows.clock(tz, ts), pa.timestamp("us")),
            "party_id": w.parties.id[s["party"]],
            "account_id": w.accounts["id"][s["account"]],
            "instrument_id": w.inst.id[s["inst"]],
            "device_id": (s["dev"], s["dev"] == 0),
            "ip_id": (np.where(s["ip"] >= 0, w.dev.ip_id[np.maximum(s["ip"], 0)], 0), s["ip"] < 0),
            "amount_minor": minor,
            "amount": minor / rows.exp10[cur],
            "amount_usd": minor / rows.exp10[cur] * rows.usd[cur],
            "account_currency": (rows.a_cur[s["account"]], rows.currencies),
            "is_cross_border": m_country != w.parties.country[s["party"]],
            "pos_entry_mode": (s["entry"], X.ENTRY),
            "cnp_auth_method": (np.where(ch == 1, s["auth"], 0), X.AUTH),
            "auth_response_code": (s["code"], X.CODES),
            "is_approved": s["ok"].astype(bool),
            **meta,
        }
    )
    if terminal is not None:  # a replayed CP row draws its terminal again (slot 6)
        term = np.asarray(terminal)
        cols["terminal_id"] = (np.where(term >= 0, w.dev.id[np.maximum(term, 0)], 0), term < 0)
    return X.table(cols, env.schema)


def codes(t: pa.Table, col: str, vocab) -> np.ndarray:
    from engine_core.segments.columns import codes_of

    return codes_of(t.column(col).cast(pa.string()), list(vocab))
