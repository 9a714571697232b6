"""6B.S2 world: the S1 tables (rebuilt from the same sealed inputs and the same S1 streams —
a replay, not traced again, so S2 prices and clocks rows exactly as S1 did) plus the 6A fraud
posture the campaigns draw on: rings with their operator devices, IPs and mule accounts, the
cards of every account, credit limits, skimming points and collusive merchants, the edges
of every virtual merchant and the legit hourly cells conversions draw from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine_core.kernels.csr import Csr, csr
from engine_core.kernels.lookup import find_sorted
from engine_core.rng.units import StateRng
from engine_core.segments.columns import codes_of
from engine_core.segments.seg_6B import s1_rows, s1_world
from engine_core.segments.seg_6B import s1_tables as T
from engine_core.segments.seg_6B.families import FAMILIES

STATE = "6B.S2"
CARD_TYPES = (
    T.INSTRUMENT_TYPES.index("DEBIT_CARD"),
    T.INSTRUMENT_TYPES.index("CREDIT_CARD"),
    T.INSTRUMENT_TYPES.index("PREPAID_CARD"),
)
CREDIT = T.INSTRUMENT_TYPES.index("CREDIT_CARD")
DEBIT = T.INSTRUMENT_TYPES.index("DEBIT_CARD")


@dataclass
class Fraud:
    ring_id: np.ndarray  # sorted
    ring_size: np.ndarray  # n_mules (ring weight: ALIAS on ring size)
    ring_country: np.ndarray  # country code
    ring_devices: Csr  # ring row -> operator device rows (into op_device_id)
    op_device_id: np.ndarray  # sorted operator device ids (uint64)
    ring_ips: Csr  # ring row -> IP rows
    op_ips: Csr  # operator device row -> its IP rows (weighted by the S1 ip_role_pref law)
    ring_mules: Csr  # ring row -> MULE_ACCOUNT account rows
    ring_cards: Csr  # ring row -> MULE/SYNTHETIC card rows of the ring's parties
    account_cards: Csr  # account row -> card instrument rows (id order)
    limit_usd: np.ndarray  # per account: credit limit in USD (0: none)
    compromised_device: Csr  # party row -> its COMPROMISED_DEVICE rows
    skim_site: np.ndarray  # site rows of SKIMMING_POINT sites (sorted)
    collusive_site: dict  # merchant row -> its registered site row
    m_edges: Csr  # merchant row -> edge rows (weighted by edge_weight)
    edge_id: np.ndarray
    m_virtual: np.ndarray  # bool per merchant row
    m_volume: np.ndarray  # legit rows per merchant (from the hourly cells)
    s_merchant: np.ndarray  # merchant row per site row
    s_tz: np.ndarray  # zone code per site row


@dataclass
class S2World:
    w: s1_world.World
    rows: s1_rows.Rows
    fraud: Fraud
    cells: dict  # the hourly cells as arrays (merchant row, country, hour, channel, n_conv)


def build(io, ctx, pols: dict, h0: int, h_end: int, cache) -> S2World:
    replay = StateRng(ctx, "6B.S1", FAMILIES, "fw.l3.v1")  # S1's streams, ledger discarded
    w = s1_world.build(io, ctx, replay, pols, h0, h_end, list(cache.tzids))
    rows = s1_rows.Rows(ctx, w, cache, pols, io)
    cells = _cells(io, w, rows)
    fraud = _fraud(io, w, rows, cells, list(cache.tzids), pols["attachment_6B"]["ip_role_pref"])
    return S2World(w, rows, fraud, cells)


def _cells(io, w, rows) -> dict:
    t = io.read_table("s1_hourly_cells_6B")
    return {
        "m": find_sorted(w.m_id, t.column("merchant_id").to_numpy()),
        "country": codes_of(t.column("country_iso"), w.countries),
        "hour": t.column("hour_index").to_numpy().astype(np.int64),
        "channel": codes_of(t.column("channel"), ["CP", "CNP"]),
        "n_rows": t.column("n_rows").to_numpy().astype(np.int64),
        "n_conv": t.column("n_convertible").to_numpy().astype(np.int64),
        "n_hours": rows.n_hours,
    }


def _roles(io, table, col, role, extra=()):
    t = io.read_table(table, [col, "fraud_role", *extra])
    keep = codes_of(t.column("fraud_role"), [role], missing=-1) == 0
    return t.filter(pa.array(keep))


def _fraud(io, w, rows, cells, tzids, pols_ip_role_pref) -> Fraud:
    inst, acc, parties = w.inst, w.accounts, w.parties
    rings = io.read_table("s5_fraud_rings_6A", ["ring_id", "home_country_iso", "n_mules"])
    r_id = rings.column("ring_id").to_numpy()
    o = np.argsort(r_id)
    r_id = r_id[o]
    r_country = codes_of(rings.column("home_country_iso"), w.countries, missing=-1)[o]
    r_size = rings.column("n_mules").to_numpy().astype(np.float64)[o]
    n_r = r_id.size
    # operator devices and ring IPs (ring links), in id order inside each ring
    rdl = io.read_table("s5_ring_device_links_6A", ["device_id", "party_id"])
    ops = io.read_table("s5_operator_devices_6A", ["device_id"]).column(0).to_numpy()
    ops = np.sort(ops)
    ring_of_dev = _ring_of(io, "s5_device_roles_6A", "device_id", r_id)
    dev_ids = rdl.column("device_id").to_numpy()
    dev_ids = np.unique(np.concatenate([dev_ids, ops]))
    dring = ring_of_dev(dev_ids)
    keep = (dring >= 0) & np.isin(dev_ids, ops)
    ring_devices = csr(dring[keep], n_r, np.searchsorted(ops, dev_ids[keep]))
    ril = io.read_table("s5_ring_ip_links_6A", ["ip_id", "device_id", "link_role"])
    ip_row = find_sorted(w.dev.ip_id, ril.column("ip_id").to_numpy())
    ip_dev = ril.column("device_id").to_numpy()
    ip_ring = ring_of_dev(ip_dev)
    pairs = np.unique(np.stack([ip_ring, ip_row])[:, ip_ring >= 0], axis=1)
    ring_ips = csr(pairs[0], n_r, pairs[1])
    # an operator device reaches its IPs by the legit device law (mostly its typical IP,
    # sometimes a proxy exit): TOR/VPN exits stay a minority of fraud traffic, as in S1
    pref = pols_ip_role_pref
    roles = list(pref)
    w_role = np.array([float(pref[r]) for r in roles] + [0.0])
    role = codes_of(ril.column("link_role"), roles, missing=len(roles))
    is_op = np.isin(ip_dev, ops)
    op_row = np.searchsorted(ops, ip_dev[is_op])
    op_ips = csr(
        op_row,
        ops.size,
        ip_row[is_op],
        key=w.dev.ip_id[ip_row[is_op]],
        weights=w_role[role[is_op]],
        state=STATE,
        what="operator device IPs",
    )
    # mule accounts per ring
    mule = _roles(io, "s5_account_roles_6A", "account_id", "MULE_ACCOUNT", ("ring_id",))
    m_acc = find_sorted(acc["id"], mule.column("account_id").to_numpy())
    m_rid = mule.column("ring_id").fill_null(0).to_numpy()
    m_ring = np.minimum(np.searchsorted(r_id, m_rid), max(n_r - 1, 0))
    ok = (n_r > 0) & (r_id[m_ring] == m_rid) if n_r else np.zeros(m_rid.size, bool)
    ring_mules = csr(m_ring[ok], n_r, m_acc[ok], key=acc["id"][m_acc[ok]])
    # cards of accounts, limits
    is_card = np.isin(inst.type, CARD_TYPES)
    rows_c = np.flatnonzero(is_card)
    account_cards = csr(inst.account[rows_c], acc["id"].size, rows_c, key=inst.id[rows_c])
    lim = io.read_table("s2_account_base_6A", ["account_id", "credit_limit_minor", "currency"])
    lim_minor = lim.column("credit_limit_minor").fill_null(0).to_numpy().astype(np.float64)
    cur = codes_of(lim.column("currency").cast(pa.string()), rows.currencies)
    limit_usd = lim_minor / rows.exp10[cur] * rows.usd[cur]
    # ring cards: MULE_CARD / SYNTHETIC_CARD instruments of the ring's parties
    pr = io.read_table("s5_party_roles_6A", ["party_id", "ring_id"])
    p_row = find_sorted(parties.id, pr.column("party_id").to_numpy())
    pring = np.full(parties.id.size, -1, np.int64)
    rid = pr.column("ring_id").fill_null(0).to_numpy()
    pos = np.minimum(np.searchsorted(r_id, rid), max(n_r - 1, 0))
    hit = (n_r > 0) & (r_id[pos] == rid) if n_r else np.zeros(rid.size, bool)
    pring[p_row[hit]] = pos[hit]
    ir = _roles(io, "s5_instrument_roles_6A", "instrument_id", "MULE_CARD")
    ir2 = _roles(io, "s5_instrument_roles_6A", "instrument_id", "SYNTHETIC_CARD")
    rc = find_sorted(inst.id, np.concatenate([ir.column(0).to_numpy(), ir2.column(0).to_numpy()]))
    rc = np.unique(rc)
    rc_ring = pring[inst.holder[rc]]
    ring_cards = csr(rc_ring[rc_ring >= 0], n_r, rc[rc_ring >= 0], key=inst.id[rc[rc_ring >= 0]])
    # compromised devices by their primary party
    cd = _roles(io, "s5_device_roles_6A", "device_id", "COMPROMISED_DEVICE")
    cd_row = find_sorted(w.dev.id, cd.column("device_id").to_numpy(), side="left")
    base = io.read_table("s4_device_base_6A", ["device_id", "primary_party_id"])
    owner = base.column("primary_party_id").fill_null(0).to_numpy()
    b_row = find_sorted(w.dev.id, base.column("device_id").to_numpy())
    own = np.full(w.dev.id.size, 0, np.uint64)
    own[b_row] = owner
    cd_party = np.searchsorted(parties.id, own[cd_row])
    okp = (cd_party < parties.id.size) & (own[cd_row] != 0)
    compromised = csr(cd_party[okp], parties.id.size, cd_row[okp], key=w.dev.id[cd_row[okp]])
    # merchant roles
    mr = io.read_table("s5_merchant_roles_6A", ["merchant_id", "site_id", "fraud_role"])
    role = codes_of(mr.column("fraud_role"), ["COLLUSIVE_MERCHANT", "SKIMMING_POINT"], missing=-1)
    sites = mr.column("site_id").fill_null(0).to_numpy()
    skim = np.unique(find_sorted(w.s_id, sites[role == 1]))
    col_m = find_sorted(w.m_id, mr.column("merchant_id").to_numpy()[role == 0])
    col_s = sites[role == 0]
    st = io.read_table("site_timezones", ["site_id", "merchant_id", "tzid"])
    s_row = find_sorted(w.s_id, st.column("site_id").to_numpy())
    s_merchant = np.zeros(w.s_id.size, np.int64)
    s_merchant[s_row] = find_sorted(w.m_id, st.column("merchant_id").to_numpy())
    s_tz = np.zeros(w.s_id.size, np.int64)
    s_tz[s_row] = codes_of(st.column("tzid"), tzids)
    collusive = {}
    for m, s in zip(col_m.tolist(), col_s.tolist(), strict=True):  # tens of merchants
        if s:
            collusive[m] = int(find_sorted(w.s_id, np.array([s], np.uint64))[0])
        else:  # the merchant's first site in id order
            own_sites = np.flatnonzero(s_merchant == m)
            collusive[m] = int(own_sites[0]) if own_sites.size else -1
    # edges of virtual merchants, merchant channel and legit volume
    ec = io.read_table("edge_catalogue_3B", ["merchant_id", "edge_id", "edge_weight"])
    e_m = find_sorted(w.m_id, ec.column("merchant_id").to_numpy())
    e_id = ec.column("edge_id").to_numpy()
    m_edges = csr(
        e_m,
        w.m_id.size,
        np.arange(e_id.size),
        key=e_id,
        weights=ec.column("edge_weight").to_numpy().astype(np.float64),
        state=STATE,
        what="merchant edges",
    )
    vc = io.read_table("virtual_classification_3B", ["merchant_id", "is_virtual"])
    virt = np.zeros(w.m_id.size, bool)
    virt[find_sorted(w.m_id, vc.column(0).to_numpy())] = vc.column(1).to_numpy(zero_copy_only=False)
    vol = np.bincount(cells["m"], cells["n_rows"], w.m_id.size)
    return Fraud(
        r_id,
        r_size,
        r_country,
        ring_devices,
        ops,
        ring_ips,
        op_ips,
        ring_mules,
        ring_cards,
        account_cards,
        limit_usd,
        compromised,
        skim,
        collusive,
        m_edges,
        e_id,
        virt,
        vol,
        s_merchant,
        s_tz,
    )


def _ring_of(io, table, col, r_id):
    """id → ring row (−1: none) from a role table's ``ring_id``."""
    t = io.read_table(table, [col, "ring_id"])
    ids = t.column(0).to_numpy()
    rid = pc.fill_null(t.column(1), 0).to_numpy()
    o = np.argsort(ids)
    ids, rid = ids[o], rid[o]

    def of(q):
        q = np.asarray(q, np.uint64)
        if ids.size == 0 or r_id.size == 0:
            return np.full(q.size, -1, np.int64)
        pos = np.minimum(np.searchsorted(ids, q), ids.size - 1)
        r = rid[pos]
        rp = np.minimum(np.searchsorted(r_id, r), r_id.size - 1)
        return np.where((ids[pos] == q) & (r != 0) & (r_id[rp] == r), rp, -1)

    return of
