"""6B.S4 integrity (layer3 §4.7: I01 on the ML tables, I09): in-state forms run on every
window before it is written (a failure raises and nothing is published), and ``export``,
the same checks over the published files for the check list (``checks.CHECKS``)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine_core.errors import EngineError
from engine_core.segments.common import input_parts, read_json, read_table
from engine_core.segments.seg_6B import s4_join as J
from engine_core.timeutil import parse_utc, utc_str

STATE = "6B.S4"
LABEL_SCAN = ["txn_id", "split", "is_fraud", "y_train_cutoff", "y_valid_cutoff", "y_final"]


def _fail(check: str, msg: str, state: str = STATE):
    raise EngineError("CHECK_FAILED", state, f"6B-{check}: {msg}")


def i01_window(ids: np.ndarray, ts: np.ndarray, k: int, prev=None, state: str = STATE):
    """``txn_id`` non-zero; rows strictly sorted by ``(ts_utc, txn_id)``, also across the
    previous window's last row ``prev`` — strict order makes the ids unique."""
    if (ids == 0).any():
        _fail("I01", f"window {k}: txn_id 0", state)
    if prev is not None and ids.size:
        ts = np.concatenate([[prev[0]], ts])
        ids = np.concatenate([np.array([prev[1]], np.uint64), ids])
    if ids.size > 1:
        step = (ts[1:] > ts[:-1]) | ((ts[1:] == ts[:-1]) & (ids[1:] > ids[:-1]))
        if not step.all():
            i = int(np.argmin(step))
            _fail("I01", f"window {k}: not strictly sorted by (ts_utc, txn_id) at row {i}", state)


def i09_aligned(ids: np.ndarray, label_ids: np.ndarray, k: int, state: str = STATE):
    """Labels row-aligned 1:1 with the transactions."""
    if ids.size != label_ids.size or not np.array_equal(ids, label_ids):
        bad = ids.size if ids.size != label_ids.size else int(np.argmax(ids != label_ids))
        _fail("I09", f"window {k}: labels not row-aligned with transactions (row {bad})", state)


def i09_split(codes: np.ndarray, last: int, k: int, state: str = STATE) -> int:
    """A window (= row group) holds one split, never before the previous one's."""
    if codes.size == 0:
        return last
    s = int(codes[0])
    if (codes != s).any():
        _fail("I09", f"window {k}: more than one split in a row group", state)
    if s < last:
        _fail("I09", f"window {k}: split {J.SPLITS[s]} after {J.SPLITS[last]}", state)
    return s


def edges_sorted(t: pa.Table, state: str = STATE):
    """``ml_entity_edges_6B`` strictly sorted by its PK (src_kind, src_id, edge_type,
    dst_id) under string order, and only the edge vocabulary (no ownership or role)."""
    if t.num_rows < 2:
        return
    kind = _codes(t.column("src_kind"), J.SRC_KINDS)
    edge = _codes(t.column("edge_type"), J.EDGE_TYPES)
    dst_kind = _codes(t.column("dst_kind"), J.DST_KINDS)
    if (J.EDGE_SRC[edge] != kind).any() or (J.EDGE_DST[edge] != dst_kind).any():
        _fail("I09", "an edge's kinds do not match its edge type", state)
    s, d = t.column("src_id").to_numpy(), t.column("dst_id").to_numpy()
    keys = [kind, s, edge, d]
    gt = np.zeros(t.num_rows - 1, bool)
    eq = np.ones(t.num_rows - 1, bool)
    for x in keys:
        gt |= eq & (x[1:] > x[:-1])
        eq &= x[1:] == x[:-1]
    if not gt.all():
        _fail(
            "I09", f"ml_entity_edges_6B not strictly sorted by its PK at row {int(np.argmin(gt))}"
        )


def _codes(col, vocab) -> np.ndarray:
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    idx = pc.index_in(col.cast(pa.string()), value_set=pa.array(list(vocab)))
    out = pc.fill_null(idx, -1).to_numpy(zero_copy_only=False)
    if (out < 0).any():
        _fail("I09", f"value outside {list(vocab)}")
    return out


