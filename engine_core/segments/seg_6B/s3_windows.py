"""6B.S3 output windows (layer3 §4.4 step 1): the run sources of the k-way merge and the
assembly of one window's three tables.

Sources: each S1 part is one run, read sequentially in small batches (a buffered reader
holds pages, not 2^20-row row groups, so memory is ~runs × batch + the window); the INJECT
rows of the overlay are one more run. A window's rows come from one contiguous slice per
run; S1 rows whose ``txn_index`` is a CONVERT/REBIND overlay row are replaced in place by it
(same ``ts_utc`` and ``txn_id``, so the order holds — checked: MERGE_ORDER_VIOLATION).
Everything here is column arithmetic and one ``Table.take`` per table; windows run on
worker threads and write their own part (part k = window k whatever the worker count)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine_core.errors import EngineError
from engine_core.kernels.merge import Window
from engine_core.segments.seg_6B import checks_s3 as C
from engine_core.segments.seg_6B import s3_labels as S
from engine_core.segments.seg_6B import txn as X
from engine_core.segments.seg_6B.s2_pools import TYPOLOGIES
from engine_core.segments.seg_6B.s3_overlay import (
    CNP,
    CONVERT,
    INJECT,
    KINDS,
    PURCHASE,
    Overlay,
    codes,
    ts_us,
)  # fmt: skip

STATE = "6B.S3"
BATCH_ROWS = 1 << 14  # rows per read batch of a run (memory ≈ runs × batch)
READ_BUFFER = 1 << 16  # bytes of buffered column reads per run
S1_EXTRA = ["txn_index", "source", "arrival_index", "n_children"]
ARRIVAL, INJECTED = X.SOURCES.index("ARRIVAL"), X.SOURCES.index("INJECTED")
TSU = pa.timestamp("us", tz="UTC")


def s1_source(path, columns):
    """Run batches ``(ts, ids, batch)`` of one S1 part file, in file order."""
    for b in pq.ParquetFile(path, buffer_size=READ_BUFFER).iter_batches(
        batch_size=BATCH_ROWS, columns=columns
    ):
        yield ts_us(b.column("ts_utc")), b.column("txn_id").to_numpy().astype(np.uint64), b


def inject_source(ov: Overlay):
    """The INJECT rows as one run; the payload is their overlay row numbers."""
    rows = ov.inject_rows
    for a in range(0, rows.size, BATCH_ROWS):
        r = rows[a : a + BATCH_ROWS]
        yield ov.ts[r], ov.ids[r], r


@dataclass
class Context:
    """What every window needs (read-only, shared by the worker threads)."""

    ov: Overlay
    n_s1: int  # S1 runs (run n_s1 is the INJECT run)
    s1_schema: pa.Schema  # the columns read from S1
    schemas: dict  # dataset id → arrow schema
    noise: S.Noise
    pol: S.LabelPolicy


def _s1_slice(w: Window, cx: Context) -> pa.Table:
    batches = [p.slice(off, n) for r in range(cx.n_s1) for p, off, n in w.pieces[r]]
    if not batches:
        return cx.s1_schema.empty_table()
    return pa.Table.from_batches(batches, schema=cx.s1_schema)


def assemble(w: Window, cx: Context) -> dict:
    """One window's ``s3_transactions_6B``, ``s3_labels_6B`` and ``s3_txn_provenance_6B``
    tables and its counts."""
    ov, n_s1 = cx.ov, cx.n_s1
    s = _s1_slice(w, cx)
    n_s = s.num_rows
    s_idx = s.column("txn_index").to_numpy().astype(np.uint64)
    # replacement: S1 rows named by a CONVERT/REBIND overlay row
    pos = np.searchsorted(ov.cr_index, s_idx)
    hit = pos < ov.cr_index.size
    hit[hit] = ov.cr_index[pos[hit]] == s_idx[hit]
    rep_s = np.flatnonzero(hit)
    rep_ov = ov.cr_rows[pos[rep_s]]
    s_ts = ts_us(s.column("ts_utc"))
    s_id = s.column("txn_id").to_numpy().astype(np.uint64)
    bad = (ov.ts[rep_ov] != s_ts[rep_s]) | (ov.ids[rep_ov] != s_id[rep_s])
    if bad.any():
        raise EngineError(
            "MERGE_ORDER_VIOLATION", STATE,
            f"window {w.index}: overlay txn_index {int(s_idx[rep_s][bad][0])} changes the "
            "ts_utc or txn_id of the S1 row it replaces",
        )  # fmt: skip
    source = codes(s.column("source"), X.SOURCES)
    conv = ov.kind[rep_ov] == CONVERT
    n_kids = s.column("n_children").to_numpy()
    bad = conv & ((source[rep_s] != ARRIVAL) | (n_kids[rep_s] != 0))
    if bad.any():
        C.fail("I02", f"window {w.index}: a CONVERT row replaces a row that is not a childless "
               "ARRIVAL row", bad)  # fmt: skip
    inj_ov = np.concatenate([p[off : off + n] for p, off, n in w.pieces[n_s1]] or [[]]).astype(
        np.int64
    )
    extra = np.concatenate([rep_ov, inj_ov])
    # output row k → row of U = [S1 slice ; overlay rows `extra`]; j = its S1 slice row,
    # n_s (a pad entry) for INJECT rows, so per-row lookups below need no branch
    s_off = np.concatenate([[0], np.cumsum(w.count[:n_s1])])
    from_s1 = w.run < n_s1
    r = np.minimum(w.run, n_s1 - 1)
    j = np.where(from_s1, s_off[r] + w.row - w.start[r], n_s)
    rank = np.full(n_s + 1, -1, np.int64)
    rank[rep_s] = np.arange(rep_s.size)
    inj_at = n_s + rep_s.size + w.row - w.start[n_s1]
    idx = np.where(from_s1, np.where(rank[j] >= 0, n_s + rank[j], j), inj_at)
    # --- transactions ------------------------------------------------------------------
    tx_schema = cx.schemas["s3_transactions_6B"]
    u = pa.concat_tables([s.select(tx_schema.names).cast(tx_schema), ov.txn.take(extra)])
    txn = u.unify_dictionaries().combine_chunks().take(pa.array(idx))
    # --- labels ------------------------------------------------------------------------
    lab = _labels(s, n_s, hit, s_idx, s_ts, cx, extra)
    lab = {k: v[idx] for k, v in lab.items()}
    lab["ts"] = np.concatenate([s_ts, ov.ts[extra]])[idx]
    C.i08_labels(lab, cx.pol, w.index)  # fmt: skip
    labels = _label_table(txn, lab, cx.schemas["s3_labels_6B"])
    # --- provenance --------------------------------------------------------------------
    arr = pc.fill_null(s.column("arrival_index").cast(pa.int64()), -1).to_numpy()
    kind_s = np.full(n_s, -1, np.int64)
    kind_s[rep_s] = ov.kind[rep_ov]
    src = np.append(source, INJECTED)[j]
    a_idx = np.append(arr, -1)[j]
    kind = np.append(kind_s, INJECT)[j]
    prov = X.table(
        {
            "txn_id": txn.column("txn_id"), "ts_utc": txn.column("ts_utc"),
            "source": (src, X.SOURCES),
            "overlay_kind": (np.maximum(kind, 0), KINDS, kind < 0),
            "arrival_index": (np.maximum(a_idx, 0), a_idx < 0),
        },
        cx.schemas["s3_txn_provenance_6B"],
    )  # fmt: skip
    # --- counts for the state checks ---------------------------------------------------
    typ = codes(txn.column("txn_type"), X.TXN_TYPES)
    ch = codes(txn.column("channel"), X.CHANNELS)
    ok = txn.column("is_approved").to_numpy(zero_copy_only=False)
    fr = lab["is_fraud"]
    return {
        "txn": txn, "labels": labels, "prov": prov, "rows": int(idx.size),
        "arrivals": a_idx[(src == ARRIVAL) & (a_idx >= 0)],
        "arrival_rows": int((src == ARRIVAL).sum()),
        "replaced": rep_ov, "injected": int(inj_ov.size),
        "fraud_by_typology": np.bincount(lab["typology"][fr], minlength=len(TYPOLOGIES)),
        "legit_cnp_purchases": int((~fr & (typ == PURCHASE) & (ch == CNP) & ok).sum()),
        "declined_fraud": int((fr & ~ok).sum()),
        "observed_fraud": int((fr & lab["observed"]).sum()),
        "false_disputes": int((~fr & lab["observed"]).sum()),
    }  # fmt: skip


def _labels(s, n_s, replaced, s_idx, s_ts, cx: Context, extra) -> dict:
    """Label columns of U = [S1 slice ; overlay rows ``extra``]: S1 rows are legit, with the
    false-dispute law on their approved CNP purchases; overlay rows carry their own."""
    ov = cx.ov
    obs = np.zeros(n_s, bool)
    chan = np.full(n_s, -1, np.int64)
    when = np.zeros(n_s, np.int64)
    if n_s:
        ok = s.column("is_approved").to_numpy(zero_copy_only=False)
        el = ~replaced & ok
        el &= codes(s.column("txn_type"), X.TXN_TYPES) == PURCHASE
        el &= codes(s.column("channel"), X.CHANNELS) == CNP
        e = np.flatnonzero(el)
        hit, at = S.false_disputes(cx.noise, s_idx[e], s_ts[e], cx.pol.p_false)
        obs[e[hit]], chan[e[hit]], when[e[hit]] = True, S.FALSE_DISPUTE, at[hit]
    lab = ov.lab
    base = {
        "is_fraud": np.zeros(n_s, bool), "typology": np.full(n_s, -1, np.int64),
        "campaign": np.zeros(n_s, np.uint64), "stage": np.full(n_s, -1, np.int64),
        "observed": obs, "channel": chan, "label_ts": when, "anchor": s_ts,
    }  # fmt: skip
    return {k: np.concatenate([base[k], lab[k][extra]]) for k in base}


def _label_table(txn: pa.Table, lab: dict, schema: pa.Schema) -> pa.Table:
    fr, obs = lab["is_fraud"], lab["observed"]
    return X.table(
        {
            "txn_id": txn.column("txn_id"), "ts_utc": txn.column("ts_utc"),
            "is_fraud": fr,
            "fraud_typology": (np.maximum(lab["typology"], 0), TYPOLOGIES, lab["typology"] < 0),
            "campaign_id": (lab["campaign"], lab["campaign"] == 0),
            "fraud_stage": (np.maximum(lab["stage"], 0), S.STAGES, lab["stage"] < 0),
            "observed_is_fraud": obs,
            "report_channel": (np.maximum(lab["channel"], 0), S.CHANNELS, lab["channel"] < 0),
            "label_available_ts": pa.array(lab["label_ts"], TSU, mask=~obs),
        },
        schema,
    )  # fmt: skip
