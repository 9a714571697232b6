"""6B.S1 tables (layer3 §4.2 step 1), built once per scenario from the 6A entity graph
(never its S5 roles: the legit world is role-blind) and the layer-1 merchant side.

Every table is integer-coded arrays: parties, instruments, devices, IPs and sites by row in
their id order, countries/regions/segments/zones by code. Party picks are ALIAS tables over
*carded* parties only (a party with an instrument eligible for the channel), so every drawn
payer can pay: LOCAL per (country, home cell, type) and DOMESTIC per (country, type) on
``activity_cp``, CNP per (country, type) on ``activity_cnp``, cross-border origins per
(merchant region, type) weighted ``affinity[r_origin][r_merchant] · Σ activity_cnp``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from engine_core.errors import EngineError
from engine_core.kernels.csr import Csr, csr
from engine_core.kernels.lookup import find_sorted
from engine_core.segments.columns import codes_of
from engine_core.segments.seg_6B.s1_params import INSTRUMENT_TYPES, Params

PARTY_TYPES = ("RETAIL", "BUSINESS")
ECOM_DEVICES = ("SMARTPHONE", "LAPTOP", "DESKTOP", "TABLET", "PUBLIC_TERMINAL")
IP_ROLES = ("TYPICAL_DEVICE_IP", "SECONDARY_DEVICE_IP", "PROXY_EXIT")
TRIP_POOLS = ("PUBLIC_WIFI", "MOBILE_CGNAT")
WALLET = INSTRUMENT_TYPES.index("WALLET_TOKEN")
PREPAID = INSTRUMENT_TYPES.index("PREPAID_CARD")
HANDLE = INSTRUMENT_TYPES.index("TRANSFER_HANDLE")


def _np(t: pa.Table, c: str) -> np.ndarray:
    return t.column(c).to_numpy()


@dataclass
class Parties:
    id: np.ndarray  # uint64, sorted
    ptype: np.ndarray  # 0 RETAIL, 1 BUSINESS
    seg: np.ndarray  # code into segments
    country: np.ndarray  # code into countries
    cell: np.ndarray  # home_cell_id
    tz: np.ndarray  # code into the tz cache's zones
    act_cp: np.ndarray
    act_cnp: np.ndarray
    travel: np.ndarray


@dataclass
class Instruments:
    id: np.ndarray  # uint64, sorted
    type: np.ndarray  # code into INSTRUMENT_TYPES
    account: np.ndarray  # account row
    holder: np.ndarray  # party row
    bound: np.ndarray  # TOKEN_BINDING device row (tokens) else -1
    cof: Csr  # instrument row -> CARD_ON_FILE device rows
    cp: Csr  # party row -> CP-eligible instrument rows (type_pref[CP] · usage_weight)
    cnp: Csr  # party row -> CNP-eligible instrument rows


@dataclass
class Devices:
    id: np.ndarray  # uint64 (S4 devices), sorted
    of_party: Csr  # party row -> own/shared ecom devices (device_pref)
    ips: Csr  # device row -> IP rows (ip_role_pref)
    terminals: Csr  # site row -> terminal device rows (uniform)
    ip_id: np.ndarray  # uint64 IP ids, sorted
    trip_pool: Csr  # country code -> PUBLIC_WIFI ∪ MOBILE_CGNAT IPs (popularity)


def parties(io, countries, segments, tzids) -> Parties:
    t = io.read_table(
        "s1_party_base_6A",
        [
            "party_id",
            "party_type",
            "segment_id",
            "country_iso",
            "home_cell_id",
            "home_tzid",
            "activity_cp",
            "activity_cnp",
            "travel_propensity",
        ],
    )
    tz = codes_of(t.column("home_tzid"), list(tzids), missing=-1)
    if (tz < 0).any():
        bad = t.column("home_tzid")[int(np.argmin(tz))]
        raise EngineError(
            "TZ_LOOKUP_FAILED", "6B.S1", f"s1_party_base_6A: home_tzid {bad} is not in the tz cache"
        )
    return Parties(
        id=_np(t, "party_id"),
        ptype=codes_of(t.column("party_type"), list(PARTY_TYPES)),
        seg=codes_of(t.column("segment_id"), list(segments)),
        country=codes_of(t.column("country_iso"), list(countries)),
        cell=_np(t, "home_cell_id").astype(np.int64),
        tz=tz,
        act_cp=_np(t, "activity_cp").astype(np.float64),
        act_cnp=_np(t, "activity_cnp").astype(np.float64),
        travel=_np(t, "travel_propensity").astype(np.float64),
    )


def instruments(io, p: Parties, par: Params, dev_ids: np.ndarray, account_ids) -> Instruments:
    t = io.read_table(
        "s3_instrument_base_6A",
        ["instrument_id", "instrument_type", "account_id", "holder_party_id", "usage_weight"],
    )
    iid = _np(t, "instrument_id")
    itype = codes_of(t.column("instrument_type"), list(INSTRUMENT_TYPES))
    holder = find_sorted(p.id, _np(t, "holder_party_id"))
    usage = _np(t, "usage_weight").astype(np.float64)
    links = io.read_table("s4_device_links_6A", ["device_id", "link_role", "instrument_id"])
    role = codes_of(links.column("link_role"), ["CARD_ON_FILE", "TOKEN_BINDING"], missing=-1)
    inst = links.column("instrument_id").fill_null(0).to_numpy()
    dev = find_sorted(dev_ids, _np(links, "device_id"))
    cof = role == 0
    bound = np.full(iid.size, -1, np.int64)
    tb = role == 1
    bound[find_sorted(iid, inst[tb])] = dev[tb]
    rows = np.arange(iid.size)
    cp_w = par.type_pref[0][itype] * usage
    cnp_w = par.type_pref[1][itype] * usage
    return Instruments(
        id=iid,
        type=itype,
        account=find_sorted(account_ids, _np(t, "account_id")),
        holder=holder,
        bound=bound,
        cof=csr(find_sorted(iid, inst[cof]), iid.size, dev[cof], key=dev_ids[dev[cof]]),
        cp=csr(holder, p.id.size, rows, key=iid, weights=cp_w, state="6B.S1", what="CP cards"),
        cnp=csr(holder, p.id.size, rows, key=iid, weights=cnp_w, state="6B.S1", what="CNP cards"),
    )


def devices(io, p: Parties, att: dict, site_ids: np.ndarray, countries) -> Devices:
    base = io.read_table("s4_device_base_6A", ["device_id", "device_type", "site_id"])
    did = _np(base, "device_id")
    dtype = codes_of(base.column("device_type"), list(ECOM_DEVICES), missing=-1)
    pref = np.r_[[float(att["device_pref"].get(d, 0.0)) for d in ECOM_DEVICES], 0.0]
    links = io.read_table("s4_device_links_6A", ["device_id", "link_role", "party_id", "site_id"])
    role = codes_of(
        links.column("link_role"), ["PRIMARY_OWNER", "SHARED_USER", "MERCHANT_TERMINAL"], missing=-1
    )
    dev = find_sorted(did, _np(links, "device_id"))
    use = role <= 1
    use &= role >= 0
    party = find_sorted(p.id, links.column("party_id").fill_null(0).to_numpy()[use])
    of_party = csr(
        party,
        p.id.size,
        dev[use],
        key=did[dev[use]],
        weights=pref[dtype[dev[use]]],
        state="6B.S1",
        what="party devices",
    )
    term = role == 2
    site = find_sorted(site_ids, links.column("site_id").fill_null(0).to_numpy()[term])
    terminals = csr(site, site_ids.size, dev[term], key=did[dev[term]])
    ipb = io.read_table("s4_ip_base_6A", ["ip_id", "ip_type", "ip_country_iso", "popularity"])
    ip_id = _np(ipb, "ip_id")
    ipl = io.read_table("s4_ip_links_6A", ["device_id", "ip_id", "link_role"])
    irole = codes_of(ipl.column("link_role"), list(IP_ROLES), missing=-1)
    rpref = np.r_[[float(att["ip_role_pref"][r]) for r in IP_ROLES], 0.0]
    ip_rows = find_sorted(ip_id, _np(ipl, "ip_id"))
    ips = csr(
        find_sorted(did, _np(ipl, "device_id")),
        did.size,
        ip_rows,
        key=ip_id[ip_rows],
        weights=rpref[irole],
        state="6B.S1",
        what="device IPs",
    )
    pool = codes_of(ipb.column("ip_type"), list(TRIP_POOLS), missing=-1) >= 0
    ipc = codes_of(ipb.column("ip_country_iso"), list(countries), missing=-1)
    pool &= ipc >= 0
    trip_pool = csr(
        ipc[pool],
        len(countries),
        np.flatnonzero(pool),
        key=ip_id[pool],
        weights=_np(ipb, "popularity").astype(np.float64)[pool],
        state="6B.S1",
        what="trip IPs",
    )
    return Devices(did, of_party, ips, terminals, ip_id, trip_pool)


@dataclass
class Routes:
    local_key: np.ndarray  # sorted int64 (cell·C + country)·2 + type of each LOCAL group
    local: Csr  # LOCAL group -> party rows (activity_cp)
    domestic_cp: Csr  # country·2 + type -> party rows (activity_cp)
    domestic_cnp: Csr  # country·2 + type -> party rows (activity_cnp)
    residents: np.ndarray  # R: Σ activity_cp of CP-carded residents per country·2 + type
    cross_border: Csr  # region·2 + type -> origin country codes


def routes(p: Parties, inst: Instruments, region_of, affinity, n_countries: int) -> Routes:
    cp_ok = inst.cp.sizes() > 0
    cnp_ok = inst.cnp.sizes() > 0
    rows = np.arange(p.id.size)
    ct = p.country * 2 + p.ptype
    lk = (p.cell * n_countries + p.country) * 2 + p.ptype
    keys, group = np.unique(lk[cp_ok], return_inverse=True)
    local = csr(group, keys.size, rows[cp_ok], key=p.id[cp_ok], weights=p.act_cp[cp_ok])
    n_ct = n_countries * 2
    dom_cp = csr(ct[cp_ok], n_ct, rows[cp_ok], key=p.id[cp_ok], weights=p.act_cp[cp_ok])
    dom_cnp = csr(ct[cnp_ok], n_ct, rows[cnp_ok], key=p.id[cnp_ok], weights=p.act_cnp[cnp_ok])
    residents = np.bincount(ct[cp_ok], weights=p.act_cp[cp_ok], minlength=n_ct)
    cnp_mass = np.bincount(ct[cnp_ok], weights=p.act_cnp[cnp_ok], minlength=n_ct)
    region_of = np.asarray(region_of, np.int64)
    n_reg = affinity.shape[0]
    # group (merchant region r, type t) over origin countries o: affinity[r_o][r] · mass(o, t)
    r = np.repeat(np.arange(n_reg), n_countries * 2)
    o = np.tile(np.repeat(np.arange(n_countries), 2), n_reg)
    t = np.tile(np.arange(2), n_reg * n_countries)
    w = affinity[region_of[o], r] * cnp_mass[o * 2 + t]
    xb = csr(r * 2 + t, n_reg * 2, o, weights=w, state="6B.S1", what="cross-border origins")
    return Routes(keys, local, dom_cp, dom_cnp, residents, xb)


def local_group(rt: Routes, cell, country, n_countries: int) -> np.ndarray:
    """``(n, 2)`` LOCAL group per site and party type (−1: no carded resident there)."""
    out = np.full((np.asarray(cell).size, 2), -1, np.int64)
    for t in (0, 1):
        k = (np.asarray(cell, np.int64) * n_countries + np.asarray(country, np.int64)) * 2 + t
        pos = np.searchsorted(rt.local_key, k)
        hit = pos < rt.local_key.size
        hit[hit] = rt.local_key[pos[hit]] == k[hit]
        out[hit, t] = pos[hit]
    return out
