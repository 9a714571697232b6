"""6A.S4 IP inventory and IP edges (layer3 §3.5 steps 9–10).

Inventory: FIXED_HOME per household (+ a second for an exact share of households and for
households beyond the per-IP device cap), CORPORATE_NAT per business party, country pools
(MOBILE_CGNAT, PUBLIC_WIFI) and global pools (VPN_EXIT, DATACENTER, TOR_EXIT with a hosting
country) sized from expected edges, MERCHANT_NET per site with a POS terminal. Pool IPs have
Pareto popularity; pool edges are placed by CAPPED_MULTINOMIAL under ``max_devices_per_ip``.
Every IP gets an ASN from its (country, ASN class) list by Zipf alias.
"""

from __future__ import annotations

import math

import numpy as np

from engine_core.kernels.alloc import capped_multinomial, exact_subset
from engine_core.kernels.lookup import find_sorted
from engine_core.rng.alias import build_alias_table
from engine_core.rng.detmath import exp, log
from engine_core.rng.uniform import uniform01
from engine_core.segments.seg_6A import base
from engine_core.segments.seg_6A.base import power, round_half_even
from engine_core.segments.seg_6A.s4_devices import DEVICE_TYPES, MPOS, POS, PUBLIC

STATE = "6A.S4"
IP_TYPES = (
    "FIXED_HOME",
    "MOBILE_CGNAT",
    "PUBLIC_WIFI",
    "CORPORATE_NAT",
    "VPN_EXIT",
    "DATACENTER",
    "TOR_EXIT",
    "MERCHANT_NET",
)
ASN_CLASSES = ("RESIDENTIAL_ISP", "MOBILE_CARRIER", "ENTERPRISE", "HOSTING", "ANONYMISER")
IP_ROLES = ("TYPICAL_DEVICE_IP", "SECONDARY_DEVICE_IP", "PROXY_EXIT", "MERCHANT_NETWORK")
FIXED, CGNAT, WIFI, CORP, VPN, DC, TOR, MNET = range(8)
GLOBAL_POOLS = (VPN, DC, TOR)
PROXY_DEVICES = ("SMARTPHONE", "WEARABLE", "LAPTOP", "DESKTOP", "TABLET")
ASN_STRIDE = 7919  # coprime to the 399 000 ASN values: the (country, class, k) → ASN map is 1-1


class Inventory:
    """IPs in ordinal order: type, country code, owner key (household / party / site row)."""

    def __init__(self):
        self.type, self.country, self.owner = [], [], []

    def add(self, t, country, owner):
        self.type.append(np.full(country.size, t, np.int64))
        self.country.append(country.astype(np.int64))
        self.owner.append(owner.astype(np.int64))

    def arrays(self):
        return (np.concatenate(self.type), np.concatenate(self.country), np.concatenate(self.owner))


