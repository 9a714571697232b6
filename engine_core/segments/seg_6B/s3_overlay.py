"""6B.S3 overlay preparation (layer3 §4.4): the S2 overlay read once (O(F) rows), validated,
and labelled before the merge — every fraud row is an overlay row, so clusters, reports,
declined-row noise and the entity labels need nothing from the S1 stream.

Overlay semantics (contract ``s2_overlay_6B``): CONVERT = an S1 ARRIVAL row without children,
now fraud (same ``txn_index``, ``txn_id``, ``ts_utc``); REBIND = an S1 row moved to another
party, still legit (its campaign id is provenance only: the labels carry no typology,
campaign or stage for it); INJECT = a new fraud row with ``txn_index = 4A + 80P +
2^20·campaign_key + j``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine_core.errors import EngineError
from engine_core.kernels.lookup import find_sorted
from engine_core.segments.seg_6B import checks_s3 as C
from engine_core.segments.seg_6B import s3_labels as S
from engine_core.segments.seg_6B import txn as X
from engine_core.segments.seg_6B.s2_pools import TYPOLOGIES

STATE = "6B.S3"
KINDS = ("CONVERT", "INJECT", "REBIND")
CONVERT, INJECT, REBIND = 0, 1, 2
PURCHASE, CNP = X.TXN_TYPES.index("PURCHASE"), X.CHANNELS.index("CNP")


def codes(col, vocab) -> np.ndarray:
    """Codes in ``vocab`` of a dictionary (or string) column without a Python object per
    row: −1 for null, −2 for a value outside ``vocab``."""
    if isinstance(col, pa.ChunkedArray):
        parts = [codes(c, vocab) for c in col.chunks]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)
    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col)
    lut = pc.fill_null(
        pc.index_in(col.dictionary, value_set=pa.array(list(vocab), pa.string())), -2
    )
    lut = np.append(np.asarray(lut.to_numpy(zero_copy_only=False), np.int64), -1)
    ind = np.asarray(pc.fill_null(col.indices, -1).to_numpy(zero_copy_only=False), np.int64)
    return lut[ind]  # index −1 (null) reads the appended −1


def u64(col) -> np.ndarray:
    """A nullable uint64 column with 0 for null (ids are never 0)."""
    return np.asarray(pc.fill_null(col, 0).to_numpy(), np.uint64)


def ts_us(col) -> np.ndarray:
    return np.asarray(pc.cast(col, pa.int64()).to_numpy(), np.int64)


@dataclass
class Overlay:
    txn: pa.Table  # public TXN columns, overlay row order
    n: int
    kind: np.ndarray
    txn_index: np.ndarray
    ts: np.ndarray
    ids: np.ndarray
    type: np.ndarray
    channel: np.ndarray
    approved: np.ndarray
    lab: dict  # label columns per overlay row (see ``labels``)
    cr_index: np.ndarray  # sorted txn_index of CONVERT/REBIND rows
    cr_rows: np.ndarray  # their overlay rows
    inject_rows: np.ndarray  # INJECT rows in (ts_utc, txn_id) order
    fraud: np.ndarray  # fraud rows
    clusters: S.Clusters
    entity_rows: dict  # fraud-row columns for the entity labels


def _label_error(msg: str, bad) -> None:
    C.fail("I08", msg, bad, "LABEL_INCONSISTENT")


def read(io, ctx, camp: pa.Table, n_arrivals: int, n_parties: int) -> tuple[pa.Table, dict]:
    """The overlay and its coded columns, with the consistency of kind, fraud flag and
    campaign checked (LABEL_INCONSISTENT) and its ordinals (I01)."""
    t = io.read_table("s2_overlay_6B")
    c = {
        "kind": codes(t.column("overlay_kind"), KINDS),
        "fraud": t.column("is_fraud").to_numpy(zero_copy_only=False).astype(bool),
        "txn_index": t.column("txn_index").to_numpy().astype(np.uint64),
        "ts": ts_us(t.column("ts_utc")),
        "ids": t.column("txn_id").to_numpy().astype(np.uint64),
        "typ": codes(t.column("fraud_typology"), TYPOLOGIES),
        "stage": codes(t.column("fraud_stage"), S.STAGES),
        "campaign": u64(t.column("campaign_id")),
        "key_null": pc.is_null(t.column("cluster_key")).to_numpy(zero_copy_only=False),
        "key": u64(t.column("cluster_key")),
        "type": codes(t.column("txn_type"), X.TXN_TYPES),
        "channel": codes(t.column("channel"), X.CHANNELS),
        "approved": t.column("is_approved").to_numpy(zero_copy_only=False).astype(bool),
    }
    fr, kind = c["fraud"], c["kind"]
    bad = fr != (kind != REBIND)
    if bad.any():
        _label_error("CONVERT/INJECT overlay rows must be fraud, REBIND rows legit", bad)
    bad = fr & ((c["typ"] < 0) | (c["campaign"] == 0) | c["key_null"])
    if bad.any():
        _label_error("a fraud overlay row without typology, campaign or cluster_key", bad)
    c_id = camp.column("campaign_id").to_numpy().astype(np.uint64)
    pos = find_sorted(c_id, c["campaign"])
    pos_c = np.minimum(pos, max(c_id.size - 1, 0))
    known = (pos < c_id.size) & (c_id[pos_c] == c["campaign"]) if c_id.size else ~fr
    bad = fr & ~known
    if bad.any():
        _label_error("a fraud overlay row's campaign is not in s2_campaigns_6B", bad)
    c_typ = codes(camp.column("typology"), TYPOLOGIES)
    c_ord = camp.column("campaign_ordinal").to_numpy().astype(np.int64)
    c["camp_row"] = np.where(fr, pos_c, -1)
    bad = fr & (c_typ[pos_c] != c["typ"]) if c_id.size else np.zeros(fr.size, bool)
    if bad.any():
        _label_error("a fraud overlay row's typology is not its campaign's", bad)
    inj = kind == INJECT
    ckey = (c_typ[pos_c[inj]] << 24) + c_ord[pos_c[inj]] if c_id.size else np.zeros(0, np.int64)
    C.i01_overlay(
        c["ids"], X.txn_ids(ctx, c["txn_index"]), c["txn_index"], inj, ckey,
        4 * n_arrivals + 80 * n_parties,
    )  # fmt: skip
    return t, c


def prepare(
    io, ctx, rng, pol: S.LabelPolicy, camp: pa.Table, noise: S.Noise, n_arrivals, n_parties
):
    t, c = read(io, ctx, camp, n_arrivals, n_parties)
    n, fr, kind = t.num_rows, c["fraud"], c["kind"]
    f = np.flatnonzero(fr)
    c_typ = codes(camp.column("typology"), TYPOLOGIES)
    c_ord = camp.column("campaign_ordinal").to_numpy().astype(np.int64)
    cl = S.clusters(
        rng.family("report"), c_typ, c_ord, c["camp_row"][f], c["key"][f], c["ts"][f],
        c["approved"][f], pol,
    )  # fmt: skip
    rl = S.fraud_rows(cl, noise, c["txn_index"][f], c["ts"][f], c["approved"][f], pol)
    lab = {
        "is_fraud": fr.copy(),
        "typology": np.where(fr, c["typ"], -1),
        "campaign": np.where(fr, c["campaign"], np.uint64(0)),
        "stage": np.where(fr, c["stage"], -1),
        "observed": np.zeros(n, bool),
        "channel": np.full(n, -1, np.int64),
        "label_ts": np.zeros(n, np.int64),
        "anchor": c["ts"].copy(),
    }
    lab["observed"][f], lab["channel"][f], lab["label_ts"][f] = rl.observed, rl.channel, rl.label_ts
    lab["anchor"][f] = cl.anchor[cl.row]
    # rebound rows are legit rows: the false-dispute law applies to them as to S1's
    fd = np.flatnonzero(
        (kind == REBIND) & (c["type"] == PURCHASE) & (c["channel"] == CNP) & c["approved"]
    )
    hit, when = S.false_disputes(noise, c["txn_index"][fd], c["ts"][fd], pol.p_false)
    lab["observed"][fd[hit]] = True
    lab["channel"][fd[hit]] = S.FALSE_DISPUTE
    lab["label_ts"][fd[hit]] = when[hit]
    cr = np.flatnonzero(kind != INJECT)
    o = np.argsort(c["txn_index"][cr], kind="stable")
    schema = ctx.dictionary.arrow_schema_of("s3_transactions_6B")
    txn = t.select(schema.names).unify_dictionaries().combine_chunks()
    ent = {
        "typology": c["typ"][f], "ts": c["ts"][f],
        **{k: u64(t.column(col)).take(f) for k, col in (
            ("party", "party_id"), ("account", "account_id"), ("instrument", "instrument_id"),
            ("device", "device_id"), ("merchant", "merchant_id"),
            ("counterparty", "counterparty_account_id"))},
    }  # fmt: skip
    return t, Overlay(
        txn, n, kind, c["txn_index"], c["ts"], c["ids"], c["type"], c["channel"], c["approved"],
        lab, c["txn_index"][cr][o], cr[o], np.flatnonzero(kind == INJECT), f, cl, ent,
    )  # fmt: skip


def row_columns(t: pa.Table, legit: np.ndarray) -> dict:
    """The coded columns the S1 channel/entity checks take, for overlay rows."""
    present = lambda col: np.where(pc.is_null(t.column(col)).to_numpy(zero_copy_only=False), -1, 0)  # noqa: E731
    return {
        "txn_index": t.column("txn_index").to_numpy(),
        "channel": codes(t.column("channel"), X.CHANNELS),
        "entry": codes(t.column("pos_entry_mode"), X.ENTRY),
        "type": codes(t.column("txn_type"), X.TXN_TYPES),
        "edge": u64(t.column("edge_id")),
        "site": present("site_id"), "term": present("terminal_id"), "dev": present("device_id"),
        "ip": present("ip_id"), "m": present("merchant_id"),
        "parent": u64(t.column("parent_txn_id")),
        "ts": ts_us(t.column("ts_utc")), "ts_local": ts_us(t.column("ts_local")),
        "instrument": u64(t.column("instrument_id")), "account": u64(t.column("account_id")),
        "party": u64(t.column("party_id")), "device": u64(t.column("device_id")),
        "ip_id": u64(t.column("ip_id")), "legit": legit,
    }  # fmt: skip


def check_cover(matched: np.ndarray, ov: Overlay) -> None:
    """Every CONVERT/REBIND row replaced exactly one S1 row (OVERLAY_TARGET_MISSING)."""
    miss = matched[ov.cr_rows] == 0
    if miss.any():
        first = int(ov.txn_index[ov.cr_rows[miss]][0])
        raise EngineError(
            "OVERLAY_TARGET_MISSING", STATE,
            f"{int(miss.sum())} CONVERT/REBIND overlay rows have no S1 row "
            f"(first txn_index {first})",
        )  # fmt: skip
    if (matched[ov.cr_rows] > 1).any():
        C.fail("I02", "an overlay row replaced more than one S1 row")
