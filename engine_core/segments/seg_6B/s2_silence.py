"""6B.S2 bust-out silence (layer3 §4.3, FIRST_PARTY_BUST_OUT): after its burst a synthetic
identity goes quiet — its later legit card rows are REBIND rows moved to look-alike parties
(ALIAS in the same country, home cell and party type, family ``6B.S2.rebind``, domain key
``{party_id}``, unit = the row's rank among the party's rebound arrivals), with instrument,
device, IP, terminal, entry mode and CNP authentication recomputed by the 6B.S1 kernel from
the row's own ``6B.S1.attach`` slots (a replay, not traced again); refund and verification
children follow their parent; the clock follows the new payer (CNP)."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
from numba import njit

from engine_core.kernels.csr import csr
from engine_core.rng.philox import ctr_add_nb, philox_nb
from engine_core.rng.uniform import uniform01, uniform01_nb
from engine_core.segments.seg_6B import s1_attach as K
from engine_core.segments.seg_6B import s1_tables as T


@njit(cache=True)
def _replay_nb(m, seq, ts, virt, site, party, m_key, m_hi, m_lo, m_region, s_region, ic, inn,
               i_type, i_bound, cof_ptr, cof_it, wallet, pd, di, tp, tr_ptr, tr_start, tr_end,
               tr_dest, t_ptr, t_items, entry_cdf, auth_cdf, sc):  # fmt: skip
    n = m.size
    o = np.full((n, 7), -1, np.int64)  # inst, dev, used, ip, term, entry, auth
    w = np.empty(K.SLOTS, np.uint64)
    for i in range(n):
        base = np.uint64(seq[i]) * np.uint64(K.STRIDE)
        for b in range(K.STRIDE):
            hi, lo, _ = ctr_add_nb(m_hi[m[i]], m_lo[m[i]], base + np.uint64(b))
            w[2 * b], w[2 * b + 1] = philox_nb(lo, hi, m_key[m[i]])
        inst, dev, used, ip, term = K.payer_nb(
            w,
            virt[i],
            party[i],
            ts[i],
            site[i],
            ic[0],
            ic[1],
            ic[2],
            ic[3],
            inn[0],
            inn[1],
            inn[2],
            inn[3],
            i_type,
            i_bound,
            cof_ptr,
            cof_it,
            wallet,
            pd[0],
            pd[1],
            pd[2],
            pd[3],
            di[0],
            di[1],
            di[2],
            di[3],
            tp[0],
            tp[1],
            tp[2],
            tp[3],
            tr_ptr,
            tr_start,
            tr_end,
            tr_dest,
            t_ptr,
            t_items,
            sc,
        )
        if inst < 0 or term == -2:
            continue
        is_wallet = i_type[inst] == wallet
        if virt[i]:
            region = m_region[m[i]]
            entry = 5 if is_wallet else 4
            auth = 4 if is_wallet else 1 + K._cdf_pick(uniform01_nb(w[13]), auth_cdf[region])
        else:
            region = s_region[site[i]]
            entry = 1 if is_wallet else K._cdf_pick(uniform01_nb(w[12]), entry_cdf[region])
            auth = 0
        o[i, 0], o[i, 1], o[i, 2], o[i, 3], o[i, 4] = inst, dev, used, ip, term
        o[i, 5], o[i, 6] = entry, auth
    return o


def lookalikes(w) -> tuple:
    """Parties grouped by (country, home cell, party type) for each channel's carded ones:
    ``(group key per party, CP table, CNP table)``."""
    p = w.parties
    key = p.country.astype(np.int64) * (1 << 33) + p.cell.astype(np.int64) * 2 + p.ptype
    uniq, g = np.unique(key, return_inverse=True)
    g = g.ravel()
    rows = np.arange(p.id.size)
    tables = []
    for table in (w.inst.cp, w.inst.cnp):
        ok = table.sizes() > 0
        tables.append(csr(g[ok], uniq.size, rows[ok], key=p.id[ok]))
    return g, tables


def pick_lookalike(words, group, table, self_row) -> np.ndarray:
    """Uniform member of the group other than the party itself (−1: none)."""
    lo, size = table.ptr[group], np.diff(table.ptr)[group]
    size_all = int(table.items.max()) + 1 if table.items.size else 1
    rank = np.full(size_all, -1, np.int64)
    home = np.full(size_all, -1, np.int64)  # the group a member belongs to
    rank[table.items] = np.arange(table.items.size) - np.repeat(table.ptr[:-1], table.sizes())
    home[table.items] = np.repeat(np.arange(table.n_groups), table.sizes())
    inside = (self_row < size_all) & (home[np.minimum(self_row, size_all - 1)] == group)
    me = np.where(inside, rank[np.minimum(self_row, size_all - 1)], -1)
    n_other = size - (me >= 0)
    k = np.minimum((uniform01(words) * n_other).astype(np.int64), np.maximum(n_other - 1, 0))
    k = np.where((me >= 0) & (k >= me), k + 1, k)  # skip the party itself
    out = table.items[np.minimum(lo + k, max(table.items.size - 1, 0))]
    return np.where(n_other >= 1, out, -1)


def arrival_seq(io, a: np.ndarray) -> np.ndarray:
    """``arrival_seq`` of 5B global row ordinals ``a`` (parts in name order)."""
    a = np.asarray(a, np.int64)
    parts = io.parts("arrival_events_5B")
    sizes = np.array([pq.ParquetFile(p).metadata.num_rows for p in parts], np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    out = np.zeros(a.size, np.int64)
    part = np.searchsorted(starts, a, side="right") - 1
    for k in np.unique(part).tolist():  # one read per part holding a rebound row
        sel = part == k
        col = pq.read_table(parts[k], columns=["arrival_seq"]).column(0).to_numpy()
        out[sel] = col[a[sel] - starts[k]]
    return out


def replay(sw, m, seq, ts, virt, site, party) -> np.ndarray:
    w = sw.w
    inst, dev, rt = w.inst, w.dev, w
    return _replay_nb(
        np.asarray(m, np.int64), np.asarray(seq, np.int64), np.asarray(ts, np.int64),
        np.asarray(virt, np.bool_), np.maximum(np.asarray(site, np.int64), 0),
        np.asarray(party, np.int64), w.m_stream[0], w.m_stream[1], w.m_stream[2],
        w.region_of[w.m_country], w.region_of[w.s_country], inst.cp.weighted(),
        inst.cnp.weighted(), inst.type, inst.bound, inst.cof.ptr, inst.cof.items,
        np.int64(T.WALLET), dev.of_party.weighted(), dev.ips.weighted(),
        dev.trip_pool.weighted(), rt.trip_ptr, w.trips.start, w.trips.end, w.trips.dest,
        dev.terminals.ptr, dev.terminals.items, w.par.entry_cdf, w.par.auth_cdf,
        np.array([w.par.scalars[k] for k in K.SCALARS]),
    )  # fmt: skip


def silence(io, env, rng, cand, taken, legit_rows, replace, meta_cols) -> tuple:
    """The REBIND table of every busted party's later card rows (None if none), the rebound
    rows per campaign and the number of look-alike draws (trace)."""
    import pyarrow as pa

    from engine_core.segments.columns import codes_of
    from engine_core.segments.seg_6B import txn as X

    sw, w = env.sw, env.sw.w
    sil = np.flatnonzero((cand["silence"] >= 0) & ~taken)
    if sil.size == 0:
        return None, 0
    src, a = cand["source"][sil], cand["arrival_index"][sil].astype(np.int64)
    arrivals = src == 0
    keep = arrivals | np.isin(a, a[arrivals])  # children follow their (rebound) parent
    sil, src, a = sil[keep], src[keep], a[keep]
    arrivals = src == 0
    t = legit_rows(io, cand, sil)
    busted = cand["silence"][sil]
    old = w.parties.id.searchsorted(t.column("party_id").to_numpy())
    ch = codes_of(t.column("channel").cast(pa.string()), list(X.CHANNELS))
    ts = t.column("ts_utc").cast(pa.int64()).to_numpy()
    # look-alike per rebound arrival: unit = rank among the party's rebound arrivals
    ar = np.flatnonzero(arrivals)
    o = np.lexsort((t.column("txn_id").to_numpy()[ar], ts[ar], old[ar]))
    ar = ar[o]
    counts = np.bincount(busted[ar], minlength=env.busted_party.size)
    keys = [str(int(x)) for x in w.parties.id[env.busted_party]]
    words = rng.family("rebind").cells(keys, counts, 1)[:, 0]
    g, tables = lookalikes(w)
    new = np.full(sil.size, -1, np.int64)
    for c in (0, 1):
        sel = ch[ar] == c
        new[ar[sel]] = pick_lookalike(words[sel], g[old[ar[sel]]], tables[c], old[ar[sel]])
    m = np.searchsorted(w.m_id, t.column("merchant_id").to_numpy())
    site_raw = t.column("site_id").fill_null(0).to_numpy()
    site = np.where(ch == 0, np.searchsorted(w.s_id, site_raw), -1)
    seq = arrival_seq(io, a[ar])
    res = np.full((sil.size, 7), -1, np.int64)
    res[ar] = replay(sw, m[ar], seq, ts[ar], ch[ar] == 1, site[ar], np.maximum(new[ar], 0))
    ok_ar = (new[ar] >= 0) & (res[ar, 0] >= 0)
    # children take their parent's payer, instrument and (verification) device and IP
    parent = np.full(sil.size, -1, np.int64)
    pos = np.searchsorted(a[ar], a, sorter=np.argsort(a[ar]))
    parent_row = ar[np.argsort(a[ar])][np.minimum(pos, max(ar.size - 1, 0))]
    parent = np.where(arrivals, np.arange(sil.size), parent_row)
    ok = np.zeros(sil.size, bool)
    ok[ar] = ok_ar
    ok = ok[parent]
    child = ~arrivals
    refund = src == 1
    inst = res[parent, 0]
    dev = np.where(child & refund & (ch == 1), -1, res[parent, 1])
    ip = np.where(child & refund, -1, res[parent, 3])
    entry = res[parent, 5]
    auth = np.where(refund, 0, res[parent, 6])
    sel = np.flatnonzero(ok)
    if sel.size == 0:
        return None, 0
    party = new[parent]
    s = {
        "party": party[sel], "inst": inst[sel], "account": w.inst.account[inst[sel]],
        "dev": np.where(dev[sel] >= 0, w.dev.id[np.maximum(dev[sel], 0)], 0).astype(np.uint64),
        "ip": ip[sel], "entry": entry[sel], "auth": auth[sel],
        "term": res[parent, 4][sel],
        "code": codes_of(t.column("auth_response_code").cast(pa.string()), list(X.CODES))[sel],
        "ok": t.column("is_approved").to_numpy(zero_copy_only=False)[sel],
        "camp": env.busted_camp[busted[sel]], "typ": np.full(sel.size, env.bust_typ),
        "stage": np.full(sel.size, -1), "cluster": np.zeros(sel.size, np.int64),
    }  # fmt: skip
    ts_keep = t.take(pa.array(sel))
    table = replace(env, ts_keep, s, None, ch[sel] == 1, meta_cols(env, s, 2, False),
                    terminal=np.where(ch[sel] == 0, s["term"], -1))  # fmt: skip
    return table, int(counts.sum())
