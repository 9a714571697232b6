"""6B realism gates over the final transactions and labels (layer3 §4.7: R01, R04, R06, R13;
R07–R09 in ``gates_labels``), measured by 6B.S5 from the published S3 tables. One streamed
pass over the row-aligned ``s3_transactions_6B`` / ``s3_labels_6B`` keeps the fraud rows
(F ≈ 2×10^5 at reference) and the legit counts every gate needs. Each gate is a pure
function of arrays (tested on synthetic tables) behind a thin reader."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine_core.checks import Outcome
from engine_core.kernels.lookup import SortedIndex
from engine_core.segments.seg_6B import constants as K
from engine_core.segments.seg_6B import gates_base as B
from engine_core.segments.seg_6B import txn as X
from engine_core.segments.seg_6B.s2_pools import TYPOLOGIES
from engine_core.segments.seg_6B.s3_labels import CHANNELS as REPORT_CHANNELS
from engine_core.segments.seg_6B.s3_labels import STAGES

T = {t: i for i, t in enumerate(TYPOLOGIES)}
LAB = [
    "txn_id", "ts_utc", "is_fraud", "fraud_typology", "campaign_id", "fraud_stage",
    "observed_is_fraud", "report_channel", "label_available_ts",
]  # fmt: skip
TXC = ["txn_id", "txn_type", "channel", "is_approved", "party_id", "instrument_id", "device_id"]
OWN_ROLES = ("PRIMARY_OWNER", "SHARED_USER")
CARD_ROLES = ("CARD_ON_FILE", "TOKEN_BINDING")
ROLES = (*OWN_ROLES, *CARD_ROLES, "ACCOUNT_ACCESS")
AUTHORISED = (X.TXN_TYPES.index("PURCHASE"), X.TXN_TYPES.index("QUASI_CASH"))


# --- the party → device relation of 6A ------------------------------------------------------
class PartyDevices:
    """(party, device) pairs of every 6A device link: own/shared devices directly, card-on-file
    and token devices through the card's holder, account-access devices through the
    account's owner. Pairs are keyed ``party_row·n_devices + device_row`` (exact, one u64)."""

    def __init__(self, party_ids, pairs_party, pairs_device):
        self.parties = B.Ids(party_ids)
        dev = np.asarray(pairs_device, np.uint64)
        self.devices = np.unique(dev)
        self.dev_index = SortedIndex(self.devices)
        p = self.parties.rows(pairs_party)
        keep = p >= 0
        self.keys = SortedIndex(np.unique(self._key(p[keep], self._dev_rows(dev[keep]))))

    def _dev_rows(self, d) -> np.ndarray:
        n = self.devices.size
        if n == 0:
            return np.full(np.size(d), -1, np.int64)
        pos = np.minimum(self.dev_index.positions(d), n - 1)
        return np.where(self.devices[pos] == np.asarray(d, np.uint64), pos, -1)

    def _key(self, p, d) -> np.ndarray:
        return np.asarray(p, np.uint64) * np.uint64(max(self.devices.size, 1)) + np.asarray(
            d, np.uint64
        )

    def linked(self, party, device) -> np.ndarray:
        p, d = self.parties.rows(party), self._dev_rows(device)
        ok = (p >= 0) & (d >= 0)
        out = np.zeros(np.size(party), bool)
        out[ok] = self.keys.contains(self._key(p[ok], d[ok]))
        return out


def party_devices(ctx) -> PartyDevices:
    def build():
        links = B.table(
            ctx,
            "s4_device_links_6A",
            ["device_id", "link_role", "party_id", "account_id", "instrument_id"],
        )
        role = B.code(links.column("link_role"), ROLES)
        dev = B.u64(links.column("device_id"))
        inst = B.table(ctx, "s3_instrument_base_6A", ["instrument_id", "holder_party_id"])
        acc = B.table(ctx, "s2_account_base_6A", ["account_id", "owner_party_id"])

        def via(ids_col, base, base_col):
            rows = B.Ids(B.u64(base.column(0))).rows(B.u64(links.column(ids_col)))
            owner = B.u64(base.column(base_col))
            return np.where(rows >= 0, owner[np.maximum(rows, 0)], 0)

        own = role < len(OWN_ROLES)
        card = (role >= len(OWN_ROLES)) & (role < len(OWN_ROLES) + len(CARD_ROLES))
        access = role == len(ROLES) - 1
        party = np.where(own, B.u64(links.column("party_id")), 0)
        party = np.where(card, via("instrument_id", inst, "holder_party_id"), party)
        party = np.where(access, via("account_id", acc, "owner_party_id"), party)
        keep = party != 0
        pb = B.table(ctx, "s1_party_base_6A", ["party_id"])
        return PartyDevices(B.u64(pb.column(0)), party[keep], dev[keep])

    names = ("s4_device_links_6A", "s3_instrument_base_6A", "s2_account_base_6A")
    return B.memo(ctx, "party_devices", names, build)


