"""6B.S2 conversions (layer3 §4.3 steps 4–5): CONVERT slots reserve legit capacity at cell
level from ``s1_hourly_cells_6B`` (ALIAS-equivalent weighted pick over the eligible cells of
the slot's hour, weight ``n_convertible − reserved``, widening by ±24 h up to 3 times; none
left → the slot becomes an injection), then one gather pass over ``s1_legit_txns_6B`` collects
the candidate rows of the demanded cells and skimming-site windows, and every demand takes
its not-yet-taken candidate of smallest priority ``u(6B.S2.pick, campaign, txn_index)``."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numba import njit

from engine_core.errors import EngineError
from engine_core.kernels.lookup import find_sorted
from engine_core.rng.uniform import uniform01
from engine_core.rng.units import slot_words_nb
from engine_core.segments.columns import codes_of

STATE = "6B.S2"
WIDEN = (0, 24, -24, 48, -48, 72, -72)
GATHER = [
    "party_id",
    "arrival_index",
    "txn_index",
    "ts_utc",
    "merchant_id",
    "merchant_country_iso",
    "site_id",
    "hour_index",
    "channel",
    "n_children",
    "source",
    "device_id",
]


@njit(cache=True)
def _resolve_nb(
    c_ptr,
    c_cell,
    cap,
    c_channel,
    c_group,
    c_country,
    hour,
    channel,
    gmask,
    cc_mode,
    cc_country,
    u,
    n_hours,
):
    """Cell per CONVERT slot (−1: no capacity within ±72 h), reserving as it goes."""
    out = np.full(hour.size, -1, np.int64)
    for i in range(hour.size):
        for dh in (0, 24, -24, 48, -48, 72, -72):
            h = hour[i] + dh
            if h < 0 or h >= n_hours:
                continue
            total = 0.0
            for k in range(c_ptr[h], c_ptr[h + 1]):
                c = c_cell[k]
                if _ok(
                    c,
                    cap,
                    c_channel,
                    c_group,
                    c_country,
                    channel[i],
                    gmask[i],
                    cc_mode[i],
                    cc_country[i],
                ):
                    total += cap[c]
            if total <= 0:
                continue
            target = u[i] * total
            acc = 0.0
            pick = -1
            for k in range(c_ptr[h], c_ptr[h + 1]):
                c = c_cell[k]
                if _ok(
                    c,
                    cap,
                    c_channel,
                    c_group,
                    c_country,
                    channel[i],
                    gmask[i],
                    cc_mode[i],
                    cc_country[i],
                ):
                    pick = c
                    acc += cap[c]
                    if acc > target:
                        break
            out[i] = pick
            cap[pick] -= 1
            break
    return out


@njit(cache=True, inline="always")
def _ok(c, cap, c_channel, c_group, c_country, channel, gmask, cc_mode, cc_country):
    if cap[c] <= 0 or c_channel[c] != channel or ((gmask >> c_group[c]) & 1) == 0:
        return False
    if cc_mode == 1:
        return c_country[c] == cc_country
    if cc_mode == 2:
        return c_country[c] != cc_country
    return True


class Cells:
    """The hourly cells with their remaining convertible capacity."""

    def __init__(self, sw, h0: int):
        c = sw.cells
        self.c, self.h0 = c, h0
        self.cap = c["n_conv"].astype(np.float64).copy()
        self.group = sw.w.m_grp[c["m"]].astype(np.int64)
        o = np.argsort(c["hour"], kind="stable")
        self.cell = o.astype(np.int64)
        self.ptr = np.concatenate([[0], np.cumsum(np.bincount(c["hour"], minlength=c["n_hours"]))])
        n_c = len(sw.w.countries)
        self.key = ((c["m"] * n_c + c["country"]) * c["n_hours"] + c["hour"]) * 2 + c["channel"]

    def resolve(self, s: dict, sel: np.ndarray) -> np.ndarray:
        hour = (s["ts"][sel] - self.h0) // 3_600_000_000
        c = self.c
        return _resolve_nb(
            self.ptr,
            self.cell,
            self.cap,
            c["channel"],
            self.group,
            c["country"],
            hour.astype(np.int64),
            s["channel"][sel].astype(np.int64),
            s["gmask"][sel].astype(np.int64),
            s["cc_mode"][sel].astype(np.int64),
            s["cc_country"][sel].astype(np.int64),
            uniform01(s["cell_word"][sel]),
            np.int64(c["n_hours"]),
        )


def gather(io, sw, cell_keys: np.ndarray, sites: np.ndarray, busted=None, quiet_from=None) -> dict:
    """One streaming read of the S1 key columns: the candidate rows (childless ARRIVAL rows)
    of the demanded cells and of the skimming sites (CP, no device), and the card rows of
    busted parties (sorted ids ``busted``) from ``quiet_from`` on."""
    busted = np.zeros(0, np.uint64) if busted is None else busted
    w = sw.w
    n_c, n_h = len(w.countries), sw.cells["n_hours"]
    keys = np.unique(cell_keys)
    sites = np.unique(sites)
    out = {
        k: []
        for k in (
            "part",
            "row",
            "txn_index",
            "ts",
            "key",
            "site",
            "silence",
            "source",
            "arrival_index",
        )
    }
    for part, path in enumerate(io.parts("s1_legit_txns_6B")):
        t = pq.read_table(path, columns=GATHER)
        arrival = (codes_of(t.column("source"), ["ARRIVAL"], missing=-1) == 0) & (
            t.column("n_children").to_numpy() == 0
        )
        m = find_sorted(w.m_id, pc.fill_null(t.column("merchant_id"), 0).to_numpy(), side="left")
        m = np.minimum(m, w.m_id.size - 1)
        ch = codes_of(t.column("channel"), ["CP", "CNP", "ONLINE_BANKING"])
        country = codes_of(
            pc.fill_null(t.column("merchant_country_iso").cast(pa.string()), "ZZ"),
            w.countries,
            missing=0,
        )
        hour = t.column("hour_index").to_numpy().astype(np.int64)
        key = ((m * n_c + country) * n_h + hour) * 2 + np.minimum(ch, 1)
        pos = np.minimum(np.searchsorted(keys, key), max(keys.size - 1, 0))
        in_cell = (
            arrival & (ch < 2) & (keys.size > 0) & (keys[pos] == key)
            if keys.size
            else (np.zeros(t.num_rows, bool))
        )
        s_raw = pc.fill_null(t.column("site_id"), 0).to_numpy()
        s_row = np.minimum(np.searchsorted(w.s_id, s_raw), w.s_id.size - 1)
        no_dev = pc.is_null(t.column("device_id")).to_numpy(zero_copy_only=False)
        sp = np.minimum(np.searchsorted(sites, s_row), max(sites.size - 1, 0))
        at_site = (
            arrival & (ch == 0) & no_dev & (sites[sp] == s_row)
            if sites.size
            else (np.zeros(t.num_rows, bool))
        )
        src = codes_of(t.column("source"), ["ARRIVAL", "REFUND", "VERIFICATION"], missing=-1)
        ts = pc.cast(t.column("ts_utc"), pa.int64()).to_numpy()
        quiet = np.full(t.num_rows, -1, np.int64)
        if busted.size:
            pid = t.column("party_id").to_numpy()
            bp = np.minimum(np.searchsorted(busted, pid), busted.size - 1)
            hit = (busted[bp] == pid) & (src >= 0) & (ch < 2)
            hit &= ts >= quiet_from[bp]
            quiet = np.where(hit, bp, -1)
        keep = in_cell | at_site | (quiet >= 0)
        rows = np.flatnonzero(keep)
        out["part"].append(np.full(rows.size, part, np.int64))
        out["row"].append(rows)
        out["txn_index"].append(t.column("txn_index").to_numpy()[rows])
        out["ts"].append(ts[rows])
        out["silence"].append(quiet[rows])
        out["source"].append(src[rows])
        out["arrival_index"].append(pc.fill_null(t.column("arrival_index"), 0).to_numpy()[rows])
        out["key"].append(np.where(in_cell[rows], key[rows], -1))
        out["site"].append(np.where(at_site[rows], s_row[rows], -1))
    return {k: np.concatenate(v) if v else np.zeros(0, np.int64) for k, v in out.items()}


@njit(cache=True)
def _take_nb(d_group, g_ptr, g_cand, taken, pos):
    """Demands in canonical order each take their group's first untaken candidate."""
    out = np.full(d_group.size, -1, np.int64)
    for d in range(d_group.size):
        g = d_group[d]
        k = pos[g]
        while k < g_ptr[g + 1] and taken[g_cand[k]]:
            k += 1
        pos[g] = k
        if k < g_ptr[g + 1]:
            out[d] = g_cand[k]
            taken[g_cand[k]] = True
            pos[g] = k + 1
    return out


