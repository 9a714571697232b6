"""6A.S5 — fraud posture, rings, operator infrastructure and the 6A validation bundle
(layer3 §3.6): roles by the prevalence law (``s5_posture``), rings and operators
(``s5_rings``), the role tables, then every 6A check over the published outputs; the bundle
gets ``_passed.flag`` only when no enforced check fails."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine_core.kernels.lookup import SortedIndex, find_sorted
from engine_core.segments.common import run_validation
from engine_core.segments.seg_6A import base
from engine_core.segments.seg_6A import s5_posture as P
from engine_core.segments.seg_6A import s5_rings as R
from engine_core.segments.seg_6A import s5_tables as T
from engine_core.segments.seg_6A.base import power, round_half_even
from engine_core.segments.seg_6A.checks_integrity import i01_ids, i07_trace
from engine_core.segments.state_io import open_state

STATE = "6A.S5"
CARDS = ("DEBIT_CARD", "CREDIT_CARD", "PREPAID_CARD", "VIRTUAL_CARD")
PHYSICAL = ("DEBIT_CARD", "CREDIT_CARD", "PREPAID_CARD")


def _s(col) -> np.ndarray:
    """A string column as a numpy ``str`` array (null → ``"None"``), gathered from its
    dictionary: no Python object per row."""
    if isinstance(col, pa.ChunkedArray):
        col = col.unify_dictionaries() if pa.types.is_dictionary(col.type) else col
        col = col.combine_chunks()
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col)
    vocab = np.array([str(v) for v in col.dictionary.to_pylist()] + ["None"], dtype=str)
    idx = pc.fill_null(col.indices, len(vocab) - 1).to_numpy(zero_copy_only=False)
    return vocab[idx.astype(np.int64)]


def run(ctx):
    io = open_state(ctx, STATE)
    # the posture's arrays die with _posture, before the checks re-read every table
    metadata = _posture(ctx, io)
    from engine_core.segments.seg_6A.checks import CHECKS

    res = run_validation(ctx, "6A", "S5", CHECKS, evidence=T.metrics)
    for out in io.outputs:
        res.outputs.insert(0, out)
    res.metadata.update(metadata)
    return res


def _posture(ctx, io) -> dict:
    """Roles, rings and operators: every S5 table but the bundle; returns the metadata."""
    pol = io.policy("fraud_posture_6A")
    dpol = io.policy("devices_6A")
    prod = io.policy("products_6A")
    ref_day = base.day_number(
        dt.date.fromisoformat(io.read_json("s0_gate_receipt_6A")["reference_date"])
    )
    rng = base.StateRng(ctx, STATE)
    post = P.Posture(rng, pol)

    pt = io.read_table(
        "s1_party_base_6A",
        [
            "party_id",
            "party_type",
            "segment_id",
            "country_iso",
            "region_id",
            "tenure_band",
            "activity_cp",
            "activity_cnp",
        ],
    )
    p = {
        "id": pt.column("party_id").to_numpy(),
        # codes, not a string per party (5×10^6 at reference, gathered per account / card)
        "ptype": base.Coded.of(pt.column("party_type")),
        "seg": base.Coded.of(pt.column("segment_id")),
        "country": base.Coded.of(pt.column("country_iso")),
        "region": base.Coded.of(pt.column("region_id")),
        "band": base.Coded.of(pt.column("tenure_band")),
        "cp": pt.column("activity_cp").to_numpy().astype(np.float64),
        "cnp": pt.column("activity_cnp").to_numpy().astype(np.float64),
    }
    syn, mule = P.party_roles(post, pol, p)
    party_role = np.full(p["id"].size, T.CLEAN, np.int8)
    party_role[syn] = T.SYNTH
    party_role[mule] = T.MULE

    # rings over the mules (region order, then canonical mule order)
    regions = p["region"].vocab
    mule_region = p["region"].codes[mule].astype(np.int64)
    ring_of_mule, ring_region, ring_words = R.form_rings(
        rng, pol, mule, mule_region, regions, post.expect
    )
    n_rings = ring_region.size
    ring_id = base.mint(ctx, "ring", 0, n_rings)
    party_ring = np.full(p["id"].size, -1, np.int64)
    party_ring[mule] = ring_of_mule

    # accounts: inherited, then COMPROMISED_ACCOUNT over clean transfer-capable accounts
    at = io.read_table("s2_account_base_6A", ["account_id", "owner_party_id", "account_type"])
    a_id = at.column("account_id").to_numpy()
    a_owner = find_sorted(p["id"], at.column("owner_party_id").to_numpy())
    owner_role = party_role[a_owner]
    inherited_acc = np.flatnonzero(owner_role != T.CLEAN)
    links = io.read_table("s4_device_links_6A", ["link_role", "account_id"])
    accessed = SortedIndex(base.distinct(links.column("account_id").drop_null().to_numpy()))
    transfers = [a for a, v in prod["account_types"].items() if v.get("transfers")]
    elig = np.flatnonzero(
        (owner_role == T.CLEAN)
        & base.in_set(at.column("account_type"), transfers)
        & accessed.contains(a_id)
    )
    keys, cell = P.cells_from(p["country"][a_owner[elig]], p["seg"][a_owner[elig]])
    comp_acc = elig[
        post.assign(
            "COMPROMISED_ACCOUNT",
            keys,
            cell,
            P.cell_tilts(
                pol,
                "COMPROMISED_ACCOUNT",
                keys,
                cell,
                {"segment": p["seg"][a_owner[elig]], "region": p["region"][a_owner[elig]]},
            ),
            np.ones(elig.size),
            pol["prevalence"]["COMPROMISED_ACCOUNT"],
        )
    ]

    # instruments: inherited cards, then COMPROMISED_CARD (DATA_BREACH / SKIMMING)
    it = io.read_table(
        "s3_instrument_base_6A",
        ["instrument_id", "instrument_type", "account_id", "holder_party_id", "card_tier"],
    )
    i_id = it.column("instrument_id").to_numpy()
    # 2×10^7 instruments at reference: codes, not per-row strings (time and ~2 GB)
    i_vocab, i_code = base.sorted_codes(it.column("instrument_type").cast(pa.string()))
    i_acc = find_sorted(a_id, it.column("account_id").to_numpy())
    i_holder = find_sorted(p["id"], it.column("holder_party_id").to_numpy())
    tier = it.column("card_tier").cast(pa.string()).fill_null("")
    is_card = np.isin(i_code, [i_vocab.index(c) for c in CARDS if c in i_vocab])
    inherited_card = np.flatnonzero(is_card & (owner_role[i_acc] != T.CLEAN))
    clean_card = np.flatnonzero(is_card & (owner_role[i_acc] == T.CLEAN))
    tier_tilt = P.tilt(pol, "COMPROMISED_CARD", {"tier": tier})
    total = min(
        clean_card.size,
        max(
            round_half_even(pol["prevalence"]["COMPROMISED_CARD"] * clean_card.size),
            post.min_count("COMPROMISED_CARD"),
        ),
    )
    t_breach = round_half_even(pol["exposure_split"]["DATA_BREACH"] * total)

    def by_holder(role, rows, activity, target):  # cells (holder country, segment)
        h = i_holder[rows]
        keys, cell = P.cells_from(p["country"][h], p["seg"][h])
        w = power(p[activity], 0.5)[h] * tier_tilt[rows]  # the power per party, not card
        return rows[post.assign(role, keys, cell, np.ones(len(keys)), w, None, target=target)]

    breach = by_holder("COMPROMISED_CARD|DATA_BREACH", clean_card, "cnp", t_breach)
    taken = np.zeros(i_code.size, bool)
    taken[breach] = True
    rest = clean_card[~taken[clean_card]]  # clean_card is sorted and distinct
    rest = rest[np.isin(i_code[rest], [i_vocab.index(c) for c in PHYSICAL if c in i_vocab])]
    skim = by_holder("COMPROMISED_CARD|SKIMMING", rest, "cp", total - t_breach)

    # devices: COMPROMISED_DEVICE over clean parties' personal devices
    dt_ = io.read_table(
        "s4_device_base_6A",
        [
            "device_id",
            "device_type",
            "owner_kind",
            "primary_party_id",
            "os_family",
            "os_version_age",
        ],
    )
    d_id = dt_.column("device_id").to_numpy()
    d_type = _s(dt_.column("device_type"))
    d_owner = find_sorted(p["id"], dt_.column("primary_party_id").fill_null(0).to_numpy())
    d_owner = np.minimum(d_owner, p["id"].size - 1)
    elig = np.flatnonzero(
        base.in_set(dt_.column("owner_kind"), ["PARTY"])
        & base.in_set(dt_.column("device_type"), ["SMARTPHONE", "LAPTOP", "DESKTOP", "TABLET"])
        & (party_role[d_owner] == T.CLEAN)
    )
    keys, cell = P.cells_from(p["country"][d_owner[elig]], d_type[elig])
    w = P.tilt(
        pol,
        "COMPROMISED_DEVICE",
        {
            "os_version_age": _s(dt_.column("os_version_age"))[elig],
            "os_family": _s(dt_.column("os_family"))[elig],
        },
    )
    comp_dev = elig[
        post.assign(
            "COMPROMISED_DEVICE",
            keys,
            cell,
            np.ones(len(keys)),
            w,
            pol["prevalence"]["COMPROMISED_DEVICE"],
        )
    ]

    merchant_rows, site_rows = _merchant_roles(io, post, pol)
    fraud_ips, ip_tab = _fraudster_ips(io, post, pol)

    # ring infrastructure
    n_mules = np.bincount(ring_of_mule[ring_of_mule >= 0], minlength=n_rings)
    ring_ips = R.ring_ips(pol, ring_words, n_mules, fraud_ips, ip_tab["popularity"][fraud_ips])
    op, op_edges = R.operators(
        rng, dpol, pol, ring_region, n_mules, ring_ips, regions, ref_day, post.expect
    )
    mule_acc = inherited_acc[owner_role[inherited_acc] == T.MULE]
    ring_accounts = [np.sort(mule_acc[party_ring[a_owner[mule_acc]] == r]) for r in range(n_rings)]
    acc_dev, acc_acc = R.operator_access(rng, pol, op["ring"], ring_accounts, post.expect)
    n_s4 = d_id.size
    op_id = base.mint(ctx, "device", n_s4, op["ring"].size)
    i01_ids(STATE, "s5_operator_devices_6A", np.r_[d_id, op_id])
    i07_trace(STATE, rng.ledger, {k: tuple(v) for k, v in post.expect.items()})

    home = _ring_homes(p, mule, ring_of_mule, n_rings)
    T.write_roles(
        io,
        p,
        T.Roles(
            party_role=party_role,
            party_ring=party_ring,
            ring_id=ring_id,
            a_id=a_id,
            a_owner=a_owner,
            owner_role=owner_role,
            inherited_acc=inherited_acc,
            comp_acc=comp_acc,
            i_id=i_id,
            i_acc=i_acc,
            inherited_card=inherited_card,
            breach=breach,
            skim=skim,
            d_id=d_id,
            comp_dev=comp_dev,
            op_id=op_id,
            op=op,
            ip_tab=ip_tab,
            fraud_ips=fraud_ips,
            merchant_rows=merchant_rows,
            site_rows=site_rows,
        ),
    )
    rings = T.Rings(
        ring_id=ring_id,
        ring_region=ring_region,
        regions=regions,
        home=home,
        n_mules=n_mules,
        op=op,
        ring_ips=ring_ips,
        op_id=op_id,
        op_edges=op_edges,
        acc_dev=acc_dev,
        acc_acc=acc_acc,
    )
    T.write_rings(io, rings, a_id, ip_tab)
    summary = sorted(_summary_row(*r) for r in post.rows)
    io.write(
        "s5_posture_summary_6A",
        [
            pa.table(
                {
                    "fraud_role": [r[0] for r in summary],
                    "cell_key": [r[1] for r in summary],
                    "eligible": pa.array([r[2] for r in summary], pa.uint64()),
                    "target": pa.array([r[3] for r in summary], pa.uint64()),
                    "realised": pa.array([r[4] for r in summary], pa.uint64()),
                }
            )
        ],
    )
    io.publish_ledger(rng.ledger)
    return {
        "mules": int(mule.size),
        "synthetic": int(syn.size),
        "rings": int(n_rings),
        "operator_devices": int(op["ring"].size),
        "compromised_accounts": int(comp_acc.size),
        "compromised_cards": int(breach.size + skim.size),
        "compromised_devices": int(comp_dev.size),
        "fraudster_ips": int(fraud_ips.size),
        **{f"raise_{k}": v for k, v in post.metrics.items() if v},
        "roles_md": _roles_md(summary),
    }


def _roles_md(summary) -> str:
    """Eligible / target / realised per fraud role (summed over its cells), as markdown."""
    tot: dict[str, list[int]] = {}
    for role, _cell, e, t, r in summary:
        acc = tot.setdefault(role, [0, 0, 0])
        acc[0], acc[1], acc[2] = acc[0] + e, acc[1] + t, acc[2] + r
    lines = ["| fraud_role | eligible | target | realised |", "|---|---|---|---|"]
    lines += [f"| {k} | {v[0]} | {v[1]} | {v[2]} |" for k, v in sorted(tot.items())]
    return "\n".join(lines)


def _summary_row(role, cell, eligible, target, realised):
    """``COMPROMISED_CARD|DATA_BREACH`` → role COMPROMISED_CARD, cell ``DATA_BREACH|…``;
    ``FRAUDSTER_IP|<ip type>`` → role FRAUDSTER_IP, cell ``<ip type>``."""
    name, _, sub = role.partition("|")
    if sub and sub != cell:
        cell = f"{sub}|{cell}"
    return name, cell, eligible, target, realised


def _merchant_roles(io, post, pol):
    """COLLUSIVE_MERCHANT (booked at the registered site) and SKIMMING_POINT over merchants /
    sites with a listed MCC that are not VIRTUAL_ONLY."""
    mu = io.read_table("merchant_universe", ["merchant_id", "home_country_iso", "mcc"])
    vc = io.read_table("virtual_classification_3B", ["merchant_id", "virtual_mode"])
    m_id = mu.column("merchant_id").to_numpy()
    v_id = vc.column(0).to_numpy()
    v_order = np.argsort(v_id)
    pos = np.minimum(np.searchsorted(v_id[v_order], m_id), v_id.size - 1)
    found = v_id[v_order][pos] == m_id
    physical = ~(found & (_s(vc.column(1))[v_order][pos] == "VIRTUAL_ONLY"))
    mcc = mu.column("mcc").to_numpy().astype(np.int64)
    oc = io.read_table(
        "outlet_catalogue",
        ["merchant_id", "legal_country_iso", "site_order", "site_id", "is_registered_site"],
    )
    o_m = oc.column("merchant_id").to_numpy()
    o_order = np.lexsort((oc.column("site_order").to_numpy(), o_m))
    o_m, o_site = o_m[o_order], oc.column("site_id").to_numpy()[o_order]
    o_c = _s(oc.column("legal_country_iso"))[o_order]
    o_reg = oc.column("is_registered_site").to_numpy(zero_copy_only=False)[o_order]
    n_sites = np.bincount(np.searchsorted(m_id, o_m), minlength=m_id.size)
    out_m, out_s, out_r = [], [], []
    elig = np.flatnonzero(np.isin(mcc, pol["collusion_mcc"]) & physical)
    keys, cell = P.cells_from(_s(mu.column("home_country_iso"))[elig])
    chosen = elig[
        post.assign(
            "COLLUSIVE_MERCHANT",
            keys,
            cell,
            np.ones(len(keys)),
            np.where(n_sites[elig] == 1, 3.0, 1.0),
            pol["prevalence"]["COLLUSIVE_MERCHANT"]["share"],
        )
    ]
    for m in m_id[chosen]:  # ≤ a few dozen merchants: the registered site books collusion
        rows = np.flatnonzero(o_m == m)
        reg = rows[o_reg[rows]]
        out_m.append(int(m))
        out_s.append(int(o_site[reg[0] if reg.size else rows[0]]))
        out_r.append("COLLUSIVE_MERCHANT")
    mzp = io.read_table(
        "merchant_zone_profile_5A", ["merchant_id", "legal_country_iso", "weekly_volume"]
    )
    key = np.char.add(mzp.column(0).to_numpy().astype(str), np.char.add("|", _s(mzp.column(1))))
    vk, vinv = np.unique(key, return_inverse=True)
    vol = np.bincount(vinv, mzp.column(2).to_numpy())
    skey = np.char.add(o_m.astype(str), np.char.add("|", o_c))
    pos = np.searchsorted(vk, skey)
    hit = (pos < vk.size) & (vk[np.minimum(pos, vk.size - 1)] == skey)
    per_mc = np.unique(skey, return_inverse=True, return_counts=True)
    v_site = np.where(hit, vol[np.minimum(pos, vk.size - 1)], 0.0) / per_mc[2][per_mc[1]]
    m_row = np.searchsorted(m_id, o_m)
    elig = np.flatnonzero(np.isin(mcc[m_row], pol["skimming_mcc"]) & physical[m_row])
    keys, cell = P.cells_from(o_c[elig])
    chosen = elig[
        post.assign(
            "SKIMMING_POINT",
            keys,
            cell,
            np.ones(len(keys)),
            power(v_site[elig], 0.5) + 1e-12,
            pol["prevalence"]["SKIMMING_POINT"]["share"],
        )
    ]
    out_m += o_m[chosen].tolist()
    out_s += o_site[chosen].tolist()
    out_r += ["SKIMMING_POINT"] * chosen.size
    return np.array(out_m, np.uint64), (np.array(out_s, np.uint64), np.array(out_r, object))


def _fraudster_ips(io, post, pol):
    """FRAUDSTER_IP: an exact subset per listed ip type at its prevalence."""
    t = io.read_table("s4_ip_base_6A", ["ip_id", "ip_type", "popularity"])
    tab = {
        "id": t.column("ip_id").to_numpy(),
        "type": _s(t.column("ip_type")),
        "popularity": t.column("popularity").to_numpy().astype(np.float64),
    }
    chosen = []
    for ip_type, prev in sorted(pol["fraudster_ip_prevalence"].items()):
        elig = np.flatnonzero(tab["type"] == ip_type)
        if elig.size == 0:
            continue
        pick = post.assign(
            f"FRAUDSTER_IP|{ip_type}",
            [ip_type],
            np.zeros(elig.size, np.int64),
            np.ones(1),
            np.ones(elig.size),
            prev,
        )
        chosen.append(elig[pick])
    return (np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)), tab


def _ring_homes(p, mule, ring_of_mule, n_rings):
    """The modal mule country of each ring (ties: the smallest ISO code)."""
    out = []
    for r in range(n_rings):  # ≤ n_mules / 12 rings
        c, k = np.unique(p["country"].codes[mule[ring_of_mule == r]], return_counts=True)
        out.append(p["country"].vocab[int(c[np.argmax(k)])])  # codes in ISO order
    return out
