"""6A.S5 output tables: the role tables, the rings with their operator devices and links,
and the bundle's ``metrics_6A.parquet`` (layer3 §3.6 outputs)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from engine_core.segments.common import metrics_parquet
from engine_core.segments.seg_6A import base

# party roles as int8 codes (no string per party or account)
CLEAN, MULE, SYNTH = 0, 1, 2


@dataclass(frozen=True)
class Roles:
    """Everything the role tables are written from (rows index the S1–S4 tables)."""

    party_role: np.ndarray  # per party: CLEAN, MULE or SYNTH (int8)
    party_ring: np.ndarray  # per party: ring ordinal or −1
    ring_id: np.ndarray
    a_id: np.ndarray
    a_owner: np.ndarray
    owner_role: np.ndarray  # per account: its owner's role
    inherited_acc: np.ndarray
    comp_acc: np.ndarray
    i_id: np.ndarray
    i_acc: np.ndarray
    inherited_card: np.ndarray
    breach: np.ndarray
    skim: np.ndarray
    d_id: np.ndarray
    comp_dev: np.ndarray
    op_id: np.ndarray
    op: dict
    ip_tab: object
    fraud_ips: np.ndarray
    merchant_rows: np.ndarray
    site_rows: np.ndarray


def write_roles(io, p, r: Roles):
    def ring_col(x):
        return base.nullable_u64(r.ring_id[np.maximum(x, 0)] if r.ring_id.size else x * 0, x >= 0)

    rp = np.flatnonzero(r.party_role != CLEAN)
    base.write_sorted(
        io,
        "s5_party_roles_6A",
        pa.table(
            {
                "party_id": p["id"][rp],
                "fraud_role": base.coded(
                    np.where(r.party_role[rp] == MULE, 0, 1), ["MULE", "SYNTHETIC_IDENTITY"]
                ),
                "ring_id": ring_col(r.party_ring[rp]),
            }
        ),
        p["id"][rp],
    )
    acc_rows = np.r_[r.inherited_acc, r.comp_acc]
    a_role = np.r_[
        np.where(r.owner_role[r.inherited_acc] == MULE, 0, 1), np.full(r.comp_acc.size, 2)
    ]
    base.write_sorted(
        io,
        "s5_account_roles_6A",
        pa.table(
            {
                "account_id": r.a_id[acc_rows],
                "fraud_role": base.coded(
                    a_role, ["MULE_ACCOUNT", "SYNTHETIC_ACCOUNT", "COMPROMISED_ACCOUNT"]
                ),
                "role_source": base.coded(
                    np.r_[np.ones(r.inherited_acc.size, int), np.zeros(r.comp_acc.size, int)],
                    ["ASSIGNED", "INHERITED"],
                ),
                "ring_id": ring_col(
                    np.r_[
                        np.where(
                            r.owner_role[r.inherited_acc] == MULE,
                            r.party_ring[r.a_owner[r.inherited_acc]],
                            -1,
                        ),
                        np.full(r.comp_acc.size, -1),
                    ]
                ),
            }
        ),
        r.a_id[acc_rows],
    )
    ins = np.r_[r.inherited_card, r.breach, r.skim]
    i_role = np.r_[
        np.where(r.owner_role[r.i_acc[r.inherited_card]] == MULE, 1, 2),
        np.zeros(r.breach.size + r.skim.size, int),
    ]
    chan = np.r_[
        np.full(r.inherited_card.size, -1), np.zeros(r.breach.size, int), np.ones(r.skim.size, int)
    ]
    base.write_sorted(
        io,
        "s5_instrument_roles_6A",
        pa.table(
            {
                "instrument_id": r.i_id[ins],
                "fraud_role": base.coded(
                    i_role, ["COMPROMISED_CARD", "MULE_CARD", "SYNTHETIC_CARD"]
                ),
                "exposure_channel": pa.DictionaryArray.from_arrays(
                    pa.array(chan.astype(np.int32), mask=chan < 0),
                    pa.array(["DATA_BREACH", "SKIMMING"]),
                ),
                "role_source": base.coded(
                    np.r_[
                        np.ones(r.inherited_card.size, int),
                        np.zeros(r.breach.size + r.skim.size, int),
                    ],
                    ["ASSIGNED", "INHERITED"],
                ),
            }
        ),
        r.i_id[ins],
    )
    dev_ids = np.r_[r.d_id[r.comp_dev], r.op_id]
    base.write_sorted(
        io,
        "s5_device_roles_6A",
        pa.table(
            {
                "device_id": dev_ids,
                "fraud_role": base.coded(
                    np.r_[np.zeros(r.comp_dev.size, int), np.ones(r.op_id.size, int)],
                    ["COMPROMISED_DEVICE", "FRAUDSTER_CONTROLLED"],
                ),
                "ring_id": ring_col(np.r_[np.full(r.comp_dev.size, -1), r.op["ring"]]),
            }
        ),
        dev_ids,
    )
    base.write_sorted(
        io,
        "s5_ip_roles_6A",
        pa.table(
            {
                "ip_id": r.ip_tab["id"][r.fraud_ips],
                "fraud_role": base.coded(np.zeros(r.fraud_ips.size, int), ["FRAUDSTER_IP"]),
            }
        ),
        r.ip_tab["id"][r.fraud_ips],
    )
    sites, roles = r.site_rows
    vocab = ["COLLUSIVE_MERCHANT", "SKIMMING_POINT"]
    rc = base.codes_of(pa.array(np.asarray(roles, dtype=object), pa.string()), vocab)
    base.write_sorted(
        io,
        "s5_merchant_roles_6A",
        pa.table(
            {
                "merchant_id": r.merchant_rows,
                "site_id": sites,
                "fraud_role": base.coded(rc, vocab),
            }
        ),
        r.merchant_rows,
        second=(rc, sites),
    )


@dataclass(frozen=True)
class Rings:
    """Rings and their operator infrastructure (rows index the rings / operator devices)."""

    ring_id: np.ndarray
    ring_region: np.ndarray  # code into ``regions``
    regions: list
    home: list  # modal mule country per ring
    n_mules: np.ndarray
    op: dict  # operator devices: ring, type, os, age, first_seen
    ring_ips: list  # per ring: rows of the FRAUDSTER_IP pool
    op_id: np.ndarray
    op_edges: dict  # operator device → IP edges: dev, ip, role
    acc_dev: np.ndarray  # operator ACCOUNT_ACCESS: operator device rows …
    acc_acc: np.ndarray  # … and account rows


def write_rings(io, g: Rings, a_id: np.ndarray, ip_tab: dict) -> None:
    ring_id, ring_region, regions, home = g.ring_id, g.ring_region, g.regions, g.home
    n_mules, op, ring_ips, op_id = g.n_mules, g.op, g.ring_ips, g.op_id
    op_edges, acc_dev, acc_acc = g.op_edges, g.acc_dev, g.acc_acc
    from engine_core.segments.seg_6A.s4_devices import DEVICE_TYPES, LINK_ROLES, OS, OS_AGE
    from engine_core.segments.seg_6A.s4_network import IP_ROLES

    n_ops = (
        np.bincount(op["ring"], minlength=ring_id.size)
        if op["ring"].size
        else np.zeros(ring_id.size, np.int64)
    )
    countries = sorted(set(home))
    base.write_sorted(
        io,
        "s5_fraud_rings_6A",
        pa.table(
            {
                "ring_id": ring_id,
                "home_region_id": base.coded(ring_region, regions),
                "home_country_iso": base.coded(
                    np.array([countries.index(c) for c in home], np.int64), countries or [""]
                ),
                "n_mules": pa.array(n_mules.astype(np.uint32)),
                "n_operator_devices": pa.array(n_ops.astype(np.uint16)),
                "n_ips": pa.array(np.array([x.size for x in ring_ips], np.uint16)),
            }
        ),
        ring_id,
    )
    n = op_id.size
    ring = op["ring"].astype(np.int64)
    hc = np.array([countries.index(home[r]) for r in ring.tolist()], np.int64)
    null = np.zeros(n, np.uint64)
    base.write_sorted(
        io,
        "s5_operator_devices_6A",
        pa.table(
            {
                "device_id": op_id,
                "device_type": base.coded(
                    np.array([DEVICE_TYPES.index(t) for t in op["type"]], np.int64),
                    list(DEVICE_TYPES),
                ),
                "os_family": base.coded(
                    np.array([OS.index(o) for o in op["os"]], np.int64), list(OS)
                ),
                "os_version_age": base.coded(
                    np.array([OS_AGE.index(a) for a in op["age"]], np.int64), list(OS_AGE)
                ),
                "owner_kind": base.coded(
                    np.full(n, 3), ["PARTY", "PUBLIC", "MERCHANT", "OPERATOR"]
                ),
                "primary_party_id": base.nullable_u64(null, np.zeros(n, bool)),
                "merchant_id": base.nullable_u64(null, np.zeros(n, bool)),
                "site_id": base.nullable_u64(null, np.zeros(n, bool)),
                "home_country_iso": base.coded(hc, countries or [""]),
                "home_region_id": base.coded(ring_region[ring], regions),
                "first_seen_date": base.dates(op["first_seen"]),
            }
        ),
        op_id,
    )
    m = acc_dev.size
    zero = np.zeros(m, np.uint64)
    base.write_sorted(
        io,
        "s5_ring_device_links_6A",
        pa.table(
            {
                "device_id": op_id[acc_dev],
                "link_role": base.coded(
                    np.full(m, LINK_ROLES.index("ACCOUNT_ACCESS")), list(LINK_ROLES)
                ),
                "party_id": base.nullable_u64(zero, np.zeros(m, bool)),
                "account_id": a_id[acc_acc],
                "instrument_id": base.nullable_u64(zero, np.zeros(m, bool)),
                "merchant_id": base.nullable_u64(zero, np.zeros(m, bool)),
                "site_id": base.nullable_u64(zero, np.zeros(m, bool)),
            }
        ),
        op_id[acc_dev],
        second=(np.zeros(m, np.int64), a_id[acc_acc]),
    )
    e = op_edges["dev"].size
    ip_ids = ip_tab["id"][op_edges["ip"]]
    base.write_sorted(
        io,
        "s5_ring_ip_links_6A",
        pa.table(
            {
                "device_id": op_id[op_edges["dev"]],
                "ip_id": ip_ids,
                "party_id": base.nullable_u64(np.zeros(e, np.uint64), np.zeros(e, bool)),
                "link_role": base.coded(op_edges["role"], list(IP_ROLES)),
            }
        ),
        op_id[op_edges["dev"]],
        second=(ip_ids,),
    )


def metrics(rows) -> dict[str, bytes]:
    """``metrics_6A.parquet``: one row per (check, numeric measured value), with the band
    when the threshold is a two-sided interval (the layer-3 metrics schema)."""
    return metrics_parquet(rows, "metrics_6A.parquet")
