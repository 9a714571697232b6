"""6B leakage and learnability gates over the ML export (layer3 §4.6–§4.7: R10 purity, R11
id leak probe, R12 baseline AUC), measured by 6B.S5 with ``engine_core.gates.baseline_model``.

R10 scans every row of every whitelisted column, one column at a time across the parts
(a column of 1.4×10^8 rows is ≤ 1.1 GB, the whole table would be ~40×). R11 and R12 run on
the §4.6 sample: every fraud row plus the legit rows with ``(txn_id >> 32) & 0xFFFF`` below
the largest threshold keeping ≤ ``baseline_sample`` rows. The thresholds come from one
streamed pass over ``ml_labels_6B`` (per-split histograms of those 16 bits), so the sample is
gathered in a second pass without ever holding the full table; it equals
``baseline_sample_mask`` on the full split (tested)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from engine_core.checks import Outcome
from engine_core.gates import baseline_model as M
from engine_core.segments.common import input_parts
from engine_core.segments.seg_6B import constants as K
from engine_core.segments.seg_6B import gates_base as B

ML, LABELS = "ml_transactions_6B", "ml_labels_6B"
SPLITS = ("TRAIN", "VALID", "TEST")
LABEL_COLS = ["txn_id", "split", "is_fraud", "fraud_typology"]
FEATURES = [*M.CATEGORICAL, "mcc", *M.BINNED, "ts_local", "txn_id"]
KEY_BINS = 1 << 16


def sample_key(txn_id) -> np.ndarray:
    return ((np.asarray(txn_id, np.uint64) >> np.uint64(32)) & np.uint64(0xFFFF)).astype(np.int64)


def threshold(legit_hist: np.ndarray, n_fraud: int, max_rows: int) -> int:
    """``baseline_sample_mask``'s threshold from the legit rows' key histogram."""
    cum = np.cumsum(legit_hist)
    return int(np.searchsorted(cum, max_rows - n_fraud, side="right"))


def key_hists(ctx) -> dict:
    """Per split: the legit rows' key histogram and the fraud rows (one labels pass)."""

    def build():
        out = {s: [np.zeros(KEY_BINS, np.int64), 0] for s in SPLITS}
        for rb in B.batches(ctx, LABELS, ["txn_id", "split", "is_fraud"]):
            split = B.code(rb.column("split"), SPLITS)
            y = B.flag(rb.column("is_fraud"))
            key = sample_key(B.u64(rb.column("txn_id")))
            for k, s in enumerate(SPLITS):
                m = split == k
                out[s][0] += np.bincount(key[m & ~y], minlength=KEY_BINS)
                out[s][1] += int((m & y).sum())
        return out

    return B.memo(ctx, "ml_key_hists", (LABELS,), build)


def cuts(ctx, groups: tuple[tuple[str, ...], ...], max_rows: int) -> dict[str, int]:
    """Per split, the §4.6 key threshold of the split group it belongs to (``(SPLITS,)``: one
    sample over the whole table; ``(("TRAIN",), ("VALID",))``: one per split)."""
    h = key_hists(ctx)
    out = {}
    for g in groups:
        cut = threshold(sum(h[s][0] for s in g), sum(h[s][1] for s in g), max_rows)
        out.update(dict.fromkeys(g, cut))
    return out


def gather(ctx, cut: dict[str, int], columns: list[str]) -> pa.Table:
    """One pass: the sample rows (every fraud row, legit rows with key < ``cut[split]``; splits
    without a cut are left out) with ``columns`` of ``ml_transactions_6B`` plus ``split``,
    ``is_fraud`` and ``fraud_typology``, in row order."""
    lim = np.array([cut.get(s, -1) for s in SPLITS] + [-1], np.int64)
    out = []
    for tx, lab in B.aligned(ctx, (ML, columns), (LABELS, LABEL_COLS)):
        split = B.code(lab.column("split"), SPLITS)
        keep = (split >= 0) & (lim[split] >= 0)
        keep &= B.flag(lab.column("is_fraud")) | (
            sample_key(B.u64(lab.column("txn_id"))) < lim[split]
        )
        if keep.any():
            mask = pa.array(keep)
            t = tx.filter(mask)
            for c in ("split", "is_fraud", "fraud_typology"):
                t = t.append_column(c, lab.column(c).filter(mask))
            out.append(t)
    if not out:  # nothing kept: an empty sample (its gates report SKIPPED)
        return pa.table({"txn_id": pa.array([], pa.uint64()), "split": pa.array([], pa.string()),
                         "is_fraud": pa.array([], pa.bool_()),
                         "fraud_typology": pa.array([], pa.string())})  # fmt: skip
    return pa.concat_tables(out).unify_dictionaries().combine_chunks()


def split_of(t: pa.Table, name: str) -> pa.Table:
    return t.filter(pa.array(B.code(t.column("split"), SPLITS) == SPLITS.index(name)))