def export(ctx, state: str = "6B.S5") -> dict:
    """I01 + I09 over the published ML tables: schema = contract = §4.5 whitelist, one split
    per row group in time order inside its boundaries, labels row-aligned 1:1 and as many
    rows as ``s3_transactions_6B``, as-of views nested, edges sorted and unique, and the
    split manifest equal to the rows."""
    schema = ctx.dictionary.arrow_schema_of("ml_transactions_6B")
    if list(schema.names) != list(J.WHITELIST):
        _fail("I09", "contract ml_transactions_6B is not the §4.5 whitelist", state)
    receipt = read_json(ctx, "s0_gate_receipt_6B", state=state)
    pol = ctx.manifest.policies["ml_export_6B"]
    sp = J.split_bounds(
        parse_utc(receipt["horizon_start_utc"]), parse_utc(receipt["horizon_end_utc"]),
        pol["split"]["train_frac"], pol["split"]["valid_end_frac"], pol["maturity_days"],
    )  # fmt: skip
    t_parts = input_parts(ctx, "ml_transactions_6B", state=state)
    l_parts = input_parts(ctx, "ml_labels_6B", state=state)
    if len(t_parts) != len(l_parts):
        _fail("I09", f"{len(t_parts)} transaction parts vs {len(l_parts)} label parts", state)
    rows = {s: 0 for s in J.SPLITS}
    fraud = {s: 0 for s in J.SPLITS}
    last, prev, k = 0, None, 0
    for tp, lp in zip(t_parts, l_parts, strict=True):
        tf, lf = pq.ParquetFile(tp), pq.ParquetFile(lp)
        names = tf.schema_arrow.names
        if names != list(J.WHITELIST) or lf.schema_arrow.names != list(
            ctx.dictionary.arrow_schema_of("ml_labels_6B").names
        ):
            _fail("I09", f"{tp.name}: columns {names} are not the whitelist", state)
        if tf.num_row_groups != lf.num_row_groups:
            _fail("I09", f"{tp.name}: row groups differ from its labels", state)
        for g in range(tf.num_row_groups):
            t = tf.read_row_group(g, columns=["txn_id", "ts_utc", "split"])
            lab = lf.read_row_group(g, columns=LABEL_SCAN)
            ids = t.column("txn_id").to_numpy()
            ts = pc.cast(t.column("ts_utc"), pa.int64()).to_numpy()
            i01_window(ids, ts, k, prev, state)
            i09_aligned(ids, lab.column("txn_id").to_numpy(), k, state)
            codes = _codes(t.column("split"), J.SPLITS)
            if not np.array_equal(codes, _codes(lab.column("split"), J.SPLITS)):
                _fail("I09", f"row group {k}: label split differs", state)
            if not np.array_equal(codes, J.assign_split(ts, sp)):
                _fail("I09", f"row group {k}: split not the one of ts_utc", state)
            last = i09_split(codes, last, k, state)
            y = [lab.column(c).to_numpy(zero_copy_only=False)
                 for c in ("y_train_cutoff", "y_valid_cutoff", "y_final")]  # fmt: skip
            if (y[0] & ~y[1]).any() or (y[1] & ~y[2]).any():
                _fail("I09", f"row group {k}: as-of labels not nested", state)
            if ids.size:
                prev = (int(ts[-1]), int(ids[-1]))
                s = J.SPLITS[int(codes[0])]
                rows[s] += ids.size
                fraud[s] += int(
                    np.count_nonzero(lab.column("is_fraud").to_numpy(zero_copy_only=False))
                )
            k += 1
    n_s3 = sum(
        pq.ParquetFile(p).metadata.num_rows
        for p in input_parts(ctx, "s3_transactions_6B", state=state)
    )
    total = sum(rows.values())
    if total != n_s3:
        _fail("I09", f"{total} ML rows for {n_s3} rows of s3_transactions_6B", state)
    man = read_json(ctx, "ml_split_manifest_6B", state=state)
    got = {s: (man["splits"][s]["rows"], man["splits"][s]["fraud_rows"]) for s in J.SPLITS}
    if got != {s: (rows[s], fraud[s]) for s in J.SPLITS}:
        _fail("I09", f"split manifest {got} differs from the rows", state)
    if man["boundaries"]["VALID"]["start"] != utc_str(sp.b1):
        _fail("I09", "split manifest boundaries differ from the policy", state)
    edges_sorted(read_table(ctx, "ml_entity_edges_6B", state=state), state)
    return {"rows": total, "row_groups": k, **{f"rows_{s}": rows[s] for s in J.SPLITS}}
