"""6A.S3 — instruments and account links (layer3 §3.4).

Creation steps in canonical order: (1) primary cards on an exact LRR share of each cell's
card-bearing accounts, (2) one card per authorised-user holder, (3) additional and virtual
cards by CAPPED_MULTINOMIAL under the per-account card cap, (4) wallet tokens on an exact,
activity-weighted subset of physical cards (and a second token for a share of them), (5) a
transfer handle per transfer-capable account. Schemes by region/segment mix, issuer BINs
per (country, scheme, card type) probed into disjoint scheme ranges, Zipf issuer
popularity, month-aligned issue dates, tiers and usage weights.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from engine_core.errors import EngineError
from engine_core.kernels.alloc import capped_multinomial_cells, exact_subset, lrr, lrr_capped
from engine_core.kernels.lookup import find_sorted
from engine_core.rng.uniform import uniform01
from engine_core.segments.seg_6A import base
from engine_core.segments.seg_6A.base import power, round_half_even
from engine_core.segments.seg_6A.checks_integrity import (
    i01_ids,
    i02_fk,
    i03_counts,
    i04_caps,
    i07_trace,
)
from engine_core.segments.seg_6A.s3_attributes import (
    PHYSICAL,
    ROLES,
    SCHEMES,
    STATE,
    TIERS,
    TYPES,
    bin_catalogue,
    card_attributes,
    count,
    token_dates,
)
from engine_core.segments.state_io import open_state


class Issue:
    """Instruments in creation order as columnar lists of arrays."""

    def __init__(self):
        self.cols = {k: [] for k in ("type", "account", "holder", "role", "parent")}

    def add(self, itype, account, holder, role, parent=None):
        n = account.size
        self.cols["type"].append(np.full(n, itype) if np.isscalar(itype) else itype)
        self.cols["account"].append(account)
        self.cols["holder"].append(holder)
        self.cols["role"].append(np.full(n, role))
        self.cols["parent"].append(np.full(n, -1) if parent is None else parent)

    def arrays(self):
        return {k: np.concatenate(v).astype(np.int64) for k, v in self.cols.items()}

    @property
    def n(self) -> int:
        return sum(a.size for a in self.cols["account"])


def run(ctx):
    io = open_state(ctx, STATE)
    pol = io.policy("instruments_6A")
    prod = io.policy("products_6A")
    seg = io.policy("segmentation_6A")
    segments = [s for t in seg["party_types"] for s in seg["segments"][t]]
    ref_day = base.day_number(
        dt.date.fromisoformat(io.read_json("s0_gate_receipt_6A")["reference_date"])
    )
    _check_scheme_mix(pol)
    parties = base.load_parties(io, ["activity_cp", "activity_cnp"])
    cells = base.Cells(parties, segments)
    acc = io.read_table(
        "s2_account_base_6A", ["account_id", "owner_party_id", "account_type", "open_date"]
    )
    holders = io.read_table("s2_account_holders_6A", ["account_id", "party_id", "holder_role"])
    a_types = list(prod["account_types"])
    a_id = acc.column("account_id").to_numpy()
    a_type = base.codes_of(acc.column("account_type"), a_types)
    a_open = acc.column("open_date").cast(pa.int32()).to_numpy().astype(np.int64)
    row_of = np.argsort(cells.pid)  # party rows by party_id (the table is sorted already)
    a_owner = row_of[find_sorted(cells.pid[row_of], acc.column("owner_party_id").to_numpy())]
    # account cells: the owner's (country, party type, segment), accounts by account_id
    cell_of_row = np.empty(cells.pid.size, np.int64)
    cell_of_row[cells.order] = np.repeat(np.arange(cells.keys.size), cells.n)
    a_cell = cell_of_row[a_owner]
    cnp = parties.column("activity_cnp").to_numpy().astype(np.float64)
    rng = base.StateRng(ctx, STATE)
    expect = {f"6A.S3.{f}": [0, 0] for f in ("card_select", "alloc", "attr", "bin")}
    card_of = {
        a: (TYPES.index(v["cards"][0]) if v.get("cards") else -1)
        for a, v in prod["account_types"].items()
    }
    a_card = np.array([card_of[a] for a in a_types])[a_type]
    iss = Issue()
    plan_real = [[], []]

    # (1) primary cards: per card type, LRR over cells of n·p_card, then an exact subset
    select = rng.family("card_select")
    for ct in PHYSICAL:
        idx = np.flatnonzero(a_card == ct)
        if idx.size == 0:
            continue
        idx = idx[np.lexsort((a_id[idx], a_cell[idx]))]
        ck, start, n = np.unique(a_cell[idx], return_index=True, return_counts=True)
        info = [cells.cell(int(k)) for k in ck]
        p = np.array(
            [
                pol["p_card"]["business"]
                if t == "BUSINESS"
                else pol["p_card"]["by_region"].get(r, pol["p_card"]["by_region"]["default"])
                for _, t, _, r, _ in info
            ]
        )
        e = n * p
        n_cell = lrr(
            round_half_even(float(e.sum())),
            e,
            np.arange(e.size, dtype=np.float64),
            state=STATE,
            where=f"primary {TYPES[ct]}",
        )
        keys = [f"{c}|{t}|{s}|{TYPES[ct]}" for c, t, s, _, _ in info]
        u = uniform01(select.cells(keys, n, 1))
        count(expect, "card_select", int((n > 0).sum()), 2 * int(n.sum()))
        for i in np.flatnonzero(n_cell > 0):
            sl = slice(start[i], start[i] + n[i])
            chosen = np.sort(
                exact_subset(int(n_cell[i]), np.ones(n[i]), u[sl, 0], state=STATE, where=keys[i])
            )
            rows = idx[sl][chosen]
            iss.add(ct, rows, a_owner[rows], ROLES.index("PRIMARY_CARD"))
            plan_real[0].append(int(n_cell[i]))
            plan_real[1].append(rows.size)
    carded = np.zeros(a_id.size, bool)
    carded[np.concatenate(iss.cols["account"]) if iss.cols["account"] else []] = True

    # (2) authorised-user cards, RNG-free
    h_role = holders.column("holder_role").cast(pa.string()).to_numpy(zero_copy_only=False)
    au = np.flatnonzero(h_role == "AUTHORISED_USER")
    au_acc = find_sorted(a_id, holders.column("account_id").to_numpy()[au])
    au_party = row_of[find_sorted(cells.pid[row_of], holders.column("party_id").to_numpy()[au])]
    keep = a_card[au_acc] >= 0
    iss.add(a_card[au_acc[keep]], au_acc[keep], au_party[keep], ROLES.index("AUTHORISED_USER_CARD"))

    # (3) additional (per card type) and virtual cards under the per-account cap
    per_acc = np.bincount(np.concatenate(iss.cols["account"]), minlength=a_id.size)
    cap_total = pol["max_cards_per_account"]
    alloc = rng.family("alloc")
    sqrt_cnp = power(cnp, 0.5)  # per party, not per account
    for ct, lam_of, role in [
        (0, None, "ADDITIONAL_CARD"),
        (1, None, "ADDITIONAL_CARD"),
        (2, None, "ADDITIONAL_CARD"),
        (3, "virtual", "VIRTUAL_CARD"),
    ]:
        idx = np.flatnonzero((a_card == ct) if ct != 3 else (a_card >= 0))
        if idx.size == 0:
            continue
        idx = idx[np.lexsort((a_id[idx], a_cell[idx]))]
        ck, start, n = np.unique(a_cell[idx], return_index=True, return_counts=True)
        info = [cells.cell(int(k)) for k in ck]
        vl = pol["virtual_lambda"]
        lam = np.array(
            [
                vl.get(s, vl["default"]) if lam_of else pol["extra_card_lambda"]
                for _, _, s, _, _ in info
            ]
        )
        e = n * lam
        # a cell holds at most the room left on its carded accounts (excess water-filled)
        room_rows = carded[idx] * np.maximum(cap_total - per_acc[idx], 0)
        n_cell = lrr_capped(
            round_half_even(float(e.sum())),
            e * (np.add.reduceat(room_rows, start) > 0),
            np.add.reduceat(room_rows, start),
            np.arange(e.size, dtype=np.float64),
            state=STATE,
            where=f"{role} {TYPES[ct]}",
        )
        # every cell of the type at once (cells hold disjoint accounts, so rooms are known)
        keys = [f"{c}|{t}|{s}|{TYPES[ct]}" for c, t, s, _, _ in info]
        streams = [
            alloc.stream(k) if m > 0 else (0, 0, 0) for k, m in zip(keys, n_cell, strict=True)
        ]
        bounds = np.r_[start, idx.size]
        cnt_all, big_all = capped_multinomial_cells(
            n_cell,
            sqrt_cnp[a_owner[idx]] * carded[idx],
            np.maximum(cap_total - per_acc[idx], 0),
            np.zeros(idx.size, np.int64),
            bounds,
            n_cell > 0,
            False,
            np.array(streams, np.uint64),
            workers=rng.workers,
            state=STATE,
            where=keys,
        )
        for i in np.flatnonzero(n_cell > 0):
            rows = idx[start[i] : start[i] + n[i]]
            stream, cnt = streams[i], cnt_all[bounds[i] : bounds[i + 1]]
            big_n = int(big_all[i])
            alloc.trace(stream, blocks=2 * big_n + rows.size, draws=4 * big_n + 2 * rows.size)
            count(expect, "alloc", 1, 4 * big_n + 2 * rows.size)
            plan_real[0].append(int(n_cell[i]))
            plan_real[1].append(int(cnt.sum()))
            per_acc[rows] += cnt
            got = np.repeat(rows, cnt)
            iss.add(ct, got, a_owner[got], ROLES.index(role))
    i04_caps(STATE, "cards per account", per_acc, cap_total)
    cards = iss.arrays()

    # card attributes (scheme, BIN pick, tier, issue date, usage): one unit per card
    attrs = card_attributes(rng, pol, cells, cards, a_open, ref_day, expect)
    bins = bin_catalogue(rng, pol, cells, cards, attrs, expect)

    # (4) wallet tokens on physical cards, by holder cell
    phys = np.flatnonzero(np.isin(cards["type"], PHYSICAL))
    t_parent, t_second = _tokens(rng, pol, cells, cards, phys, cnp, expect, plan_real)
    n_cards = cards["type"].size
    tok = np.concatenate([t_parent, t_second])
    iss.add(
        TYPES.index("WALLET_TOKEN"),
        cards["account"][tok],
        cards["holder"][tok],
        ROLES.index("WALLET_TOKEN"),
        parent=tok,
    )
    # (5) transfer handles, RNG-free
    tr = {a for a, v in prod["account_types"].items() if v.get("transfers")}
    th = np.flatnonzero(np.isin(a_type, [a_types.index(a) for a in tr]))
    iss.add(TYPES.index("TRANSFER_HANDLE"), th, a_owner[th], ROLES.index("TRANSFER_HANDLE"))
    inst = iss.arrays()
    n_inst = inst["type"].size
    instrument_id = base.mint(ctx, "instrument", 0, n_inst)
    i01_ids(STATE, "s3_instrument_base_6A", instrument_id)
    i03_counts(STATE, "cards and tokens per cell", np.array(plan_real[1]), np.array(plan_real[0]))

    # columns: cards carry their attributes, tokens inherit scheme/BIN/tier from the parent
    is_tok = inst["type"] == TYPES.index("WALLET_TOKEN")
    is_th = inst["type"] == TYPES.index("TRANSFER_HANDLE")
    src = np.where(is_tok, inst["parent"], np.arange(n_inst))
    src = np.where(is_th, 0, src)
    tok_attr = token_dates(rng, pol, cells, inst, attrs, is_tok, ref_day, expect)
    scheme = np.where(is_th, -1, attrs["scheme"][np.minimum(src, n_cards - 1)])
    bin6 = np.where(is_th, -1, attrs["bin6"][np.minimum(src, n_cards - 1)])
    tier = np.where(is_th, -1, attrs["tier"][np.minimum(src, n_cards - 1)])
    issue = np.where(
        is_th,
        a_open[inst["account"]],
        np.r_[attrs["issue"], tok_attr["issue"], np.zeros(int(is_th.sum()), np.int64)],
    )
    expiry = np.r_[attrs["expiry"], tok_attr["expiry"], np.full(int(is_th.sum()), -1)]
    usage = np.r_[attrs["usage"], tok_attr["usage"], np.ones(int(is_th.sum()))]
    parent_id = np.where(inst["parent"] >= 0, instrument_id[np.maximum(inst["parent"], 0)], 0)
    i07_trace(STATE, rng.ledger, {k: tuple(v) for k, v in expect.items()})
    i02_fk(STATE, "s3_instrument_base_6A.parent_instrument_id", parent_id[is_tok], instrument_id)

    table = pa.table(
        {
            "instrument_id": instrument_id,
            "instrument_type": base.coded(inst["type"], list(TYPES)),
            "account_id": a_id[inst["account"]],
            "holder_party_id": cells.pid[inst["holder"]],
            "scheme": pa.DictionaryArray.from_arrays(
                pa.array(scheme.astype(np.int32), mask=scheme < 0), pa.array(SCHEMES)
            ),
            "bin6": pa.array(bin6.astype(np.uint32), pa.uint32(), mask=bin6 < 0),
            "card_tier": pa.DictionaryArray.from_arrays(
                pa.array(tier.astype(np.int32), mask=tier < 0), pa.array(TIERS)
            ),
            "issue_date": base.dates(issue),
            "expiry_date": pa.array(expiry.astype(np.int32), pa.int32(), mask=expiry < 0).cast(
                pa.date32()
            ),
            "parent_instrument_id": base.nullable_u64(parent_id, inst["parent"] >= 0),
            "usage_weight": pa.array(usage.astype(np.float32)),
        }
    )
    # 2×10^7 instruments at reference: drop the column arrays (now held by the table) and
    # the card attributes before the sorted writes double the table
    acc_ids = a_id[inst["account"]]
    by_type = np.bincount(inst["type"], minlength=len(TYPES))
    roles = inst["role"]
    del inst, attrs, tok_attr, cards, is_tok, is_th, src, scheme, bin6, tier, issue, expiry
    del usage, parent_id, iss, holders, h_role, a_owner, a_cell, a_type, a_open
    base.write_sorted(io, "s3_instrument_base_6A", table, instrument_id)
    del table
    links = pa.table(
        {
            "account_id": acc_ids,
            "instrument_id": instrument_id,
            "link_role": base.coded(roles, list(ROLES)),
        }
    )
    base.write_sorted(io, "s3_account_instrument_links_6A", links, acc_ids, second=(instrument_id,))
    del links
    base.write_sorted(
        io,
        "s3_bin_catalogue_6A",
        bins,
        bins.column("bin6").to_numpy().astype(np.uint64) << np.uint64(40),
    )
    io.publish_ledger(rng.ledger)
    return io.result(
        rows=n_inst,
        metadata={
            "instruments": n_inst,
            "bins": bins.num_rows,
            **{f"instruments_{t}": int(by_type[i]) for i, t in enumerate(TYPES)},
        },
    )


def _check_scheme_mix(pol):
    for region, by_type in pol["scheme_mix"].items():
        for t, mix in by_type.items():
            if abs(sum(mix.values()) - 1.0) > 1e-9:
                raise EngineError(
                    "SCHEME_MIX_INVALID",
                    STATE,
                    f"policies/6A/instruments.yaml: /scheme_mix/{region}/{t}: "
                    f"shares sum to {sum(mix.values())!r}",
                )
    for t, mix in pol["tier_mix"].items():
        if abs(sum(mix.values()) - 1.0) > 1e-9:
            raise EngineError(
                "SCHEME_MIX_INVALID",
                STATE,
                f"policies/6A/instruments.yaml: /tier_mix/{t}: shares sum to {sum(mix.values())!r}",
            )


def _tokens(rng, pol, cells, cards, phys, cnp, expect, plan_real):
    """Wallet tokens: per holder cell LRR of n_physical·p_token, an EXACT_SUBSET weighted by
    the holder's activity_cnp; then second tokens on a uniform exact subset of those."""
    cell_of_row = np.empty(cells.pid.size, np.int64)
    cell_of_row[cells.order] = np.repeat(np.arange(cells.keys.size), cells.n)
    hc = cell_of_row[cards["holder"][phys]]
    order = np.lexsort((phys, hc))
    ph, hc = phys[order], hc[order]
    ck, start, n = np.unique(hc, return_index=True, return_counts=True)
    info = [cells.cell(int(k)) for k in ck]
    pt = pol["p_token"]
    p = np.array(
        [
            pt["by_region"].get(r, pt["by_region"]["default"])
            * pt["segment_multiplier"].get("BUSINESS" if t == "BUSINESS" else s, 1.0)
            for _, t, s, r, _ in info
        ]
    )
    e = n * np.minimum(p, 1.0)
    n_tok = lrr(
        round_half_even(float(e.sum())),
        e,
        np.arange(e.size, dtype=np.float64),
        state=STATE,
        where="wallet tokens",
    )
    keys = [f"{c}|{t}|{s}|WALLET_TOKEN" for c, t, s, _, _ in info]
    u = uniform01(rng.family("card_select").cells(keys, n, 1))
    count(expect, "card_select", int((n > 0).sum()), 2 * int(n.sum()))
    first, second_pool, second_key = [], [], []
    for i in np.flatnonzero(n_tok > 0):
        sl = slice(start[i], start[i] + n[i])
        w = cnp[cards["holder"][ph[sl]]]
        chosen = np.sort(exact_subset(int(n_tok[i]), w, u[sl, 0], state=STATE, where=keys[i]))
        first.append(ph[sl][chosen])
        second_pool.append(np.full(chosen.size, i))
        second_key.append(u[sl, 1][chosen])
        plan_real[0].append(int(n_tok[i]))
        plan_real[1].append(chosen.size)
    first = np.concatenate(first) if first else np.zeros(0, np.int64)
    pool_cell = np.concatenate(second_pool) if second_pool else np.zeros(0, np.int64)
    skey = np.concatenate(second_key) if second_key else np.zeros(0)
    per = np.bincount(pool_cell, minlength=ck.size).astype(np.float64)
    total = round_half_even(pol["second_token_share"] * first.size)
    n2 = (
        lrr(total, per, np.arange(per.size, dtype=np.float64), state=STATE, where="second tokens")
        if first.size
        else np.zeros(ck.size, np.int64)
    )
    second = []
    edges = np.searchsorted(pool_cell, np.arange(ck.size + 1))  # pool_cell is non-decreasing
    for i in np.flatnonzero(n2 > 0):
        m = np.arange(edges[i], edges[i + 1])
        second.append(np.sort(first[m[exact_subset(int(n2[i]), np.ones(m.size), skey[m])]]))
    return first, (np.concatenate(second) if second else np.zeros(0, np.int64))