# --- R10 ------------------------------------------------------------------------------------
def r10_purity(columns, is_fraud) -> Outcome:
    """``columns``: ``(name, Arrow column over every row)`` pairs, row-aligned with
    ``is_fraud`` (an iterable: the reader yields one column at a time)."""
    y = np.asarray(is_fraud, np.float64)
    bad, n_cols = [], 0
    for name, col in columns:
        n_cols += 1
        bad += M.purity_violations(
            pa.table({name: col}), y, [name], K.R10_MAX_DISTINCT, K.R10_MIN_ROWS, K.R10_MAX_SHARE
        )
    n_fraud = int(y.sum())
    measured = {
        "violations": len(bad),
        "worst": [list(v) for v in sorted(bad, key=lambda v: -v[3])[:10]],
        "columns": n_cols,
        "rows": int(y.size),
        "fraud_rows": n_fraud,
    }
    thr = {"violations": 0, "max_distinct": K.R10_MAX_DISTINCT, "min_rows": K.R10_MIN_ROWS,
           "max_share": K.R10_MAX_SHARE}  # fmt: skip
    # with fewer than min_rows·max_share fraud rows no value can be impure: nothing measured
    vacuous = n_fraud < K.R10_MIN_ROWS * K.R10_MAX_SHARE
    return Outcome(not bad, measured, thr, skipped=vacuous)


def _column(parts, name: str):
    t = pa.concat_tables([pq.read_table(p, columns=[name]) for p in parts])
    return t.unify_dictionaries().column(0).combine_chunks()


def r10(ctx) -> Outcome:
    lab = input_parts(ctx, LABELS, state=B.V)
    y = B.flag(pa.concat_tables([pq.read_table(p, columns=["is_fraud"]) for p in lab]).column(0))
    parts = input_parts(ctx, ML, state=B.V)
    names = ctx.dictionary.arrow_schema_of(ML).names
    if sum(pq.ParquetFile(p).metadata.num_rows for p in parts) != y.size:
        B.fail("I09", "ml_labels_6B is not row-aligned with ml_transactions_6B")
    return r10_purity(((n, _column(parts, n)) for n in names), y)


# --- R11 ------------------------------------------------------------------------------------
def r11_probe(sample: pa.Table) -> Outcome:
    r = M.id_leak_probe_6b(sample)
    measured = {"auc": None if r.skipped else r.auc, "n_fit": r.n_fit, "n_score": r.n_score,
                "positives_scored": r.n_pos_score, "columns": list(r.columns)}  # fmt: skip
    thr = {"auc": [0.0, r.auc_max], "min_positives": K.R11_MIN_POSITIVES}
    skipped = r.skipped or r.n_pos_score < K.R11_MIN_POSITIVES
    return Outcome(r.passed, measured, thr, skipped=skipped)


def r11(ctx) -> Outcome:
    cap = K.BASELINE_SAMPLE[ctx.manifest.profile_id]
    cols = [c for c in M.ID_COLUMNS if c in ctx.dictionary.arrow_schema_of(ML).names]
    return r11_probe(gather(ctx, cuts(ctx, (SPLITS,), cap), cols))


# --- R12 ------------------------------------------------------------------------------------
def r12_baseline(train: pa.Table, valid: pa.Table, max_rows: int | None) -> Outcome:
    """FAIL tier (leak guard) fails the gate; WARN tier (realism target) is reported as WARN
    with the gate passed; overall SKIPPED below R12_MIN_FRAUD fraud rows in either split."""
    y_tr, y_va = (int(np.count_nonzero(M._labels(t))) for t in (train, valid))
    thr = {"overall_fail_above": M.OVERALL_FAIL, "overall_warn_outside": list(M.OVERALL_WARN),
           "typology_fail_above": M.TYPOLOGY_FAIL, "typology_warn_above": M.TYPOLOGY_WARN,
           "min_fraud": K.R12_MIN_FRAUD, "min_valid_fraud_per_typology": K.R12_MIN_VALID_FRAUD,
           "sample": max_rows}  # fmt: skip
    if min(y_tr, y_va) < K.R12_MIN_FRAUD:
        m = {"fraud_train": y_tr, "fraud_valid": y_va}
        return Outcome(True, m, thr, skipped=True)
    res = M.baseline_auc(train, valid, K.R12_MIN_VALID_FRAUD, max_rows)
    grades = M.grade_baseline(res)
    measured = {
        "overall": res.auc,
        "typology": {t: {"auc": a, "valid_fraud": n} for t, (a, n) in res.typology.items()},
        "grades": grades,
        "n_train": res.n_train, "n_valid": res.n_valid, "n_features": res.n_features,
        "fraud_train": res.n_fraud_train, "fraud_valid": res.n_fraud_valid,
    }  # fmt: skip
    status = set(grades.values())
    return Outcome(
        "FAIL" not in status, measured, thr, skipped=grades["overall"] == "SKIPPED",
        warn="WARN" in status,
    )  # fmt: skip


def r12(ctx) -> Outcome:
    cap = K.BASELINE_SAMPLE[ctx.manifest.profile_id]
    both = gather(ctx, cuts(ctx, (("TRAIN",), ("VALID",)), cap), FEATURES)
    return r12_baseline(split_of(both, "TRAIN"), split_of(both, "VALID"), cap)