def edge_demands(rng, ipol, cells, dev, expect):
    """The IP edge rules of §3.5 step 10 as demands ``(device, ip type, role, target key)``
    in rule order; ``target key`` is the household / business party / site for fixed IPs and
    the pool's country (−1: global) for pool picks. One ``6A.S4.ip_edge`` unit per device."""
    n = dev["type"].size
    order = np.lexsort((np.arange(n), dev["type"], dev["country"]))
    g = dev["country"][order] * len(DEVICE_TYPES) + dev["type"][order]
    uk, _, cnt = np.unique(g, return_index=True, return_counts=True)
    keys = [
        f"{cells.countries[k // len(DEVICE_TYPES)]}|{DEVICE_TYPES[k % len(DEVICE_TYPES)]}"
        for k in uk.tolist()
    ]
    u = np.empty((n, 6))
    u[order] = uniform01(rng.family("ip_edge").cells(keys, cnt, 3))
    base.count(expect, "6A.S4.ip_edge", len(keys), 6 * n)
    t = dev["type"]
    party = dev["kind"] == 0
    owner = np.maximum(dev["owner"], 0)
    business = party & (cells.ptype[owner] == 1)
    name = np.array(DEVICE_TYPES)[t]
    home = np.where(business, CORP, FIXED)
    home_key = np.where(business, owner, cells.household_row[owner])
    mobile = party & np.isin(name, ["SMARTPHONE", "WEARABLE"])
    fixed_typical = party & np.isin(
        name, ["LAPTOP", "DESKTOP", "TABLET", "SMART_TV", "GAME_CONSOLE"]
    )
    p_vpn = np.array([ipol["p_vpn"].get(s, ipol["p_vpn"]["default"]) for s in cells.segments])
    pv = np.where(
        business, ipol["p_vpn"].get("BUSINESS", ipol["p_vpn"]["default"]), p_vpn[cells.seg[owner]]
    )
    proxy_ok = party & np.isin(name, PROXY_DEVICES)
    idx = np.arange(n)
    rules = [  # (mask, ip type per row, role, key per row)
        (mobile, CGNAT, 0, dev["country"]),
        (mobile & (u[:, 0] < ipol["p_home_wifi"]), home, 0, home_key),
        (fixed_typical, home, 0, home_key),
        (party & (name == "LAPTOP") & (u[:, 1] < ipol["p_public_wifi"]), WIFI, 1, dev["country"]),
        (proxy_ok & (u[:, 2] < pv), VPN, 2, np.full(n, -1)),
        (proxy_ok & (u[:, 3] < ipol["p_dc"]), DC, 2, np.full(n, -1)),
        (proxy_ok & (u[:, 4] < ipol["p_tor"]), TOR, 2, np.full(n, -1)),
        (t == PUBLIC, WIFI, 0, dev["country"]),
        (t == POS, MNET, 3, dev["site_row"]),
        (t == MPOS, CGNAT, 3, dev["country"]),
    ]
    d, ty, role, key = [], [], [], []
    for mask, ip_t, r, k in rules:
        rows = idx[mask]
        d.append(rows)
        ty.append(np.broadcast_to(ip_t, (n,))[rows] if np.ndim(ip_t) else np.full(rows.size, ip_t))
        role.append(np.full(rows.size, r))
        key.append(k[rows])
    expected = {  # pool sizing from expected, not realised, edges (coins do not size pools)
        CGNAT: np.bincount(dev["country"][mobile | (t == MPOS)], minlength=len(cells.countries)),
        WIFI: np.bincount(dev["country"][t == PUBLIC], minlength=len(cells.countries))
        + np.bincount(dev["country"][party & (name == "LAPTOP")], minlength=len(cells.countries))
        * ipol["p_public_wifi"],
        VPN: float(pv[proxy_ok].sum()),
        DC: float(proxy_ok.sum()) * ipol["p_dc"],
        TOR: float(proxy_ok.sum()) * ipol["p_tor"],
    }
    return (
        np.concatenate(d),
        np.concatenate(ty),
        np.concatenate(role),
        np.concatenate(key),
    ), expected


def inventory(rng, ipol, cells, dev, demands, expected, mass, n_sites, expect):
    """The IP inventory in ordinal order and each IP's popularity, country and ASN."""
    d, ty, role, key = demands
    inv = Inventory()
    n_hh = int(cells.n_households)
    hh_country = cells.household_country
    # FIXED_HOME: one per household, then a second for an exact share and for overflow
    cap_home = ipol["max_devices_per_ip"]["FIXED_HOME"]
    home = ty == FIXED
    per_hh = np.bincount(key[home], minlength=n_hh)
    inv.add(FIXED, hh_country, np.arange(n_hh))
    pool_keys = [f"FIXED_HOME|{c}" for c in cells.countries]
    first_u = uniform01(
        rng.family("ip_pool").cells(
            pool_keys, np.bincount(hh_country, minlength=len(cells.countries)), 2, trace=False
        )
    )
    order = np.argsort(hh_country, kind="stable")
    skey = np.empty(n_hh)
    skey[order] = first_u[:, 3]
    k2 = round_half_even(ipol["second_home_ip_share"] * n_hh)
    second = np.zeros(n_hh, bool)
    if k2:
        second[exact_subset(k2, np.ones(n_hh), skey, state=STATE, where="second home IPs")] = True
    second |= per_hh > cap_home
    sec = np.flatnonzero(second)
    inv.add(FIXED, hh_country[sec], sec)
    # CORPORATE_NAT per business party
    bus = np.flatnonzero(cells.ptype == 1)
    n_nat = (
        np.array(
            [ipol["corporate_nat_per_party"][cells.segments[s]] for s in cells.seg[bus]], np.int64
        )
        if bus.size
        else np.zeros(0, np.int64)
    )
    nat_owner = np.repeat(bus, n_nat)
    inv.add(CORP, cells.country[nat_owner], nat_owner)
    # pools: country pools then global pools, sized ⌈expected edges / mean devices per IP⌉
    mean = ipol["mean_devices_per_ip"]
    for t in (CGNAT, WIFI):
        size = np.ceil(np.asarray(expected[t], float) / mean[IP_TYPES[t]]).astype(np.int64)
        size = np.where(np.asarray(expected[t]) > 0, np.maximum(size, 1), 0)
        c = np.repeat(np.arange(len(cells.countries)), size)
        inv.add(t, c, np.full(c.size, -1))
    for t in GLOBAL_POOLS:
        size = max(1, math.ceil(expected[t] / mean[IP_TYPES[t]])) if expected[t] > 0 else 0
        inv.add(t, np.full(size, -1), np.full(size, -1))
    # MERCHANT_NET per site with a POS terminal
    sites = np.unique(key[ty == MNET])
    inv.add(MNET, n_sites["country"][sites], sites)
    ip_type, ip_country, ip_owner = inv.arrays()
    return ip_type, ip_country, ip_owner


