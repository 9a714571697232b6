"""The planning environment of 6B.S2: the world, the book, the pools and the small lookups
the typologies share (payer cards and limits, own devices, mule order per ring, ring cards,
quasi-cash merchants, counterparty countries, a merchant's legit CP hours)."""

from __future__ import annotations

import numpy as np

from engine_core.kernels.csr import csr, pick
from engine_core.segments.seg_6B import s2_plan as P
from engine_core.segments.seg_6B import s2_world
from engine_core.segments.seg_6B.s1_tables import HANDLE
from engine_core.segments.seg_6B.s2_plan import HOUR_US


class Env:
    def __init__(
        self,
        sw: s2_world.S2World,
        book,
        pools,
        pol: dict,
        h0: int,
        h_end: int,
        p_credit_foreign: float,
    ):
        self.sw, self.book, self.pools, self.pol = sw, book, pools, pol
        self.h0, self.h_end = h0, h_end
        self.warmup = int(pol["warmup_days"]) * P.DAY_US
        w, f = sw.w, sw.fraud
        self.groups = list(w.par.groups)
        self.ln_median, self.sigma = w.par.ln_median, w.par.sigma
        self.tested: dict[int, np.ndarray] = {}
        self.p_credit_foreign = p_credit_foreign
        # money leaves by the handle of a primary account, as every legit transfer does (a
        # transfer from a savings account would be a fraud-only value: 6B-R10)
        th = np.flatnonzero(w.inst.type == HANDLE)
        th = th[np.asarray(w.accounts["primary"], bool)[w.inst.account[th]]]
        self.handle = np.full(w.accounts["id"].size, -1, np.int64)
        self.handle[w.inst.account[th]] = th
        self.quasi_m = np.flatnonzero(w.m_quasi & (f.m_volume > 0))
        # cards per party: credit cards first (bust-out spends the credit line)
        cards = np.flatnonzero(np.isin(w.inst.type, s2_world.CARD_TYPES))
        credit = (w.inst.type[cards] == s2_world.CREDIT).astype(np.int64)
        self.party_cards = csr(
            w.inst.holder[cards],
            w.parties.id.size,
            cards,
            key=(1 - credit) * (1 << 62) + (w.inst.id[cards] >> np.uint64(2)).astype(np.int64),
        )
        self.party_credit = np.bincount(w.inst.holder[cards], credit, w.parties.id.size) > 0
        self.all_ring_cards = f.ring_cards.items
        self._mule_pos = np.zeros(f.ring_id.size, np.int64)
        self._card_pos = np.zeros(f.ring_id.size, np.int64)
        self.ring_mule_order = self._mule_order()
        self._m_sites = csr(f.s_merchant, w.m_id.size, np.arange(w.s_id.size), key=w.s_id)
        self._hours = self._cp_hours()

    # --- campaigns -------------------------------------------------------------------------
    def _camp(self, rows, key):
        out = np.full(np.size(rows), -1, np.int64)
        allc = (
            {k: np.concatenate([c[k] for c in self.book.camps]) for k in ("row", key)}
            if (self.book.camps)
            else None
        )
        if allc is None:
            return out
        ok = np.asarray(rows) >= 0
        out[ok] = allc[key][np.searchsorted(allc["row"], np.asarray(rows)[ok])]
        return out

    def camp_end(self, rows):
        return self._camp(rows, "end")

    def camp_ring(self, rows):
        return self._camp(rows, "ring")

    def gmask(self, groups) -> int:
        names = self.groups if groups is None else groups
        return int(sum(1 << self.groups.index(g) for g in names))

    # --- payer side --------------------------------------------------------------------------
    def party_card(self, party, words):
        """The party's credit card (else debit/prepaid), uniform among them."""
        pc = self.party_cards
        n_credit = np.bincount(
            np.repeat(np.arange(pc.n_groups), pc.sizes()),
            self.sw.w.inst.type[pc.items] == s2_world.CREDIT,
            pc.n_groups,
        ).astype(np.int64)
        lo = pc.ptr[party]
        n = np.where(n_credit[party] > 0, n_credit[party], pc.ptr[party + 1] - lo)
        k = np.minimum((P.u01(words) * n).astype(np.int64), np.maximum(n - 1, 0))
        return pc.items[np.minimum(lo + k, pc.items.size - 1)]

    def party_limit(self, party, debit_limit_usd: float):
        """Σ credit limits (USD) of the party's credit-card accounts, else the debit limit."""
        w, f = self.sw.w, self.sw.fraud
        acc_owner = w.accounts["owner"]
        lim = np.bincount(acc_owner, f.limit_usd, w.parties.id.size)
        return np.where(self.party_credit[party] & (lim[party] > 0), lim[party], debit_limit_usd)

    def own_device(self, party, dev_words, ip_words):
        w = self.sw.w
        d = pick(w.dev.of_party, party, dev_words)
        ip = pick(w.dev.ips, np.maximum(d, 0), ip_words)
        return np.where(d >= 0, w.dev.id[np.maximum(d, 0)], 0).astype(np.uint64), np.where(
            d >= 0, ip, -1
        )

    # --- rings -----------------------------------------------------------------------------
    def _mule_order(self):
        f = self.sw.fraud
        order = self.pools["MULE_MONEY_MOVEMENT"].ids
        rank = np.empty(order.size, np.int64)
        rank[np.argsort(order)] = np.arange(order.size)
        ids = self.sw.w.accounts["id"][f.ring_mules.items]
        pos = np.searchsorted(np.sort(order), ids)
        r = (
            np.where(pos < order.size, rank[np.minimum(pos, max(order.size - 1, 0))], 0)
            if (order.size)
            else np.zeros(ids.size, np.int64)
        )
        ring = np.repeat(np.arange(f.ring_mules.n_groups), f.ring_mules.sizes())
        # money moves through transfer handles: a mule account without one cannot layer
        banked = self.handle[f.ring_mules.items] >= 0
        o = np.lexsort((r, ring))
        o = o[banked[o]]
        return csr(ring[o], f.ring_mules.n_groups, f.ring_mules.items[o], key=np.arange(o.size))

    def take_mules(self, ring: int, n: int) -> np.ndarray:
        t = self.ring_mule_order
        lo, hi = int(t.ptr[ring]), int(t.ptr[ring + 1])
        size = hi - lo
        idx = (self._mule_pos[ring] + np.arange(n)) % size
        if self._mule_pos[ring] + n > size:
            self.pools["MULE_MONEY_MOVEMENT"].wraps += 1
        self._mule_pos[ring] = (self._mule_pos[ring] + n) % size
        return t.items[lo + idx]

    def ring_card_list(self, ring: int, n: int) -> np.ndarray:
        f = self.sw.fraud
        lo, hi = int(f.ring_cards.ptr[ring]), int(f.ring_cards.ptr[ring + 1])
        items = f.ring_cards.items[lo:hi] if hi > lo else self.all_ring_cards
        if items.size == 0:  # no mule or synthetic card anywhere: the ring's members' cards
            items = self.party_cards.items
        idx = (self._card_pos[ring] + np.arange(n)) % items.size
        self._card_pos[ring] += n
        return items[idx]

    # --- counterparties --------------------------------------------------------------------
    def foreign_country(self, home, words):
        d = pick(self.sw.w.dests, home, words)
        return np.where(d >= 0, d, home)

    def credit_country(self, home, words):
        """The legit credit law of 6B.S1: home, or a corridor country with p_credit_foreign."""
        u = P.u01(words)
        foreign = u >= 1.0 - self.p_credit_foreign
        return np.where(foreign, self.foreign_country(home, words), home)

    # --- merchant hours ----------------------------------------------------------------------
    def _cp_hours(self):
        c = self.sw.cells
        cp = c["channel"] == 0
        key = c["m"][cp] * c["n_hours"] + c["hour"][cp]
        uniq, inv = np.unique(key, return_inverse=True)
        n = np.bincount(inv, c["n_rows"][cp], uniq.size)
        m = uniq // c["n_hours"]
        # off-hours: positive, in the bottom quintile of the merchant's positive hours
        off = np.zeros(uniq.size, bool)
        ptr = np.concatenate([[0], np.cumsum(np.bincount(m, minlength=self.sw.w.m_id.size))])
        for mm in sorted(self.sw.fraud.collusive_site):  # tens of collusive merchants
            lo, hi = ptr[mm], ptr[mm + 1]
            q = np.quantile(n[lo:hi], 0.2)
            off[lo:hi] = n[lo:hi] <= q
        return uniq, off, ptr

    def merchant_hours(self, m, lo, hi, off, w_hour, w_us):
        """Instants in hours with legit CP rows at merchant ``m`` inside ``[lo, hi)`` (off-hours
        only where ``off`` and the window has some; the merchant's whole horizon if the window
        has none), the hour uniform among them, the instant uniform in the hour."""
        uniq, offh, ptr = self._hours
        nh = self.sw.cells["n_hours"]
        m = np.asarray(m, np.int64)
        out = P.window(w_us, lo, hi)
        if uniq.size == 0:
            return out
        u = P.u01(w_hour)
        a, b = ptr[m], ptr[m + 1]
        first = -(-(np.asarray(lo) - self.h0) // HOUR_US)  # hours starting inside the window
        last = -(-(np.asarray(hi) - self.h0) // HOUR_US)
        pa = np.clip(np.searchsorted(uniq, m * nh + first), a, b)
        pb = np.clip(np.searchsorted(uniq, m * nh + last), a, b)
        cum = np.concatenate([[0], np.cumsum(offh)])
        n_off = cum[pb] - cum[pa]
        use_off = np.asarray(off, bool) & (n_off > 0)
        empty = pb <= pa
        pa, pb = np.where(empty, a, pa), np.where(empty, b, pb)
        n_all = pb - pa
        k_all = np.minimum((u * n_all).astype(np.int64), np.maximum(n_all - 1, 0))
        k_off = np.minimum((u * n_off).astype(np.int64), np.maximum(n_off - 1, 0))
        j_off = np.searchsorted(cum, cum[pa] + k_off + 1, side="left") - 1
        j = np.where(use_off & ~empty, j_off, pa + k_all)
        has = n_all > 0
        hour = uniq[np.clip(j, 0, uniq.size - 1)] % nh
        start = self.h0 + hour * HOUR_US
        return np.where(has, start + (out - np.asarray(lo)) % HOUR_US, out)

    def merchant_site(self, m, words):
        return pick(self._m_sites, m, words)