# --- the S3 pass ----------------------------------------------------------------------------
@dataclass
class S3Scan:
    fraud: dict  # column → array over the fraud rows, in row order
    legit: dict  # counts
    rows: int


def scan_s3(ctx) -> S3Scan:
    def build():
        pd = party_devices(ctx)
        keep: dict[str, list] = {k: [] for k in FRAUD_COLS}
        n = dict.fromkeys(LEGIT_COUNTS, 0)
        rows = 0
        for lab, tx in B.aligned(ctx, ("s3_labels_6B", LAB), ("s3_transactions_6B", TXC)):
            if not lab.column("txn_id").equals(tx.column("txn_id")):
                B.fail("I08", "s3_labels_6B is not row-aligned with s3_transactions_6B")
            c = _columns(lab, tx)
            f = c["fraud"]
            for k in FRAUD_COLS:
                keep[k].append(c[k][f])
            legit_counts(n, c, pd)
            rows += lab.num_rows
        fraud = {k: np.concatenate(v) for k, v in keep.items()}
        return S3Scan(fraud, n, rows)

    return B.memo(ctx, "s3_scan", ("s3_labels_6B", "s3_transactions_6B"), build)


FRAUD_COLS = (
    "txn_id", "ts", "typ", "campaign", "stage", "observed", "label_ts", "approved", "channel",
    "party", "instrument", "device",
)  # fmt: skip
LEGIT_COUNTS = (
    "cp_n", "cp_ok", "cnp_n", "cnp_ok", "cnp_dev", "cnp_own", "fd_base", "fd_n",
)  # fmt: skip


def _columns(lab, tx) -> dict:
    return {
        "txn_id": B.u64(lab.column("txn_id")),
        "ts": B.ts_us(lab.column("ts_utc")),
        "fraud": B.flag(lab.column("is_fraud")),
        "typ": B.code(lab.column("fraud_typology"), TYPOLOGIES),
        "campaign": B.u64(lab.column("campaign_id")),
        "stage": B.code(lab.column("fraud_stage"), STAGES),
        "observed": B.flag(lab.column("observed_is_fraud")),
        "report": B.code(lab.column("report_channel"), REPORT_CHANNELS),
        "label_ts": B.ts_us(lab.column("label_available_ts")),
        "type": B.code(tx.column("txn_type"), X.TXN_TYPES),
        "channel": B.code(tx.column("channel"), X.CHANNELS),
        "approved": B.flag(tx.column("is_approved")),
        "party": B.u64(tx.column("party_id")),
        "instrument": B.u64(tx.column("instrument_id")),
        "device": B.u64(tx.column("device_id")),
    }


def legit_counts(n: dict, c: dict, pd: PartyDevices) -> None:
    """Adds one slice's legit counts: purchase authorisations per channel (R04), CNP rows
    with a device and those on the payer's own devices (R06), approved CNP purchases and
    their false disputes (R09)."""
    legit, ch, ok = ~c["fraud"], c["channel"], c["approved"]
    auth = legit & np.isin(c["type"], AUTHORISED)
    for name, k in (("cp", 0), ("cnp", 1)):
        m = auth & (ch == k)
        n[f"{name}_n"] += int(m.sum())
        n[f"{name}_ok"] += int((m & ok).sum())
    m = legit & (ch == 1) & (c["device"] != 0)
    n["cnp_dev"] += int(m.sum())
    n["cnp_own"] += int(pd.linked(c["party"][m], c["device"][m]).sum())
    base = legit & ok & (ch == 1) & (c["type"] == 0)
    n["fd_base"] += int(base.sum())
    fd = base & c["observed"] & (c["report"] == REPORT_CHANNELS.index("FALSE_DISPUTE"))
    n["fd_n"] += int(fd.sum())


# --- R01 ------------------------------------------------------------------------------------
def r01_shares(typ: np.ndarray, shares: dict, skipped=()) -> Outcome:
    """Realised typology shares of F vs the policy shares renormalised over the typologies
    S2 did not skip (an empty pool, tiny only: its LRR runs over the others, §4.3)."""
    f = int(typ.size)
    live = {t: float(shares.get(t, 0.0)) for t in TYPOLOGIES if t not in set(skipped)}
    total = sum(live.values())
    counts = np.bincount(typ[typ >= 0], minlength=len(TYPOLOGIES))
    measured, threshold, ok = {"F": f, "skipped": list(skipped)}, {}, True
    tol = K.R01_SHARE_TOLERANCE
    for i, t in enumerate(TYPOLOGIES):
        want = live.get(t, 0.0) / total if total else 0.0
        got = counts[i] / f if f else 0.0
        measured[t] = got
        threshold[t] = [max(want - tol, 0.0), want + tol]
        ok &= abs(got - want) <= tol + 1e-12
    return Outcome(ok and f > 0, measured, threshold, skipped=f == 0)