def ip_attributes(rng, ipol, cells, ip_type, ip_country, mass, hosting, expect):
    """Popularity (Pareto for pools, 1 otherwise), hosting country for global pools and the
    ASN pick; one ``6A.S4.ip_pool`` unit per IP, streams per (ip type, country)."""
    n = ip_type.size
    ck = np.where(ip_country >= 0, ip_country, len(cells.countries))
    order = np.lexsort((np.arange(n), ck, ip_type))
    g = ip_type[order] * (len(cells.countries) + 1) + ck[order]
    uk, _, cnt = np.unique(g, return_index=True, return_counts=True)
    keys = []
    for k in uk.tolist():
        t, c = divmod(k, len(cells.countries) + 1)
        keys.append(f"{IP_TYPES[t]}|{cells.countries[c] if c < len(cells.countries) else 'GLOBAL'}")
    words = np.empty((n, 4), np.uint64)
    words[order] = rng.family("ip_pool").cells(keys, cnt, 2)
    base.count(expect, "6A.S4.ip_pool", len(keys), 4 * n)
    u = uniform01(words)
    alpha = ipol["pareto_alpha"]
    a = np.array([alpha.get(t, 0.0) for t in IP_TYPES])[ip_type]
    pool = a > 0
    pop = np.ones(n)
    pop[pool] = exp(-log(u[pool, 0]) / a[pool])  # Pareto u^(−1/α), u in (0, 1)
    # global pools: hosting country (WORLD = by party mass)
    names, shares = hosting
    country_iso = np.array(cells.countries + [""], object)[ck]
    glob = ip_country < 0
    if glob.any():
        cdf = np.cumsum(shares) / np.sum(shares)
        pick = np.minimum(np.searchsorted(cdf, u[glob, 1], side="right"), len(names) - 1)
        chosen = np.array(names, object)[pick]
        world = chosen == "WORLD"
        if world.any():
            mcdf = np.cumsum(mass) / np.sum(mass)
            wpick = np.minimum(
                np.searchsorted(mcdf, u[glob, 3][world], side="right"), len(cells.countries) - 1
            )
            chosen[world] = np.array(cells.countries, object)[wpick]
        country_iso[glob] = chosen
    asn_class = np.array([ASN_CLASSES.index(ipol["asn_class_of"][t]) for t in IP_TYPES])[ip_type]
    asn = _asn(ipol, country_iso, asn_class, words[:, 2])
    return pop, country_iso, asn_class, asn


def _asn(ipol, country_iso, asn_class, pick_words):
    """Per (country, ASN class) a list of ``asn_min + ⌊log10(1 + pool)⌋`` ASNs (a 1-1 map of
    the canonical list position into [1000, 399999], RNG-free) and a Zipf alias pick."""
    grp = np.char.add(country_iso.astype(str), np.char.add("|", asn_class.astype(str)))
    ug, inv, cnt = np.unique(grp, return_inverse=True, return_counts=True)
    n_asn = ipol["asn_min"] + np.floor(np.log10(1.0 + cnt)).astype(np.int64)
    start = np.r_[0, np.cumsum(n_asn)]
    out = np.zeros(country_iso.size, np.int64)
    order = np.argsort(inv, kind="stable")
    gstart = np.r_[0, np.cumsum(cnt)]
    for j in range(ug.size):  # one table per (country, class): ≤ 250 × 5
        rank = np.arange(1, n_asn[j] + 1, dtype=np.float64)
        tab = build_alias_table(np.arange(n_asn[j]), power(rank, -ipol["asn_zipf_s"]), STATE)
        rows = order[gstart[j] : gstart[j + 1]]
        k = tab.order[tab.pick(pick_words[rows])]
        out[rows] = 1000 + ((start[j] + k) * ASN_STRIDE) % 399_000
    return out


