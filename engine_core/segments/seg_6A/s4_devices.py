"""6A.S4 — devices, IPs and the full link graph (layer3 §3.5): the state, its devices and
device links. The IP inventory and IP edges are in ``s4_network``.

Devices: personal (per (cell, device type) LRR of expected counts with every tilt, placed by
CAPPED_MULTINOMIAL with floors — a smartphone for every token holder — and base-one
smartphones), public terminals per country, merchant terminals per physical site. Links:
PRIMARY_OWNER, SHARED_USER (household members; Pareto-sized public-terminal crowds),
ACCOUNT_ACCESS and CARD_ON_FILE coins with per-device caps, TOKEN_BINDING, MERCHANT_TERMINAL.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from engine_core.errors import EngineError
from engine_core.kernels.alloc import capped_multinomial_cells, lrr_capped
from engine_core.kernels.lookup import find_sorted
from engine_core.kernels.sorting import lex_order
from engine_core.rng.alias import build_alias_table
from engine_core.rng.samplers import as241
from engine_core.rng.uniform import uniform01
from engine_core.segments.seg_6A import base
from engine_core.segments.seg_6A.base import ln1, power, round_half_even

STATE = "6A.S4"
DEVICE_TYPES = (
    "SMARTPHONE",
    "TABLET",
    "LAPTOP",
    "DESKTOP",
    "SMART_TV",
    "GAME_CONSOLE",
    "WEARABLE",
    "PUBLIC_TERMINAL",
    "POS_TERMINAL",
    "MPOS_READER",
)
OS = ("ANDROID", "IOS", "WINDOWS", "MACOS", "LINUX", "CHROMEOS", "TIZEN", "WEBOS", "EMBEDDED")
OS_AGE = ("CURRENT", "N1", "N2", "LEGACY")
OWNER_KIND = ("PARTY", "PUBLIC", "MERCHANT", "OPERATOR")
LINK_ROLES = (
    "ACCOUNT_ACCESS",
    "CARD_ON_FILE",
    "MERCHANT_TERMINAL",
    "PRIMARY_OWNER",
    "SHARED_USER",
    "TOKEN_BINDING",
)  # sorted: the link table's sort order
ECOM = ("SMARTPHONE", "TABLET", "LAPTOP", "DESKTOP")
SMARTPHONE, WEARABLE, TABLET = 0, 6, 1
PUBLIC, POS, MPOS = 7, 8, 9


class Devices:
    """Devices in ordinal order as columnar arrays (owner rows index the party table)."""

    def __init__(self):
        self.parts: dict[str, list] = {
            k: [] for k in ("type", "kind", "owner", "merchant", "site", "country")
        }

    def add(self, dtype, kind, owner, country, merchant=None, site=None):
        n = owner.size
        self.parts["type"].append(np.broadcast_to(dtype, (n,)).astype(np.int64))
        self.parts["kind"].append(np.full(n, kind, np.int64))
        self.parts["owner"].append(owner.astype(np.int64))
        self.parts["country"].append(country.astype(np.int64))
        self.parts["merchant"].append(np.zeros(n, np.uint64) if merchant is None else merchant)
        self.parts["site"].append(np.zeros(n, np.uint64) if site is None else site)

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v) if v else np.zeros(0) for k, v in self.parts.items()}


def expected_count(pol, t: str, s: str, r: str, d: str) -> float:
    """Devices of type d per party of a (type, segment, region) cell: λ·segtilt·regtilt."""
    return (
        pol["lambda"].get(t, {}).get(d, 0.0)
        * pol["segment_tilt"].get(s, {}).get(d, 1.0)
        * pol["region_tilt"].get(r, {}).get(d, 1.0)
    )


def personal_devices(rng, pol, cells, cnp, token_holder, devices, expect, plan_real):
    """Per device type: LRR of the cells' expected counts (tb = rng), then CAPPED_MULTINOMIAL
    per cell with floors (a smartphone per token holder) and base-one."""
    al = pol["allocation"]
    act = power(cnp, al["activity_exponent"])  # per party, the same for every device type
    for di, d in enumerate(DEVICE_TYPES[:7]):
        ks = [
            k
            for k in range(cells.keys.size)
            if pol["lambda"].get(cells.cell(k)[1], {}).get(d, 0.0) > 0
        ]
        if not ks:
            continue
        info = [cells.cell(k) for k in ks]
        keys = [f"{c}|{t}|{s}|{d}" for c, t, s, _, _ in info]
        ow = uniform01(rng.family("owner_weight").cells(keys, cells.n[ks], 1))
        base.count(expect, "6A.S4.owner_weight", len(ks), 2 * int(cells.n[ks].sum()))
        p_zero = al["p_zero"].get(d, al["p_zero"]["default"])
        bounds = np.r_[0, np.cumsum(cells.n[ks])]
        floors_all = token_holder if di == SMARTPHONE else np.zeros_like(token_holder)
        # a cell whose every owner is zero-gated expects no device beyond its floors
        open_cell = np.add.reduceat((ow[:, 0] >= p_zero).astype(np.int64), bounds[:-1]) > 0
        e = (
            np.array(
                [
                    cells.n[k] * expected_count(pol, t, s, r, d)
                    for k, (_, t, s, r, _) in zip(ks, info, strict=True)
                ]
            )
            * open_cell
        )
        tb = uniform01(rng.family("count_tb").units(d, len(ks), 1)[:, 0])
        base.count(expect, "6A.S4.count_tb", 1, 2 * len(ks))
        # a cell holds at most its floors plus its open owners' room (excess water-filled)
        cap_t = np.array([pol["caps"][t].get(d, 0) for _, t, _, _, _ in info])
        fl = floors_all[np.concatenate([r for *_, r in info])].astype(np.int64)
        open_ = (ow[:, 0] >= p_zero).astype(np.int64)
        room = np.add.reduceat(fl + open_ * (np.repeat(cap_t, cells.n[ks]) - fl), bounds[:-1])
        n_k = lrr_capped(
            round_half_even(float(e.sum())), e, room, tb, state=STATE, where=f"{d} cells"
        )
        sigma = al["sigma"].get(d, al["sigma"]["default"])
        alloc = rng.family("alloc")
        # weights, caps and floors for every owner of the type at once (cells slice them)
        w_all = (
            (ow[:, 0] >= p_zero)
            * act[np.concatenate([r for *_, r in info])]
            * ln1(sigma, as241(ow[:, 1]))
        )
        cap_all = np.repeat(cap_t, cells.n[ks])
        has_floor = np.add.reduceat(fl, bounds[:-1]) > 0
        base_one = d in pol["base_one"]
        owners = []
        active = (n_k > 0) | has_floor
        streams = [alloc.stream(k) if a else (0, 0, 0) for k, a in zip(keys, active, strict=True)]
        cnt_all, big_all = capped_multinomial_cells(
            n_k,
            w_all,
            cap_all,
            fl,
            bounds,
            active,
            base_one,
            np.array(streams, np.uint64),
            workers=rng.workers,
            state=STATE,
            where=keys,
        )
        for i, (*_, rows) in enumerate(info):
            if not active[i]:
                continue
            sl = slice(bounds[i], bounds[i + 1])
            stream, cnt, big_n = streams[i], cnt_all[sl], int(big_all[i])
            alloc.trace(stream, blocks=2 * big_n + rows.size, draws=4 * big_n + 2 * rows.size)
            base.count(expect, "6A.S4.alloc", 1, 4 * big_n + 2 * rows.size)
            plan_real[0].append(max(int(n_k[i]), int(fl[sl].sum())))
            plan_real[1].append(int(cnt.sum()))
            owners.append(np.repeat(rows, cnt))
        if owners:
            o = np.concatenate(owners)
            devices.add(di, 0, o, cells.country[o])


def public_devices(pol, cells, devices):
    retail = cells.ptype == 0
    n_retail = np.bincount(cells.country[retail], minlength=len(cells.countries))
    n_pub = np.array([round_half_even(float(x) * pol["public_per_party"]) for x in n_retail])
    c = np.repeat(np.arange(len(cells.countries)), n_pub)
    devices.add(PUBLIC, 1, np.full(c.size, -1), c)
    return n_pub


def merchant_terminals(pol, outlets, mzp, countries, devices):
    """Per physical site ``min(term_max, 1 + ⌊log2(1 + v_site/term_scale)⌋)`` terminals,
    v_site = the merchant's weekly volume in the country over its sites there (RNG-free).
    Returns the single-site mask of the terminals (MPOS candidates)."""
    tp = pol["terminals"]
    m = outlets.column("merchant_id").to_numpy()
    c = base.codes_of(outlets.column("legal_country_iso"), countries)
    so = outlets.column("site_order").to_numpy().astype(np.int64)
    sid = outlets.column("site_id").to_numpy()
    order = np.lexsort((so, c, m))
    m, c, so, sid = m[order], c[order], so[order], sid[order]
    key = m.astype(np.uint64) * np.uint64(1024) + c.astype(np.uint64)
    uk, inv, n_sites = np.unique(key, return_inverse=True, return_counts=True)
    vm = mzp.column("merchant_id").to_numpy()
    vc = base.codes_of(mzp.column("legal_country_iso"), countries, missing=-1)
    vkey = vm.astype(np.uint64) * np.uint64(1024) + np.maximum(vc, 0).astype(np.uint64)
    pos = np.searchsorted(uk, vkey)
    hit = (vc >= 0) & (pos < uk.size) & (uk[np.minimum(pos, uk.size - 1)] == vkey)
    vol = np.bincount(pos[hit], mzp.column("weekly_volume").to_numpy()[hit], minlength=uk.size)
    v_site = (vol / n_sites)[inv]
    n_term = np.minimum(tp["term_max"], 1 + np.floor(np.log2(1 + v_site / tp["term_scale"])))
    n_term = n_term.astype(np.int64)
    per_merchant = np.bincount(np.unique(m, return_inverse=True)[1])
    single = per_merchant[np.unique(m, return_inverse=True)[1]] == 1
    rows = np.repeat(np.arange(m.size), n_term)
    devices.add(POS, 2, np.full(rows.size, -1), c[rows], merchant=m[rows], site=sid[rows])
    return np.repeat(single, n_term)


def device_attributes(rng, pol, cells, dev, since, ref_day, single_site, expect):
    """os, os age, first seen and (terminals of single-site merchants) the MPOS coin; one
    ``6A.S4.attr`` unit per device, streams per (country, device type) — terminal units
    live in the POS_TERMINAL stream because their type is decided by the coin."""
    n = dev["type"].size
    stream_type = np.where(dev["type"] == MPOS, POS, dev["type"])
    order = np.lexsort((np.arange(n), stream_type, dev["country"]))
    g = dev["country"][order] * len(DEVICE_TYPES) + stream_type[order]
    uk, start, cnt = np.unique(g, return_index=True, return_counts=True)
    keys = [
        f"{cells.countries[k // len(DEVICE_TYPES)]}|{DEVICE_TYPES[k % len(DEVICE_TYPES)]}"
        for k in uk.tolist()
    ]
    u = np.empty((n, 4))
    u[order] = uniform01(rng.family("attr").cells(keys, cnt, 2))
    base.count(expect, "6A.S4.attr", len(keys), 4 * n)
    term = dev["kind"] == 2
    mpos = term & single_site & (u[:, 3] < pol["terminals"]["mpos_share_single_site"])
    dev["type"] = np.where(mpos, MPOS, dev["type"])
    regions = sorted(set(cells.region_of.values()))
    reg_of_country = np.array([regions.index(cells.region_of[c]) for c in cells.countries])
    seg = np.where(dev["owner"] >= 0, cells.seg[np.maximum(dev["owner"], 0)], -1)
    os_code = np.zeros(n, np.int64)
    age = np.zeros(n, np.int64)
    combos = dev["type"] * 64 + reg_of_country[dev["country"]]
    for k in np.unique(combos).tolist():  # ≤ 10 types × 8 regions
        t, r = divmod(k, 64)
        m = combos == k
        mix = pol["os_mix"][DEVICE_TYPES[t]]
        shares = mix.get(regions[r], mix["default"])
        cdf = np.cumsum([shares.get(o, 0.0) for o in OS])
        os_code[m] = np.minimum(np.searchsorted(cdf / cdf[-1], u[m, 0], side="right"), 8)
    for s in np.unique(seg).tolist():
        m = seg == s
        am = pol["os_age_mix"]
        shares = am.get(cells.segments[s], am["default"]) if s >= 0 else am["default"]
        cdf = np.cumsum([shares.get(a, 0.0) for a in OS_AGE])
        age[m] = np.minimum(np.searchsorted(cdf / cdf[-1], u[m, 1], side="right"), 3)
    ref = base.EPOCH + dt.timedelta(days=int(ref_day))
    four = base.day_number(dt.date(ref.year - 4, ref.month, 28 if ref.month == 2 else ref.day))
    lo = np.where(dev["owner"] >= 0, np.maximum(since[np.maximum(dev["owner"], 0)], four), four)
    lo = np.minimum(lo, ref_day)
    first_seen = lo + np.floor(u[:, 2] * (ref_day - lo + 1)).astype(np.int64)
    return os_code, age, first_seen


def pairs_shared(rng, pol, cells, dev, hh, expect):
    """Candidate (device, other household member) pairs in canonical order per
    (country, home cell); a SHARED_USER edge on a ``p_share[type]`` coin, capped so the
    device has at most ``max_users.household`` users."""
    personal = np.flatnonzero((dev["kind"] == 0) & (cells.ptype[np.maximum(dev["owner"], 0)] == 0))
    owner = dev["owner"][personal]
    valid, first, size, morder = hh
    dev_l, mem_l = [], []
    for j in range(6):  # ≤ 6 members per household
        ok = valid[owner] & (j < size[owner])
        member = morder[np.minimum(first[owner] + j, morder.size - 1)]
        ok &= member != owner
        dev_l.append(personal[ok])
        mem_l.append(member[ok])
    d = np.concatenate(dev_l)
    mem = np.concatenate(mem_l)
    own = dev["owner"][d]
    order = lex_order(cells.country[own], cells.home_cell[own], d, cells.pid[mem])
    d, mem, own = d[order], mem[order], own[order]
    g = cells.country[own].astype(np.int64) * (1 << 20) + cells.home_cell[own]
    uk, start, cnt = np.unique(g, return_index=True, return_counts=True)
    keys = [f"{cells.countries[k >> 20]}|{k & ((1 << 20) - 1)}" for k in uk.tolist()]
    u = uniform01(rng.family("share").cells(keys, cnt, 1))[:, 0]
    base.count(expect, "6A.S4.share", len(keys), 2 * d.size)
    p = np.array([pol["p_share"].get(t, 0.0) for t in DEVICE_TYPES])[dev["type"][d]]
    hit = u < p
    d, mem = d[hit], mem[hit]
    rank = base.rank_within(d)  # users beyond the cap are dropped in canonical order
    keep = rank < pol["max_users"]["household"] - 1
    return d[keep], mem[keep]


def pairs_public(rng, pol, cells, dev, n_pub, expect):
    """Public terminals: ``min(max_users, ⌊x_min·u^(−1/α)⌋)`` users picked by alias over the
    country's retail parties by activity_cp; a duplicate pick is dropped (no retry)."""
    pub = np.flatnonzero(dev["kind"] == 1)
    if pub.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pu = pol["public_users"]
    cmax = pol["max_users"]["public"]
    keys = [c for c, n in zip(cells.countries, n_pub, strict=True)]
    words = rng.family("public").cells(keys, n_pub, 31)
    base.count(expect, "6A.S4.public", int((n_pub > 0).sum()), 62 * int(n_pub.sum()))
    size = np.minimum(cmax, np.floor(pu["x_min"] * uniform01(words[:, 0]) ** (-1.0 / pu["alpha"])))
    size = size.astype(np.int64)
    d_out, m_out = [], []
    row = 0
    for ci in np.flatnonzero(n_pub > 0):  # one alias table per country
        rows = cells.retail_rows(ci)
        tab = build_alias_table(cells.pid[rows], cells.cp[rows], STATE)
        w = words[row : row + n_pub[ci], 1 : 1 + cmax]
        picks = rows[tab.order[tab.pick(w.reshape(-1))].reshape(w.shape)]
        dv = np.repeat(pub[row : row + n_pub[ci]], cmax).reshape(w.shape)
        take = np.arange(cmax)[None, :] < size[row : row + n_pub[ci], None]
        d, m = dv[take], picks[take]
        pair = np.unique(np.stack([d, m]), axis=1)  # duplicates dropped
        d_out.append(pair[0])
        m_out.append(pair[1])
        row += n_pub[ci]
    return np.concatenate(d_out), np.concatenate(m_out)


