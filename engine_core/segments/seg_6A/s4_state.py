"""6A.S4 — the state: devices (``s4_devices``), IPs (``s4_network``), the link tables,
the network summary and the in-state integrity checks (layer3 §3.5, §3.8)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from engine_core.errors import EngineError
from engine_core.kernels.lookup import find_sorted
from engine_core.kernels.sorting import lex_order
from engine_core.rng.detmath import log
from engine_core.segments.seg_6A import base
from engine_core.segments.seg_6A import s4_devices as D
from engine_core.segments.seg_6A import s4_links as L
from engine_core.segments.seg_6A import s4_network as N
from engine_core.segments.seg_6A.checks_integrity import (
    i01_ids,
    i02_fk,
    i03_counts,
    i04_caps,
    i07_trace,
)
from engine_core.segments.state_io import open_state

STATE = "6A.S4"
CARD_TYPES = ("DEBIT_CARD", "CREDIT_CARD", "PREPAID_CARD", "VIRTUAL_CARD")


def _party_context(io, seg, countries):
    segments = [s for t in seg["party_types"] for s in seg["segments"][t]]
    parties = base.load_parties(
        io, ["home_cell_id", "household_id", "customer_since", "activity_cp", "activity_cnp"]
    )
    cells = base.Cells(parties, segments, countries)  # outlet countries keep their terminals
    cells.home_cell = parties.column("home_cell_id").to_numpy().astype(np.int64)
    cells.cp = parties.column("activity_cp").to_numpy().astype(np.float64)
    cnp = parties.column("activity_cnp").to_numpy().astype(np.float64)
    hcol = parties.column("household_id")
    valid = hcol.is_valid().to_numpy(zero_copy_only=False)
    hh = hcol.fill_null(0).to_numpy()
    # households in canonical order (country, household_id); members in party_id order
    members = np.flatnonzero(valid)
    morder = members[np.lexsort((cells.pid[members], hh[members], cells.country[members]))]
    mh = hh[morder]
    new = np.r_[True, mh[1:] != mh[:-1]] if mh.size else np.zeros(0, bool)
    hh_index = np.cumsum(new) - 1
    cells.n_households = int(new.sum())
    cells.household_country = cells.country[morder[new]]
    cells.household_row = np.full(cells.pid.size, -1, np.int64)
    cells.household_row[morder] = hh_index
    first = np.zeros(cells.pid.size, np.int64)
    size = np.zeros(cells.pid.size, np.int64)
    starts = np.flatnonzero(new)
    sizes = np.diff(np.r_[starts, morder.size])
    first[morder] = starts[hh_index]
    size[morder] = sizes[hh_index]
    retail_sorted = np.flatnonzero(cells.ptype == 0)
    retail_sorted = retail_sorted[
        np.lexsort((cells.pid[retail_sorted], cells.country[retail_sorted]))
    ]
    rc = cells.country[retail_sorted]
    bounds = np.searchsorted(rc, np.arange(len(cells.countries) + 1))
    cells.retail_rows = lambda ci: retail_sorted[bounds[ci] : bounds[ci + 1]]
    since = parties.column("customer_since").cast(pa.int32()).to_numpy().astype(np.int64)
    return cells, cnp, since, (valid, first, size, morder)


def run(ctx):
    io = open_state(ctx, STATE)
    dpol, ipol = io.policy("devices_6A"), io.policy("ips_6A")
    prod = io.policy("products_6A")
    ref_day = base.day_number(
        dt.date.fromisoformat(io.read_json("s0_gate_receipt_6A")["reference_date"])
    )
    outlets = io.read_table(
        "outlet_catalogue", ["merchant_id", "legal_country_iso", "site_order", "site_id"]
    )
    located = io.read_table("site_locations", ["site_id"]).column(0).to_numpy()
    missing = np.setdiff1d(outlets.column("site_id").to_numpy(), located)
    if missing.size:
        raise EngineError(
            "SITE_UNLOCATED",
            STATE,
            f"site {int(missing[0])} of outlet_catalogue has no site_locations row",
        )
    mzp = io.read_table(
        "merchant_zone_profile_5A", ["merchant_id", "legal_country_iso", "weekly_volume"]
    )
    countries = outlets.column(1).unique().to_pylist()
    cells, cnp, since, hh = _party_context(io, io.policy("segmentation_6A"), countries)
    region = base.regions_of(
        io.policy("countries_6A"), io.policy("region_map_6A"), cells.countries, STATE
    )
    cells.region_of = region
    inst = io.read_table(
        "s3_instrument_base_6A",
        [
            "instrument_id",
            "instrument_type",
            "account_id",
            "holder_party_id",
            "parent_instrument_id",
            "issue_date",
        ],
    )
    row_of = np.argsort(cells.pid)
    prow = lambda ids: row_of[find_sorted(cells.pid[row_of], ids)]  # noqa: E731
    holder = prow(inst.column("holder_party_id").to_numpy())
    is_token = base.in_set(inst.column("instrument_type"), ["WALLET_TOKEN"])
    token_holder = np.zeros(cells.pid.size, bool)
    token_holder[holder[is_token]] = True

    rng = base.StateRng(ctx, STATE)
    expect: dict = {}
    plan_real = [[], []]
    devs = D.Devices()
    D.personal_devices(rng, dpol, cells, cnp, token_holder, devs, expect, plan_real)
    n_pub = D.public_devices(dpol, cells, devs)
    single = D.merchant_terminals(dpol, outlets, mzp, cells.countries, devs)
    dev = devs.arrays()
    n_personal = int((dev["kind"] == 0).sum())
    single_site = np.r_[np.zeros(dev["type"].size - single.size, bool), single]
    os_code, age, first_seen = D.device_attributes(
        rng, dpol, cells, dev, since, ref_day, single_site, expect
    )
    # sites of POS terminals (MERCHANT_NET owners)
    site_ids, site_row = np.unique(dev["site"], return_inverse=True)
    dev["site_row"] = np.where(dev["kind"] == 2, site_row, -1)
    site_country = np.zeros(site_ids.size, np.int64)
    site_country[site_row[dev["kind"] == 2]] = dev["country"][dev["kind"] == 2]

    # users: owners, household sharers, public crowds
    party_dev = np.flatnonzero(dev["kind"] == 0)
    sh_d, sh_m = D.pairs_shared(rng, dpol, cells, dev, hh, expect)
    pub_d, pub_m = D.pairs_public(rng, dpol, cells, dev, n_pub, expect)
    users = (
        np.r_[party_dev, sh_d, pub_d],
        np.r_[dev["owner"][party_dev], sh_m, pub_m],
        np.r_[np.zeros(party_dev.size, bool), np.ones(sh_d.size + pub_d.size, bool)],
    )
    accounts = _access_accounts(io, prod, prow)
    card_rows = np.flatnonzero(base.in_set(inst.column("instrument_type"), CARD_TYPES))
    co = lex_order(holder[card_rows], card_rows)
    cards = (holder[card_rows][co], card_rows[co])
    l_kind, l_dev, l_target = D.access_and_cof(
        rng, dpol, cells, dev, users, accounts, cards, expect
    )
    tok_rows = np.flatnonzero(is_token)
    parent = inst.column("parent_instrument_id").fill_null(0).to_numpy()[tok_rows]
    issue = inst.column("issue_date").cast(pa.int32()).to_numpy()[tok_rows]
    o = np.lexsort((inst.column("instrument_id").to_numpy()[tok_rows], issue, parent))
    second = np.zeros(tok_rows.size, bool)
    second[o] = base.rank_within(parent[o]) >= 1
    t_dev = D.token_binding(
        rng,
        cells,
        dev,
        (holder[tok_rows], second, inst.column("instrument_id").to_numpy()[tok_rows]),
        expect,
    )

    demands, expected = N.edge_demands(rng, ipol, cells, dev, expect)
    mass = np.bincount(cells.country, minlength=len(cells.countries)).astype(np.float64)
    hosting = (list(ipol["hosting_country_mix"]), list(ipol["hosting_country_mix"].values()))
    ip_type, ip_country, ip_owner = N.inventory(
        rng, ipol, cells, dev, demands, expected, mass, {"country": site_country}, expect
    )
    pop, ip_iso, asn_class, asn = N.ip_attributes(
        rng, ipol, cells, ip_type, ip_country, mass, hosting, expect
    )
    e_dev, e_ip, e_role = N.place_edges(
        rng, ipol, cells, demands, ip_type, ip_country, ip_owner, pop, expect
    )

    n_dev, n_ip = dev["type"].size, ip_type.size
    device_id = base.mint(ctx, "device", 0, n_dev)
    ip_id = base.mint(ctx, "ip", 0, n_ip)
    acc_id = io.read_table("s2_account_base_6A", ["account_id"]).column(0).to_numpy()
    inst_id = inst.column("instrument_id").to_numpy()

    # in-state integrity (publishes nothing on failure)
    i01_ids(STATE, "s4_device_base_6A", device_id)
    i01_ids(STATE, "s4_ip_base_6A", ip_id)
    i03_counts(STATE, "personal devices per cell", np.array(plan_real[1]), np.array(plan_real[0]))
    _caps(dpol, ipol, cells, dev, users, sh_d, pub_d, l_kind, l_dev, e_dev, e_ip, ip_type, n_ip)
    i07_trace(STATE, rng.ledger, {k: tuple(v) for k, v in expect.items()})
    links = L.device_links(
        cells,
        dev,
        (party_dev, np.r_[sh_d, pub_d], np.r_[sh_m, pub_m]),
        (l_kind, l_dev, l_target, acc_id, inst_id),
        (tok_rows, t_dev),
    )
    i02_fk(STATE, "s4_device_links_6A.account_id", links.targets("ACCOUNT_ACCESS"), acc_id)
    i02_fk(
        STATE,
        "s4_device_links_6A.instrument_id",
        links.targets("CARD_ON_FILE", "TOKEN_BINDING"),
        inst_id,
    )
    # the link graph's inputs are held by ``links`` now (tens of millions of rows at reference)
    del l_kind, l_dev, l_target, sh_d, pub_d, sh_m, pub_m, party_dev, t_dev, tok_rows

    countries_pol = io.policy("countries_6A")
    ip_vocab, ip_code = base.sorted_codes(ip_iso)  # per distinct country, not per IP
    iso_all = sorted(set(ip_vocab) | set(cells.countries))
    reg_all = base.regions_of(countries_pol, io.policy("region_map_6A"), iso_all, STATE)
    regions = sorted(set(reg_all.values()))
    dev_region = np.array([regions.index(region[c]) for c in cells.countries])[dev["country"]]
    owner_kind = dev["kind"]
    dtab = pa.table(
        {
            "device_id": device_id,
            "device_type": base.coded(dev["type"], list(D.DEVICE_TYPES)),
            "os_family": base.coded(os_code, list(D.OS)),
            "os_version_age": base.coded(age, list(D.OS_AGE)),
            "owner_kind": base.coded(owner_kind, list(D.OWNER_KIND)),
            "primary_party_id": base.nullable_u64(
                cells.pid[np.maximum(dev["owner"], 0)], dev["owner"] >= 0
            ),
            "merchant_id": base.nullable_u64(dev["merchant"], dev["kind"] == 2),
            "site_id": base.nullable_u64(dev["site"], dev["kind"] == 2),
            "home_country_iso": base.coded(dev["country"], cells.countries),
            "home_region_id": base.coded(dev_region, regions),
            "first_seen_date": base.dates(first_seen),
        }
    )
    base.write_sorted(io, "s4_device_base_6A", dtab, device_id)
    del dtab, os_code, age, first_seen
    link_table = links.table(device_id, dev["merchant"])
    base.write_sorted(
        io,
        "s4_device_links_6A",
        link_table,
        device_id[links.dev],
        second=(links.role, links.target),
    )
    del link_table
    iso_codes = (
        np.array([iso_all.index(c) for c in ip_vocab], np.int64)[ip_code] if n_ip else np.zeros(0)
    )
    ip_reg = np.array([regions.index(reg_all[c]) for c in iso_all])[iso_codes.astype(np.int64)]
    itab = pa.table(
        {
            "ip_id": ip_id,
            "ip_type": base.coded(ip_type, list(N.IP_TYPES)),
            "asn_class": base.coded(asn_class, list(N.ASN_CLASSES)),
            "asn_id": pa.array(asn.astype(np.uint32)),
            "ip_country_iso": base.coded(iso_codes, iso_all),
            "ip_region_id": base.coded(ip_reg, regions),
            "popularity": pa.array(pop.astype(np.float32)),
        }
    )
    base.write_sorted(io, "s4_ip_base_6A", itab, ip_id)
    owner = dev["owner"][e_dev]
    ltab = pa.table(
        {
            "device_id": device_id[e_dev],
            "ip_id": ip_id[e_ip],
            "party_id": base.nullable_u64(cells.pid[np.maximum(owner, 0)], owner >= 0),
            "link_role": base.coded(e_role, list(N.IP_ROLES)),
        }
    )
    base.write_sorted(io, "s4_ip_links_6A", ltab, device_id[e_dev], second=(ip_id[e_ip],))
    summary = _summary(cells, dev, links, e_dev, e_ip, ip_type)
    io.write("s4_network_summary_6A", [summary])
    io.publish_ledger(rng.ledger)
    by_type = np.bincount(dev["type"], minlength=len(D.DEVICE_TYPES))
    by_ip = np.bincount(ip_type, minlength=len(N.IP_TYPES))
    return io.result(
        rows=n_dev + n_ip,
        metadata={
            "devices": n_dev,
            "personal_devices": n_personal,
            "ips": n_ip,
            "device_links": links.size,
            "ip_links": int(e_dev.size),
            "degree_table_md": base.md_table(
                summary,
                ["metric", "stratum", "n", "mean", "p50", "p90", "p99", "max", "hill_alpha"],
            ),
            **{f"devices_{t}": int(by_type[i]) for i, t in enumerate(D.DEVICE_TYPES)},
            **{f"ips_{t}": int(by_ip[i]) for i, t in enumerate(N.IP_TYPES)},
        },
    )


def _access_accounts(io, prod, prow):
    """(party row, account row) pairs a device user may reach: OWNER/JOINT holders of
    accounts with cards or transfers; sorted by party row, then account (id order)."""
    acc = io.read_table("s2_account_base_6A", ["account_id", "account_type"])
    a_id = acc.column("account_id").to_numpy()
    reach = [a for a, v in prod["account_types"].items() if v.get("cards") or v.get("transfers")]
    a_ok = base.in_set(acc.column("account_type"), reach)
    h = io.read_table("s2_account_holders_6A", ["account_id", "party_id", "holder_role"])
    a_row = find_sorted(a_id, h.column("account_id").to_numpy())
    keep = base.in_set(h.column("holder_role"), ["OWNER", "JOINT"]) & a_ok[a_row]
    p_row = prow(h.column("party_id").to_numpy()[keep])
    a_row = a_row[keep]
    o = np.lexsort((a_row, p_row))
    return p_row[o], a_row[o]


def _caps(dpol, ipol, cells, dev, users, sh_d, pub_d, l_kind, l_dev, e_dev, e_ip, ip_type, n_ip):
    """6A-I04 over every entity: devices per party and type, users / accounts / cards on
    file / IPs per device, devices per IP."""
    party = dev["kind"] == 0
    n_t = len(D.DEVICE_TYPES)
    per = np.bincount(
        dev["owner"][party] * n_t + dev["type"][party], minlength=cells.pid.size * n_t
    ).reshape(-1, n_t)
    caps = np.array(
        [[dpol["caps"][t].get(d, 0) for d in D.DEVICE_TYPES] for t in ("RETAIL", "BUSINESS")]
    )
    i04_caps(STATE, "devices per party and type", per, caps[cells.ptype])
    n = dev["type"].size
    shared = np.bincount(sh_d, minlength=n) + 1
    i04_caps(STATE, "users per household device", shared[party], dpol["max_users"]["household"])
    i04_caps(
        STATE,
        "users per public device",
        np.bincount(pub_d, minlength=n)[dev["kind"] == 1],
        dpol["max_users"]["public"],
    )
    acc = np.bincount(l_dev[l_kind == 0], minlength=n)
    kind = np.where(dev["kind"] == 1, 2, cells.ptype[np.maximum(dev["owner"], 0)])
    cap = np.array([dpol["max_accounts_per_device"][k] for k in ("RETAIL", "BUSINESS", "PUBLIC")])[
        kind
    ]
    i04_caps(STATE, "accounts per device", acc, cap)
    i04_caps(
        STATE,
        "cards on file per device",
        np.bincount(l_dev[l_kind == 1], minlength=n),
        dpol["max_cards_on_file"],
    )
    i04_caps(STATE, "IPs per device", np.bincount(e_dev, minlength=n), ipol["max_ips_per_device"])
    per_ip = np.bincount(e_ip, minlength=n_ip)
    mx = np.array([ipol["max_devices_per_ip"][t] for t in N.IP_TYPES])[ip_type]
    i04_caps(STATE, "devices per IP", per_ip, mx)


def hill_alpha(x: np.ndarray) -> float | None:
    """Hill tail index on the top 2 % (None below 100 tail points)."""
    k = int(0.02 * x.size)
    if k < 100:
        return None
    s = np.sort(x.astype(np.float64))[::-1]
    if s[k] <= 0:
        return None
    return float(k / log(s[:k] / s[k]).sum())


def _stats(metric, stratum, x):
    x = np.asarray(x, np.float64)
    if x.size == 0:
        return None
    q = np.quantile(x, [0.5, 0.9, 0.99])
    return (
        metric,
        stratum,
        int(x.size),
        float(x.mean()),
        float(q[0]),
        float(q[1]),
        float(q[2]),
        float(x.max()),
        hill_alpha(x) if metric == "devices_per_ip" else None,
    )


def _summary(cells, dev, links, e_dev, e_ip, ip_type) -> pa.Table:
    n = dev["type"].size
    rows = []
    retail = np.flatnonzero(cells.ptype == 0)
    party = dev["kind"] == 0
    per_party = np.bincount(dev["owner"][party], minlength=cells.pid.size)
    rows.append(_stats("devices_per_party", "ALL_RETAIL", per_party[retail]))
    for t in np.unique(dev["type"][party]).tolist():
        m = party & (dev["type"] == t)
        rows.append(
            _stats(
                "devices_per_party",
                D.DEVICE_TYPES[t],
                np.bincount(dev["owner"][m], minlength=cells.pid.size)[retail],
            )
        )
    R = {r: i for i, r in enumerate(D.LINK_ROLES)}
    users = np.bincount(
        links.dev[np.isin(links.role, [R["PRIMARY_OWNER"], R["SHARED_USER"]])], minlength=n
    )
    acc = np.bincount(links.dev[links.role == R["ACCOUNT_ACCESS"]], minlength=n)
    ips = np.bincount(e_dev, minlength=n)
    for t in np.unique(dev["type"]).tolist():
        m = dev["type"] == t
        rows.append(_stats("users_per_device", D.DEVICE_TYPES[t], users[m]))
        rows.append(_stats("accounts_per_device", D.DEVICE_TYPES[t], acc[m]))
        rows.append(_stats("ips_per_device", D.DEVICE_TYPES[t], ips[m]))
    per_ip = np.bincount(e_ip, minlength=ip_type.size)
    for t in np.unique(ip_type).tolist():
        rows.append(_stats("devices_per_ip", N.IP_TYPES[t], per_ip[ip_type == t]))
    rows = sorted(r for r in rows if r is not None)
    cols = list(zip(*rows, strict=True))
    return pa.table(
        {
            "metric": list(cols[0]),
            "stratum": list(cols[1]),
            "n": pa.array(cols[2], pa.uint64()),
            "mean": cols[3],
            "p50": cols[4],
            "p90": cols[5],
            "p99": cols[6],
            "max": cols[7],
            "hill_alpha": pa.array(cols[8], pa.float64()),
        }
    )