def assign(rng, cand: dict, demands: list[tuple], camp_keys: list[str]) -> tuple:
    """Serve demand lists in order. Each list is ``(campaign row, match)`` arrays where
    ``match(cand)`` gives, per demand, a boolean candidate mask builder: here demands name
    a candidate group ``(campaign, group key)`` and candidates carry group keys. Returns the
    candidate index per demand (−1: none) and the per-campaign scored counts (trace)."""
    fam = rng.family("pick")
    n_cand = cand["txn_index"].size
    taken = np.zeros(n_cand, np.bool_)
    scored: dict[int, list] = {}
    results = []
    kk, hh, ll = fam.prefix.derive_many(camp_keys) if camp_keys else (None, None, None)
    for camp, gkey, cand_key in demands:
        # unique (campaign, key) groups and their candidates ordered by priority
        pair = np.stack([camp, gkey], 1)
        uniq, d_group = np.unique(pair, axis=0, return_inverse=True)
        d_group = d_group.ravel()
        order = np.argsort(cand_key, kind="stable")
        sk = cand_key[order]
        lo = np.searchsorted(sk, uniq[:, 1], side="left")
        hi = np.searchsorted(sk, uniq[:, 1], side="right")
        sizes = hi - lo
        g_rows = np.repeat(np.arange(uniq.shape[0]), sizes)
        members = order[np.repeat(lo, sizes) + _ranks(sizes)]
        g_camp = uniq[g_rows, 0]
        words = slot_words_nb(
            kk,
            hh,
            ll,
            g_camp.astype(np.int64),
            cand["txn_index"][members].astype(np.uint64),
            np.zeros(members.size, np.int64),
            np.int64(1),
        )
        prio = uniform01(words)
        o = np.lexsort((cand["txn_index"][members], prio, g_rows))
        g_cand = members[o]
        g_ptr = np.concatenate([[0], np.cumsum(sizes)])
        for c in np.unique(g_camp).tolist():
            sel = g_camp == c
            scored.setdefault(c, []).append(
                (int(sel.sum()), int(cand["txn_index"][members[sel]].max()))
            )
        pos = g_ptr[:-1].copy()
        results.append(_take_nb(d_group.astype(np.int64), g_ptr, g_cand, taken, pos))
    return results, scored


def _ranks(sizes):
    total = int(sizes.sum())
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    return np.arange(total) - starts


def unresolved(state_code: str, what: str):
    raise EngineError(state_code, STATE, what)