def access_and_cof(rng, pol, cells, dev, users, accounts, cards, expect):
    """ACCOUNT_ACCESS and CARD_ON_FILE from (device, user) pairs: one coin per candidate
    edge, streams per (country, device type); accounts first then cards within a stream;
    over-cap edges are dropped in canonical target order."""
    d_u, p_u, shared = users
    # users in (country, device type, device) order, a device's users in their given order:
    # candidates are then born almost in canonical order and the sort below is a merge
    uo = lex_order(dev["country"][d_u] * len(DEVICE_TYPES) + dev["type"][d_u], d_u)
    d_u, p_u, shared = d_u[uo], p_u[uo], shared[uo]
    acc_party, acc_row = accounts  # (party row, account row) sorted by party then account
    card_party, card_row = cards
    cand = []
    p_acc = np.array([pol["p_access"].get(t, 0.0) for t in DEVICE_TYPES])
    business = cells.ptype[np.maximum(dev["owner"][d_u], 0)] == 1
    prob = np.where(
        business & (dev["kind"][d_u] == 0) & ~shared,
        pol["p_access_business"],
        p_acc[dev["type"][d_u]]
        * np.where(shared & (dev["kind"][d_u] == 0), pol["shared_access_factor"], 1.0),
    )
    for kind, (tp, tr), p in ((0, (acc_party, acc_row), prob), (1, (card_party, card_row), None)):
        lo = find_sorted(tp, p_u)
        hi = find_sorted(tp, p_u, "right")
        k = hi - lo
        if kind == 1:
            ecom = np.isin(dev["type"][d_u], [DEVICE_TYPES.index(t) for t in ECOM])
            k = np.where(ecom, k, 0)
            p = np.where(shared, pol["p_cof_shared"], pol["p_cof"])
        else:
            k = np.where(p > 0, k, 0)
        pair = np.repeat(np.arange(d_u.size), k)
        off = np.arange(pair.size) - np.repeat(np.cumsum(k) - k, k)
        cand.append((np.full(pair.size, kind), d_u[pair], tr[lo[pair] + off], p[pair]))
    kind, d, target, p = (np.concatenate(x) for x in zip(*cand, strict=True))
    del cand
    # canonical order (country, device type, kind, device, target): one packed stable sort
    g = dev["country"][d] * len(DEVICE_TYPES) + dev["type"][d]
    order = lex_order((g << 1) | kind, d, target)
    kind, d, target, p, g = kind[order], d[order], target[order], p[order], g[order]
    del order
    new = np.r_[True, g[1:] != g[:-1]] if g.size else np.zeros(0, bool)
    uk, start = g[new], np.flatnonzero(new)
    cnt = np.diff(np.r_[start, g.size])
    keys = [
        f"{cells.countries[k // len(DEVICE_TYPES)]}|{DEVICE_TYPES[k % len(DEVICE_TYPES)]}"
        for k in uk.tolist()
    ]
    u = uniform01(rng.family("access").cells(keys, cnt, 1))[:, 0]
    base.count(expect, "6A.S4.access", len(keys), 2 * d.size)
    hit = u < p
    # caps per device, in canonical target order (targets are row indices in id order):
    # each (kind, device) is one contiguous run of the canonical order, targets ascending
    kind, d, target = kind[hit], d[hit], target[hit]
    owner_kind = np.where(dev["kind"][d] == 1, 2, cells.ptype[np.maximum(dev["owner"][d], 0)])
    cap_acc = np.array(
        [pol["max_accounts_per_device"][k] for k in ("RETAIL", "BUSINESS", "PUBLIC")]
    )[owner_kind]
    cap = np.where(kind == 0, cap_acc, pol["max_cards_on_file"])
    dedup = np.r_[True, (kind[1:] != kind[:-1]) | (d[1:] != d[:-1]) | (target[1:] != target[:-1])]
    kind, d, target, cap = kind[dedup], d[dedup], target[dedup], cap[dedup]
    rank = base.rank_within(kind * (1 << 40) + d)
    keep = rank < cap
    return kind[keep], d[keep], target[keep]


