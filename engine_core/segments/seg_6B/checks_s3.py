"""6B.S3 in-state integrity (layer3 §4.7: I01–I08, I10), blocking ERROR: a failure raises and
nothing is published.

S1 rows reach S3 unchanged (S1 checked them: I01, I04–I06), so the row-level entity checks
run on the rows S3 introduces — the overlay's converted, injected and rebound rows — while
order, counts, labels and trace are checked over the whole output window by window."""

from __future__ import annotations

import numpy as np

from engine_core.errors import EngineError
from engine_core.kernels.lookup import PairIndex, SortedIndex
from engine_core.segments.seg_6B import s3_labels as S

STATE = "6B.S3"
WALLET = "WALLET_TOKEN"


def fail(check: str, msg: str, bad: np.ndarray | None = None, code: str = "CHECK_FAILED"):
    extra = f" ({int(np.sum(bad))} rows)" if bad is not None else ""
    raise EngineError(code, STATE, f"6B-{check}: {msg}{extra}")


def relabel(err: EngineError) -> EngineError:
    """An S1 check function's failure, attributed to S3 (same code and message)."""
    return err.with_state(STATE)


def i01_overlay(ids, expected_ids, txn_index, kind_inject, campaign_key, base):
    """Overlay ids are the keyed permutation of their ordinals (so unique, non-zero, and
    disjoint from S1's); an injected ordinal is ``base + 2^20·campaign_key + j``."""
    bad = (ids == 0) | (ids != expected_ids)
    if bad.any():
        fail("I01", f"overlay txn_id is not id(txn, txn_index) (first txn_index "
             f"{int(txn_index[bad][0])})", bad)  # fmt: skip
    if np.unique(txn_index).size != txn_index.size:
        fail("I02", "an overlay txn_index repeats (one overlay row per transaction)")
    idx = txn_index[kind_inject]
    off = idx.astype(np.int64) - np.int64(base)  # ordinals stay far below 2^63
    bad = (off < 0) | ((off >> 20) != np.asarray(campaign_key, np.int64))
    if bad.any():
        fail("I01", f"injected txn_index {int(idx[bad][0])} is not 4A + 80P + 2^20·campaign_key "
             "+ j of its campaign", bad)  # fmt: skip


def i05_overlay(rows: dict, e: dict) -> None:
    """Entity coherence of the overlay rows. Every row: the instrument exists, is on the
    row's account and held by the payer; a wallet row's device is its bound device. Rebound
    (legit) rows also: a CNP/online-banking device linked to the payer (own/shared device,
    card on file, bound token, access to the row's account); an IP linked to the row's
    device (to some device when the device is not reported) or in the trip pool."""
    inst = SortedIndex(e["inst_id"])
    pos = inst.positions(rows["instrument"])
    n = e["inst_id"].size
    found = (pos < n) & (e["inst_id"][np.minimum(pos, max(n - 1, 0))] == rows["instrument"])
    if not found.all():
        fail("I05", "an overlay row's instrument is not in s3_instrument_base_6A", ~found)
    bad = (e["inst_account"][pos] != rows["account"]) | (e["inst_holder"][pos] != rows["party"])
    if bad.any():
        fail("I05", "an overlay row's instrument is not the payer's on that account", bad)
    dev = rows["device"]
    wallet = e["inst_wallet"][pos] & (dev != 0)
    bound = e["links"]["TOKEN_BINDING"]
    bad = wallet & (bound.find(rows["instrument"], dev) < 0)
    if bad.any():
        fail("I05", "a wallet row on a device other than its bound one", bad)
    legit = rows["legit"]
    has = legit & (dev != 0) & (rows["channel"] >= 1)
    ok = ~has | wallet
    ok |= e["links"]["OWN"].find(rows["party"], dev) >= 0
    ok |= e["links"]["CARD_ON_FILE"].find(rows["instrument"], dev) >= 0
    ok |= bound.find(rows["instrument"], dev) >= 0
    ok |= e["links"]["ACCOUNT_ACCESS"].find(rows["account"], dev) >= 0
    if not ok.all():
        fail("I05", "a rebound row's device is not linked to its payer", ~ok)
    ip = rows["ip"]
    has_ip = legit & (ip != 0)
    ok = ~has_ip | e["trip_pool"].contains(ip)
    ok |= (dev != 0) & (e["device_ip"].find(dev, ip) >= 0)
    ok |= (dev == 0) & e["linked_ip"].contains(ip)
    if not ok.all():
        fail("I05", "a rebound row's IP is neither linked to its device nor a trip pool IP", ~ok)