def place_edges(rng, ipol, cells, demands, ip_type, ip_country, ip_owner, pop, expect):
    """Resolve each demand to an IP: fixed IPs by owner (overflow of a full FIXED_HOME to the
    household's second IP), pool IPs by CAPPED_MULTINOMIAL over the pool's popularity."""
    d, ty, role, key = demands
    ip = np.full(d.size, -1, np.int64)
    # fixed: household → its first / second FIXED_HOME (devices beyond the cap, last first)
    fixed_rows = np.flatnonzero(ty == FIXED)
    first_home = np.flatnonzero(ip_type == FIXED)
    hh_of_ip = ip_owner[first_home]
    o = np.lexsort((first_home, hh_of_ip))
    first_home, hh_of_ip = first_home[o], hh_of_ip[o]
    lo = find_sorted(hh_of_ip, key[fixed_rows])
    n_ips = find_sorted(hh_of_ip, key[fixed_rows], "right") - lo
    fo = np.lexsort((d[fixed_rows], key[fixed_rows]))
    rank = np.empty(fixed_rows.size, np.int64)
    rank[fo] = base.rank_within(key[fixed_rows][fo])
    cap = ipol["max_devices_per_ip"]["FIXED_HOME"]
    which = np.where((rank >= cap) & (n_ips > 1), 1, 0)
    ip[fixed_rows] = first_home[lo + which]
    # corporate NAT: device k of a business party → NAT k mod n
    corp_rows = np.flatnonzero(ty == CORP)
    nats = np.flatnonzero(ip_type == CORP)
    nat_owner = ip_owner[nats]
    lo = find_sorted(nat_owner, key[corp_rows])
    n_nat = find_sorted(nat_owner, key[corp_rows], "right") - lo
    co = np.lexsort((d[corp_rows], key[corp_rows]))
    crank = np.empty(corp_rows.size, np.int64)
    crank[co] = base.rank_within(key[corp_rows][co])
    ip[corp_rows] = nats[lo + crank % np.maximum(n_nat, 1)]
    # merchant networks: the site's IP
    m_rows = np.flatnonzero(ty == MNET)
    mnets = np.flatnonzero(ip_type == MNET)
    ip[m_rows] = mnets[np.searchsorted(ip_owner[mnets], key[m_rows])]
    # pools
    caps = ipol["max_devices_per_ip"]
    pick = rng.family("ip_pick")
    for t in (CGNAT, WIFI, VPN, DC, TOR):
        rows = np.flatnonzero(ty == t)
        rows = rows[np.lexsort((d[rows], key[rows]))]
        groups, gstart, gcnt = np.unique(key[rows], return_index=True, return_counts=True)
        # the type's IPs by country (row order kept inside a country): a slice per pool
        of_t = np.flatnonzero(ip_type == t)
        by_c = of_t[np.argsort(ip_country[of_t], kind="stable")]
        c_sorted = ip_country[by_c]
        for c, a, m in zip(groups.tolist(), gstart.tolist(), gcnt.tolist(), strict=True):
            er = rows[a : a + m]
            pool = (
                by_c[np.searchsorted(c_sorted, c) : np.searchsorted(c_sorted, c, "right")]
                if c >= 0
                else of_t
            )
            dk = f"{IP_TYPES[t]}|{cells.countries[c] if c >= 0 else 'GLOBAL'}"
            stream = pick.stream(dk)
            _, big_n, owner = capped_multinomial(
                er.size,
                pop[pool],
                np.full(pool.size, caps[IP_TYPES[t]]),
                None,
                False,
                stream,
                state=STATE,
                where=dk,
                units=True,
            )
            pick.trace(stream, blocks=2 * big_n + pool.size, draws=4 * big_n + 2 * pool.size)
            base.count(expect, "6A.S4.ip_pick", 1, 4 * big_n + 2 * pool.size)
            ip[er] = pool[owner]
    # the first rule that creates a (device, ip) pair owns it
    pair = d.astype(np.int64) * (1 << 32) + ip
    _, first = np.unique(pair, return_index=True)
    keep = np.zeros(d.size, bool)
    keep[first] = True
    return d[keep], ip[keep], role[keep]