def token_binding(rng, cells, dev, tokens, expect):
    """First token of a card → a uniformly chosen SMARTPHONE of the holder; second → the
    holder's WEARABLE, else TABLET, else the same phone. TOKEN_UNBINDABLE if none."""
    t_holder, t_second, t_id = tokens
    phones = np.flatnonzero((dev["type"] == SMARTPHONE) & (dev["kind"] == 0))
    ph_owner = dev["owner"][phones]
    o = np.lexsort((phones, ph_owner))
    phones, ph_owner = phones[o], ph_owner[o]
    lo = find_sorted(ph_owner, t_holder)
    k = find_sorted(ph_owner, t_holder, "right") - lo
    if (k == 0).any():
        bad = int(t_id[np.argmax(k == 0)])
        raise EngineError(
            "TOKEN_UNBINDABLE",
            STATE,
            f"token {bad}: its holder has no smartphone (the floor was violated)",
        )
    order = np.lexsort((t_id, cells.country[t_holder]))
    cc = cells.country[t_holder][order]
    uc, start, cnt = np.unique(cc, return_index=True, return_counts=True)
    u = np.empty(t_id.size)
    u[order] = uniform01(
        rng.family("token_bind").cells([cells.countries[c] for c in uc.tolist()], cnt, 1)
    )[:, 0]
    base.count(expect, "6A.S4.token_bind", uc.size, 2 * t_id.size)
    phone = phones[lo + np.floor(u * k).astype(np.int64)]
    first_phone = phones[lo]
    # second tokens: the holder's wearable, else tablet, else its first phone
    target = np.where(t_second, first_phone, phone)
    for dt_ in (TABLET, WEARABLE):  # later assignment wins: wearable over tablet
        cand = np.flatnonzero((dev["type"] == dt_) & (dev["kind"] == 0))
        co = dev["owner"][cand]
        o = np.lexsort((cand, co))
        cand, co = cand[o], co[o]
        pos = find_sorted(co, t_holder)
        has = (pos < co.size) & (co[np.minimum(pos, co.size - 1)] == t_holder)
        target = np.where(t_second & has, cand[np.minimum(pos, cand.size - 1)], target)
    return target