def link_index(device_links, ip_links, ip_base) -> dict:
    """The pair indexes :func:`i05_overlay` needs, from 6A link tables given as dicts of
    numpy columns (0 = null id; ``link_role``/``ip_type`` as string arrays of codes)."""
    d, role = device_links["device_id"], device_links["role"]
    pick = lambda r, col: PairIndex(device_links[col][role == r], d[role == r])  # noqa: E731
    own = (role == "PRIMARY_OWNER") | (role == "SHARED_USER")
    links = {
        "TOKEN_BINDING": pick("TOKEN_BINDING", "instrument_id"),
        "CARD_ON_FILE": pick("CARD_ON_FILE", "instrument_id"),
        "ACCOUNT_ACCESS": pick("ACCOUNT_ACCESS", "account_id"),
        "OWN": PairIndex(device_links["party_id"][own], d[own]),
    }
    pool = ip_base["ip_id"][np.isin(ip_base["ip_type"], ["PUBLIC_WIFI", "MOBILE_CGNAT"])]
    return {
        "links": links,
        "device_ip": PairIndex(ip_links["device_id"], ip_links["ip_id"]),
        "linked_ip": SortedIndex(np.unique(ip_links["ip_id"])),
        "trip_pool": SortedIndex(np.unique(pool)),
    }


def i07_roles(typology_codes, entity_of, eligible: dict, typologies) -> None:
    """Fraud rows act on targets holding the typology's 6A role: the card (card
    typologies), the account (takeover, mules), the party (bust-out), the merchant
    (collusion). ``entity_of[t]``: the row ids of typology t's target kind."""
    for t, name in enumerate(typologies):
        rows = typology_codes == t
        if not rows.any():
            continue
        ids = entity_of[name][rows]
        pool = np.asarray(eligible[name], np.uint64)
        ok = SortedIndex(pool).contains(ids) if pool.size else np.zeros(ids.size, bool)
        if not ok.all():
            fail("I07", f"{name} rows on a target without its 6A role (first "
                 f"{int(ids[~ok][0]):#x})", ~ok)  # fmt: skip


def i08_labels(c: dict, pol: S.LabelPolicy, part: int) -> None:
    """``is_fraud ⇔ typology ⇔ campaign`` set, a stage only on fraud rows; observed ⇔
    availability ⇔ channel set; ``label_available_ts ≥ ts_utc``; delay (from the later of
    the cluster's anchor and the row) ≤ the typology's cap, a false dispute's ≤ 120 days;
    the channel is the typology's (FALSE_DISPUTE for legit rows)."""
    fr = c["is_fraud"]
    bad = (fr != (c["typology"] >= 0)) | (fr != (c["campaign"] != 0)) | (~fr & (c["stage"] >= 0))
    if bad.any():
        fail("I08", f"window {part}: is_fraud, typology, campaign and stage disagree", bad,
             "LABEL_INCONSISTENT")  # fmt: skip
    obs = c["observed"]
    bad = obs != (c["channel"] >= 0)
    if bad.any():
        fail("I08", f"window {part}: observed without a channel or a channel unobserved", bad,
             "LABEL_INCONSISTENT")  # fmt: skip
    ts, lab = c["ts"], c["label_ts"]
    bad = obs & (lab < ts)
    if bad.any():
        fail("I08", f"window {part}: label_available_ts before ts_utc", bad, "LABEL_INCONSISTENT")
    delay = lab - np.maximum(c["anchor"], ts)
    t = np.maximum(c["typology"], 0)
    cap = np.where(fr, pol.cap[t] * S.DAY_US, S.FALSE_DISPUTE_LAW[2] * S.DAY_US)
    want = np.where(fr, pol.channel[t], S.FALSE_DISPUTE)
    bad = obs & ((delay > cap) | (c["channel"] != want))
    if bad.any():
        fail("I08", f"window {part}: a delay above its cap or a wrong report channel", bad,
             "LABEL_INCONSISTENT")  # fmt: skip


def i10_trace(ledger, expect: dict[str, int]) -> None:
    got = ledger.totals()
    for fam, draws in expect.items():
        have = got.get(fam, {}).get("draws", 0)
        if have != draws:
            raise EngineError(
                "RNG_TRACE_MISMATCH", STATE, f"6B-I10: {fam} traced {have} draws, formula {draws}"
            )
