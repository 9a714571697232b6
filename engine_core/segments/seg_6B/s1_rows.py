"""6B.S1 rows: kernel and flow outputs turned into TXN run tables (layer3 §4.0, §4.2), plus
the per-cell capacities, trips and summary the state publishes.

Row clock: CP rows keep 5B's site zone and local time; CNP and online-banking rows take the
payer's (TRANSFER_IN: the receiver's) ``home_tzid`` with ``ts_local = ts_utc + offset`` from
the sealed tz cache. Amounts are priced in the merchant country's currency (online banking:
the account's), ``amount_minor = round_half_even(amount_usd / usd_per_unit · 10^e)``."""

from __future__ import annotations

import threading
from functools import cached_property

import numpy as np
import pyarrow as pa
from numba import njit

from engine_core.kernels.arrivals import tz_offset_us
from engine_core.kernels.csr import csr
from engine_core.kernels.sorting import lex_order
from engine_core.segments.columns import codes_of
from engine_core.segments.seg_6B import checks_s1 as C
from engine_core.segments.seg_6B import s1_attach as K
from engine_core.segments.seg_6B import s1_tables as T
from engine_core.segments.seg_6B import txn as X

STATE = "6B.S1"


@njit(nogil=True, cache=True)
def _local_us(tz, ts, tz_start, tz_initial, trans_us, off_s):
    out = np.empty(ts.size, np.int64)
    for i in range(ts.size):
        out[i] = ts[i] + tz_offset_us(tz[i], ts[i], tz_start, tz_initial, trans_us, off_s)
    return out


class Clock:
    """``ts_local`` (µs) of UTC µs ``ts`` in zone codes ``tz`` (the tz cache's zone order)."""

    def __init__(self, cache):
        self.tzids = list(cache.tzids)
        self.arrays = (
            np.concatenate([[0], np.cumsum(cache.count)]).astype(np.int64),
            cache.initial_offset.astype(np.int32),
            cache.instants.astype(np.int64) * 1_000_000,
            cache.offsets.astype(np.int32),
        )

    def __call__(self, tz, ts) -> np.ndarray:
        return _local_us(np.asarray(tz, np.int64), np.asarray(ts, np.int64), *self.arrays)


def _cat(parts: list[dict]) -> dict:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


class _Links:
    def __init__(self, inst, party_device, cof, access, device_ip, trip_pool):
        self.inst = inst
        self.party_device_keys, self.cof_keys, self.access_keys = party_device, cof, access
        self.device_ip_keys, self.trip_pool_ip = device_ip, trip_pool