def r01(ctx) -> Outcome:
    s = scan_s3(ctx)
    budget = B.read_json(ctx, "s2_budget_6B", state=B.V)
    shares = B.policy(ctx, "fraud_campaigns_6B")["typology_share"]
    return r01_shares(s.fraud["typ"], shares, budget.get("skipped", []))


# --- R04 ------------------------------------------------------------------------------------
def r04_approval(n: dict, fraud_approved: np.ndarray) -> Outcome:
    fa = np.asarray(fraud_approved, bool)
    parts = {
        "legit_cp": _rate(n["cp_ok"], n["cp_n"], K.R04_MIN_ROWS, K.R04_LEGIT_CP),
        "legit_cnp": _rate(n["cnp_ok"], n["cnp_n"], K.R04_MIN_ROWS, K.R04_LEGIT_CNP),
        "fraud": _rate(int(fa.sum()), fa.size, K.R04_MIN_FRAUD, K.R04_FRAUD),
    }
    thr = {"legit_cp": list(K.R04_LEGIT_CP), "legit_cnp": list(K.R04_LEGIT_CNP),
           "fraud": list(K.R04_FRAUD), "min_legit_rows": K.R04_MIN_ROWS,
           "min_fraud_rows": K.R04_MIN_FRAUD}  # fmt: skip
    extra = {"legit_cp_rows": n["cp_n"], "legit_cnp_rows": n["cnp_n"], "fraud_rows": int(fa.size)}
    return B.combine(parts, thr, extra)


def _rate(num, den, floor, band):
    if den < floor:
        return None, True
    v = num / den
    return v, B.inside(v, band)


def r04(ctx) -> Outcome:
    s = scan_s3(ctx)
    return r04_approval(s.legit, s.fraud["approved"])


# --- R06 ------------------------------------------------------------------------------------
def r06_devices(ato_linked: np.ndarray, legit_dev: int, legit_own: int, on_operator=None):
    """``ato_linked``: per ATO row with a device, is that device linked to the victim?"""
    ato_linked = np.asarray(ato_linked, bool)
    n_ato = int(ato_linked.size)
    foreign = float((~ato_linked).mean()) if n_ato else None
    own = legit_own / legit_dev if legit_dev else None
    parts = {
        "ato_foreign_device": (
            foreign if n_ato >= K.R06_MIN_ATO_ROWS else None,
            foreign is not None and foreign >= K.R06_ATO_FOREIGN_DEVICE_MIN,
        ),
        "legit_cnp_own_device": (
            own if legit_dev >= K.R06_MIN_LEGIT_ROWS else None,
            own is not None and own >= K.R06_LEGIT_OWN_DEVICE_MIN,
        ),
    }
    thr = {"ato_foreign_device": [K.R06_ATO_FOREIGN_DEVICE_MIN, 1.0],
           "legit_cnp_own_device": [K.R06_LEGIT_OWN_DEVICE_MIN, 1.0],
           "min_ato_rows": K.R06_MIN_ATO_ROWS, "min_legit_rows": K.R06_MIN_LEGIT_ROWS}  # fmt: skip
    extra = {"ato_rows_with_device": n_ato, "legit_cnp_rows_with_device": int(legit_dev)}
    if on_operator is not None and n_ato:
        extra["ato_on_operator_device"] = float(np.mean(on_operator))
    return B.combine(parts, thr, extra)


def r06(ctx) -> Outcome:
    s = scan_s3(ctx)
    f = s.fraud
    m = (f["typ"] == T["ACCOUNT_TAKEOVER"]) & (f["device"] != 0)
    linked = party_devices(ctx).linked(f["party"][m], f["device"][m])
    ops = B.u64(B.table(ctx, "s5_operator_devices_6A", ["device_id"]).column(0))
    on_op = np.isin(f["device"][m], ops)
    return r06_devices(linked, s.legit["cnp_dev"], s.legit["cnp_own"], on_op)


# --- R13 ------------------------------------------------------------------------------------
def r13_days(ts_us: np.ndarray) -> Outcome:
    """The largest UTC-day share of the fraud rows (WARN severity: a burst is reported, it
    never withholds the flag)."""
    ts = np.asarray(ts_us, np.int64)
    f = int(ts.size)
    day = ts // B.DAY_US
    top = float(np.unique(day, return_counts=True)[1].max() / f) if f else None
    thr = {"max_day_share": [0.0, K.R13_DAY_SHARE_MAX], "min_fraud": K.R13_MIN_FRAUD}
    measured = {"max_day_share": top, "F": f, "days": int(np.unique(day).size)}
    if f < K.R13_MIN_FRAUD:
        return Outcome(True, measured, thr, skipped=True)
    return Outcome(True, measured, thr, warn=top > K.R13_DAY_SHARE_MAX)


def r13(ctx) -> Outcome:
    return r13_days(scan_s3(ctx).fraud["ts"])