class Rows:
    def __init__(self, ctx, w, cache, pols, io):
        self.ctx, self.w = ctx, w
        self.clock = Clock(cache)
        self.tzids = self.clock.tzids
        ref = io.read_table("s1_country_reference", ["country_iso", "currency"])
        cur_of = dict(zip(ref.column(0).to_pylist(), ref.column(1).to_pylist(), strict=True))
        minor = pols["currencies_6A"]["minor_units"]
        fx = pols["fx_static_6A"]["usd_per_unit"]
        acc_cur = w.accounts["currency"].cast(pa.string())
        self.currencies = sorted(set(cur_of.values()) | set(acc_cur.unique().to_pylist()))
        self.c_cur = np.array([self.currencies.index(cur_of[c]) for c in w.countries])
        self.exp10 = np.array([10.0 ** int(minor[c]) for c in self.currencies])
        self.usd = np.array([float(fx[c]) for c in self.currencies])
        self.a_cur = codes_of(acc_cur, self.currencies)
        self.n_rows = 0
        self.n_hours = int(-(-(w.h_end - w.h0) // X.HOUR_US))
        self._lock = threading.Lock()
        self.handle, self.access = self.banking()
        self.links = self._links()
        self.cells: list[np.ndarray] = []
        self.stats = {"routes": np.zeros((2, len(K.ROUTES)), np.int64),
                      "fallbacks": np.zeros(3, np.int64),
                      "approved": np.zeros(2, np.int64), "xb": np.zeros(2, np.int64),
                      "n": np.zeros(2, np.int64), "refunds": 0, "verifications": 0,
                      "transfers": 0, "credits": 0}  # fmt: skip

    # --- shared column pieces -------------------------------------------------------------
    def _local(self, tz, ts):
        return self.clock(tz, ts)

    def _money(self, usd, cur):
        minor = np.round(usd / self.usd[cur] * self.exp10[cur]).astype(np.int64)  # half-even
        return minor, minor / self.exp10[cur]

    def _links(self):
        """Pair indexes of the legit links I05 accepts (device rows, IP rows)."""
        w = self.w
        own = w.dev.of_party
        cof = w.inst.cof
        ips = w.dev.ips
        pool = np.zeros(w.dev.ip_id.size, bool)
        pool[w.dev.trip_pool.items] = True
        return _Links(
            w.inst,
            C.pair_index(np.repeat(np.arange(own.n_groups), own.sizes()), own.items),
            C.pair_index(np.repeat(np.arange(cof.n_groups), cof.sizes()), cof.items),
            C.pair_index(
                np.repeat(np.arange(self.access.n_groups), self.access.sizes()), self.access.items
            ),
            C.pair_index(np.repeat(np.arange(ips.n_groups), ips.sizes()), ips.items),
            pool,
        )

    def _table(self, c: dict, part: int) -> pa.Table:
        w = self.w
        C.i04_channels(c, w.inst.type[c["inst"]] == T.WALLET, part)
        C.i05_entities(c, self.links, part)
        C.i06_clock(c, w.parties.tz[c["party"]], w.h0, w.h_end, self._local, part)
        ids = X.txn_ids(self.ctx, c["txn_index"])
        o = lex_order(c["ts"], ids)
        c = {k: v[o] for k, v in c.items()}
        ids = ids[o]
        C.i01_run(ids, c["ts"], part)
        w = self.w
        cols = {
            "txn_id": ids,
            "ts_utc": pa.array(c["ts"], pa.timestamp("us", tz="UTC")),
            "ts_local": pa.array(c["ts_local"], pa.timestamp("us")),
            "tzid": (c["tz"], self.tzids),
            "txn_type": (c["type"], X.TXN_TYPES),
            "direction": (c["dir"], X.DIRECTIONS),
            "channel": (c["channel"], X.CHANNELS),
            "pos_entry_mode": (c["entry"], X.ENTRY),
            "cnp_auth_method": (c["auth"], X.AUTH),
            "merchant_id": (np.where(c["m"] >= 0, w.m_id[np.maximum(c["m"], 0)], 0), c["m"] < 0),
            "mcc": (np.where(c["m"] >= 0, w.m_mcc[np.maximum(c["m"], 0)], 0), c["m"] < 0),
            "merchant_country_iso": self._iso(c["m_country"]),
            "site_id": self._ids(w.s_id, c["site"]),
            "edge_id": (c["edge"], c["edge"] == 0),
            "terminal_id": self._ids(w.dev.id, c["term"]),
            "party_id": w.parties.id[c["party"]],
            "account_id": w.accounts["id"][c["account"]],
            "instrument_id": w.inst.id[c["inst"]],
            "device_id": self._ids(w.dev.id, c["dev"]),
            "ip_id": self._ids(w.dev.ip_id, c["ip"]),
            "counterparty_account_id": self._ids(w.accounts["id"], c["cp_account"]),
            "counterparty_country_iso": self._iso(c["cp_country"]),
            "amount_minor": c["minor"],
            "amount": c["amount"],
            "currency": (c["cur"], self.currencies),
            "amount_usd": c["usd"],
            "account_currency": (self.a_cur[c["account"]], self.currencies),
            "is_cross_border": c["xb"],
            "auth_response_code": (c["code"], X.CODES),
            "is_approved": c["ok"],
            "parent_txn_id": (c["parent"], c["parent"] == 0),
            "txn_index": c["txn_index"],
            "source": (c["source"], X.SOURCES),
            "arrival_index": (c["a"], c["a"] < 0),
            "hour_index": ((c["ts"] - w.h0) // X.HOUR_US).astype(np.uint32),
            "n_children": c["children"].astype(np.uint8),
        }  # fmt: skip
        with self._lock:  # chunks run on worker threads; sums do not depend on their order
            self.n_rows += ids.size
        schema = self.ctx.dictionary.arrow_schema_of("s1_legit_txns_6B")
        return X.table(cols, schema)

    def _iso(self, codes):
        return (np.maximum(codes, 0), self.w.countries, codes < 0)

    @staticmethod
    def _ids(ids, rows):
        rows = np.asarray(rows, np.int64)
        return (np.where(rows >= 0, ids[np.maximum(rows, 0)], 0), rows < 0)

    # --- arrival runs ---------------------------------------------------------------------
    def arrival_run(self, part, a0, t, m_row, ts, virt, out) -> pa.Table:
        w, n = self.w, ts.size
        a = a0 + np.arange(n, dtype=np.int64)
        party, inst = out["party"], out["instrument"]
        account = w.inst.account[inst]
        s_row = np.where(
            virt, -1, np.searchsorted(w.s_id, t.column("site_id").fill_null(0).to_numpy())
        )
        m_country = np.where(virt, w.m_country[m_row], w.s_country[np.maximum(s_row, 0)])
        cur = self.c_cur[m_country]
        cp_tz = codes_of(t.column("tzid_primary").cast(pa.string()), self.tzids)
        tz = np.where(virt, w.parties.tz[party], cp_tz)
        cp_local = t.column("ts_local_primary").cast(pa.int64()).to_numpy()
        edge = t.column("edge_id").fill_null(0).to_numpy()
        quasi = w.m_quasi[m_row]
        ref = out["refund_ts"] >= 0
        ver = out["verify_ts"] >= 0
        children = ref.astype(np.int64) + ver
        minor, amount = self._money(out["amount_usd"], cur)
        none = np.full(n, -1, np.int64)
        purchase = {
            "txn_index": X.arrival_ordinal(a, 0), "ts": ts, "tz": tz,
            "ts_local": np.where(virt, self._local(tz, ts), cp_local),
            "type": np.where(quasi, 5, 0), "dir": np.zeros(n, np.int64),
            "channel": virt.astype(np.int64), "entry": out["entry"], "auth": out["auth"],
            "m": m_row, "m_country": m_country, "site": s_row, "edge": edge,
            "term": out["terminal"],
            "party": party, "account": account, "inst": inst, "dev": out["device"], "ip": out["ip"],
            "dev_used": out["device_used"],
            "cp_account": none, "cp_country": none, "minor": minor, "amount": amount, "cur": cur,
            "usd": out["amount_usd"], "xb": out["cross_border"], "code": out["code"],
            "ok": out["approved"], "parent": np.zeros(n, np.uint64),
            "source": np.zeros(n, np.int64),
            "a": a, "children": children,
        }  # fmt: skip
        parts = [purchase]
        if ref.any():
            r = {k: v[ref] for k, v in purchase.items()}
            r_ts = out["refund_ts"][ref]
            r_minor, r_amount = self._money(out["refund_usd"][ref], r["cur"])
            pid = X.txn_ids(self.ctx, purchase["txn_index"][ref])
            r.update({
                "txn_index": X.arrival_ordinal(a[ref], 1), "ts": r_ts,
                "ts_local": self._local(r["tz"], r_ts),  # the refund's own offset (DST)
                "type": np.ones(r_ts.size, np.int64), "dir": np.ones(r_ts.size, np.int64),
                "auth": np.zeros(r_ts.size, np.int64),
                "dev": np.where(virt[ref], -1, r["dev"]), "ip": np.full(r_ts.size, -1, np.int64),
                "dev_used": np.where(virt[ref], -1, r["dev"]),
                "minor": r_minor, "amount": r_amount, "usd": out["refund_usd"][ref],
                "code": np.zeros(r_ts.size, np.int64), "ok": np.ones(r_ts.size, bool),
                "parent": np.where(out["refund_linked"][ref], pid, np.uint64(0)),
                "source": np.ones(r_ts.size, np.int64), "children": np.zeros(r_ts.size, np.int64),
            })  # fmt: skip
            parts.append(r)
        if ver.any():
            v = {k: val[ver] for k, val in purchase.items()}
            v_ts = out["verify_ts"][ver]
            one = out["verify_one"][ver]
            e = self.exp10[v["cur"]]
            v.update({
                "txn_index": X.arrival_ordinal(a[ver], 2), "ts": v_ts,
                "ts_local": self._local(v["tz"], v_ts), "type": np.full(v_ts.size, 2, np.int64),
                "minor": np.where(one, e, 0).astype(np.int64), "amount": np.where(one, 1.0, 0.0),
                "usd": np.where(one, self.usd[v["cur"]], 0.0),
                "source": np.full(v_ts.size, 2, np.int64),
                "children": np.zeros(v_ts.size, np.int64),
            })  # fmt: skip
            parts.append(v)
        c = _cat(parts)
        self._count(c, out, virt, ref.sum(), ver.sum())
        return self._table(c, part)

    def _count(self, c, out, virt, n_ref, n_ver):
        ch = virt.astype(np.int64)
        routes = np.zeros_like(self.stats["routes"])
        np.add.at(routes, (ch, out["route"].astype(np.int64)), 1)
        hour = (c["ts"] - self.w.h0) // X.HOUR_US
        conv = (c["source"] == 0) & (c["children"] == 0)
        key = self._cell_key(c["m"], c["m_country"], hour, c["channel"])
        uniq, inv = np.unique(key, return_inverse=True)
        cell = (uniq, np.bincount(inv, minlength=uniq.size), np.bincount(inv, conv, uniq.size))
        with self._lock:
            st = self.stats
            st["routes"] += routes
            st["fallbacks"] += out["fallbacks"]
            st["n"] += np.bincount(ch, minlength=2)
            st["approved"] += np.bincount(ch, out["approved"], minlength=2).astype(np.int64)
            st["xb"] += np.bincount(ch, out["cross_border"], minlength=2).astype(np.int64)
            st["refunds"] += int(n_ref)
            st["verifications"] += int(n_ver)
            self.cells.append(cell)

    def _cell_key(self, m, country, hour, channel):
        """One int64 per (merchant row, country, hour, channel): merchant-major order."""
        n_c, n_h = len(self.w.countries), self.n_hours
        return ((m * n_c + country) * n_h + hour) * 2 + channel

    # --- online banking -------------------------------------------------------------------
    def banking(self):
        """Per party: the TRANSFER_HANDLE of its primary account (−1: none) and the
        ACCOUNT_ACCESS devices on that account (CSR, device rows)."""
        w = self.w
        n = w.parties.id.size
        prim = np.full(n, -1, np.int64)
        is_p = np.asarray(w.accounts["primary"], bool)
        prim[w.accounts["owner"][is_p]] = np.flatnonzero(is_p)
        self.primary = prim
        handle = np.where(prim >= 0, self._handle_of(np.maximum(prim, 0)), -1)
        acc_row = w.access_account  # device-link rows: (device row, account row)
        owner = w.accounts["owner"][acc_row[1]]
        on_primary = prim[owner] == acc_row[1]
        access = csr(
            owner[on_primary], n, acc_row[0][on_primary], key=w.dev.id[acc_row[0][on_primary]]
        )
        return handle, access

    def flow_run(self, part, tr, cr, p0, p1, n_arrivals) -> pa.Table:
        w = self.w
        n_p = w.parties.id.size
        parts = []
        for kind, f in ((3, tr), (4, cr)):
            sel = (f.party >= p0) & (f.party < p1)
            party = f.party[sel]
            m = party.size
            if m == 0:
                continue
            account = self.primary[party]
            cur = self.a_cur[account]
            minor, amount = self._money(f.amount_usd[sel], cur)
            cp_acc = f.cp_account[sel]
            cp_acc = np.where(cp_acc >= 0, self.primary[np.maximum(cp_acc, 0)], -1)
            cp_country = f.cp_country[sel]
            ts = f.ts[sel]
            tz = w.parties.tz[party]
            ordinal = (
                X.transfer_ordinal(n_arrivals, party, f.k[sel])
                if kind == 3
                else X.credit_ordinal(n_arrivals, n_p, party, f.k[sel])
            )
            none = np.full(m, -1, np.int64)
            handle = self._handle_of(account)
            parts.append({
                "txn_index": ordinal, "ts": ts, "tz": tz, "ts_local": self._local(tz, ts),
                "type": np.full(m, kind), "dir": np.full(m, 0 if kind == 3 else 1),
                "channel": np.full(m, 2), "entry": np.full(m, 6), "auth": np.zeros(m, np.int64),
                "m": none, "m_country": none, "site": none, "edge": np.zeros(m, np.int64),
                "term": none, "party": party, "account": account, "inst": handle,
                "dev": f.device[sel], "ip": f.ip[sel], "cp_account": cp_acc,
                "dev_used": f.used[sel],
                "cp_country": cp_country, "minor": minor, "amount": amount, "cur": cur,
                "usd": f.amount_usd[sel], "xb": cp_country != w.parties.country[party],
                "code": f.code[sel], "ok": f.approved[sel], "parent": np.zeros(m, np.uint64),
                "source": np.full(m, 3 if kind == 3 else 4), "a": none,
                "children": np.zeros(m, np.int64),
            })  # fmt: skip
            self.stats["transfers" if kind == 3 else "credits"] += m
        if not parts:
            return self.ctx.dictionary.arrow_schema_of("s1_legit_txns_6B").empty_table()
        return self._table(_cat(parts), part)

    @cached_property
    def _handle_lut(self) -> np.ndarray:
        """Account row → its TRANSFER_HANDLE instrument row (−1: none)."""
        w = self.w
        th = np.flatnonzero(w.inst.type == T.HANDLE)
        lut = np.full(w.accounts["id"].size, -1, np.int64)
        lut[w.inst.account[th]] = th
        return lut

    def _handle_of(self, account):
        return self._handle_lut[account]

    # --- the small tables -----------------------------------------------------------------
    def trips_table(self) -> pa.Table:
        w, t = self.w, self.w.trips
        return pa.table(
            {
                "party_id": w.parties.id[t.party],
                "trip_seq": t.seq.astype(np.uint8),
                "dest_country_iso": pa.DictionaryArray.from_arrays(
                    pa.array(t.dest.astype(np.int32)), pa.array(w.countries)
                ),
                "start_ts": pa.array(t.start, pa.timestamp("us", tz="UTC")),
                "end_ts": pa.array(t.end, pa.timestamp("us", tz="UTC")),
            }
        )

    def hourly_table(self) -> pa.Table:
        w = self.w
        keys = np.concatenate([k for k, _, _ in self.cells]) if self.cells else np.zeros(0, int)
        uniq, inv = np.unique(keys, return_inverse=True)
        n_rows = np.bincount(inv, np.concatenate([n for _, n, _ in self.cells]), uniq.size)
        conv = np.bincount(inv, np.concatenate([v for _, _, v in self.cells]), uniq.size)
        n_c, n_h = len(w.countries), self.n_hours
        ch, rest = uniq % 2, uniq // 2
        h, rest = rest % n_h, rest // n_h
        c, m = rest % n_c, rest // n_c
        o = lex_order(w.m_id[m], c, h, ch)
        return pa.table(
            {
                "merchant_id": w.m_id[m][o],
                "country_iso": pa.DictionaryArray.from_arrays(
                    pa.array(c[o].astype(np.int32)), pa.array(w.countries)
                ),
                "hour_index": h[o].astype(np.uint32),
                "channel": pa.DictionaryArray.from_arrays(
                    pa.array(ch[o].astype(np.int32)), pa.array(["CP", "CNP"])
                ),
                "n_rows": n_rows[o].astype(np.uint32),
                "n_convertible": conv[o].astype(np.uint32),
                "mcc": w.m_mcc[m][o].astype(np.uint16),
            }
        )

    def summary(self) -> list[tuple[str, str, float]]:
        st = self.stats
        out = []
        for ch, name in ((0, "CP"), (1, "CNP")):
            n = max(int(st["n"][ch]), 1)
            for r, route in enumerate(K.ROUTES):
                if st["routes"][ch, r]:
                    out.append(("route_share", f"{name}|{route}", st["routes"][ch, r] / n))
            out.append(("approval_rate", name, st["approved"][ch] / n))
            out.append(("cross_border_share", name, st["xb"][ch] / n))
            out.append(("arrivals", name, float(st["n"][ch])))
        for i, fb in enumerate(("LOCAL_EMPTY", "PARTY_TYPE", "ROSTER_EMPTY")):
            out.append(("fallbacks", fb, float(st["fallbacks"][i])))
        for k in ("refunds", "verifications", "transfers", "credits"):
            out.append(("rows", k.upper(), float(st[k])))
        return sorted(out)

    def summary_table(self) -> pa.Table:
        rows = self.summary()
        return pa.table(
            {
                "metric": pa.array([r[0] for r in rows]).dictionary_encode(),
                "stratum": pa.array([r[1] for r in rows]).dictionary_encode(),
                "value": pa.array([float(r[2]) for r in rows], pa.float64()),
            }
        )

    def metadata(self) -> dict:
        st = self.stats
        return {
            "rows": int(self.n_rows),
            "arrivals": int(st["n"].sum()),
            "refunds": st["refunds"],
            "verifications": st["verifications"],
            "transfers": st["transfers"],
            "credits": st["credits"],
            "trips": int(self.w.trips.party.size),
        }
