"""6B.S3 integrity over the published tables (layer3 §4.7: I01, I02, I03, I08, I10), re-run
by 6B.S5 from the files S3 published (S3 ran the same checks before publishing). Listed in
``checks.CHECKS``."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine_core.errors import EngineError
from engine_core.segments.common import input_parts, read_json, read_table
from engine_core.segments.seg_6B import s3_labels as S
from engine_core.segments.seg_6B import s3_overlay as O
from engine_core.segments.seg_6B.checks_s3 import i08_labels
from engine_core.segments.seg_6B.s2_pools import TYPOLOGIES

V = "6B.S5"
PUBLISHED = ("s3_transactions_6B", "s3_labels_6B", "s3_txn_provenance_6B")


def _v(check: str, msg: str):
    raise EngineError("CHECK_FAILED", V, f"6B-{check}: {msg}")


def _parts(ctx, columns: dict):
    """Part k of the three row-aligned tables, with the asked columns of each."""
    files = {d: input_parts(ctx, d, state=V) for d in PUBLISHED}
    if len({len(f) for f in files.values()}) != 1:
        _v("I01", "the S3 tables do not have the same parts")
    for k in range(len(files[PUBLISHED[0]])):
        yield k, {d: pq.read_table(files[d][k], columns=columns[d]) for d in PUBLISHED}


def s3_merge(ctx) -> dict:
    """I01/I02 over the published S3 tables: strictly sorted across parts, ids non-zero and
    unique, labels and provenance row-aligned, every 5B arrival once, rows = L + I."""
    cols = {"s3_transactions_6B": ["txn_id", "ts_utc"], "s3_labels_6B": ["txn_id", "ts_utc"],
            "s3_txn_provenance_6B": ["txn_id", "ts_utc", "source", "arrival_index"]}  # fmt: skip
    last, ids, arrivals, rows = None, [], [], 0
    for k, t in _parts(ctx, cols):
        tx = t["s3_transactions_6B"]
        for d in PUBLISHED[1:]:
            if not (t[d].column(0).equals(tx.column(0)) and t[d].column(1).equals(tx.column(1))):
                _v("I01", f"{d} part {k} is not row-aligned with s3_transactions_6B")
        ts, i = O.ts_us(tx.column("ts_utc")), tx.column("txn_id").to_numpy()
        if i.size:
            ids.append(i)  # this part's own ids (the carried-over last id is not one)
            if last is not None:
                ts, i = np.r_[last[0], ts], np.r_[last[1], i]
            step = (ts[1:] > ts[:-1]) | ((ts[1:] == ts[:-1]) & (i[1:] > i[:-1]))
            if not step.all() or (i == 0).any():
                _v("I01", f"part {k}: not strictly sorted by (ts_utc, txn_id) or a txn_id 0")
            last = (ts[-1], i[-1])
        p = t["s3_txn_provenance_6B"]
        arr = O.codes(p.column("source"), ["ARRIVAL"]) == 0
        arrivals.append(O.u64(p.column("arrival_index"))[arr])
        rows += tx.num_rows
    all_ids = np.concatenate(ids) if ids else np.zeros(0, np.uint64)
    if np.unique(all_ids).size != all_ids.size:
        _v("I01", "txn_id repeats")
    n5b = sum(pq.ParquetFile(f).metadata.num_rows
              for f in input_parts(ctx, "arrival_events_5B", state=V))  # fmt: skip
    a = np.sort(np.concatenate(arrivals)) if arrivals else np.zeros(0, np.uint64)
    if a.size != n5b or not np.array_equal(a, np.arange(n5b, dtype=a.dtype)):
        _v("I02", f"{a.size} ARRIVAL rows for {n5b} 5B arrivals (or repeats)")
    n_legit = sum(pq.ParquetFile(f).metadata.num_rows
                  for f in input_parts(ctx, "s1_legit_txns_6B", state=V))  # fmt: skip
    kind = read_table(ctx, "s2_overlay_6B", ["overlay_kind"], state=V).column(0)
    n_inj = int((O.codes(kind, O.KINDS) == O.INJECT).sum())
    if rows != n_legit + n_inj:
        _v("I02", f"{rows} rows, L + I = {n_legit + n_inj}")
    return {"rows": rows, "arrivals": int(n5b), "injected": n_inj}


def s3_labels(ctx) -> dict:
    """I03 and I08 over the published labels: fraud rows = budget F per typology; label
    fields consistent; availability after the row, within the cap of its cluster's anchor."""
    pol = S.LabelPolicy.of(ctx.manifest.policies["labels_6B"])
    ov = read_table(ctx, "s2_overlay_6B", ["txn_id", "is_fraud", "campaign_id", "cluster_key"],
                    state=V)  # fmt: skip
    fr_ov = ov.filter(ov.column("is_fraud"))
    o_id = fr_ov.column("txn_id").to_numpy()
    srt = np.argsort(o_id)
    pair = (O.u64(fr_ov.column("campaign_id")), O.u64(fr_ov.column("cluster_key")))
    cols = {"s3_transactions_6B": ["txn_id", "is_approved"],
            "s3_labels_6B": ["txn_id", "ts_utc", "is_fraud", "fraud_typology", "campaign_id",
                             "fraud_stage", "observed_is_fraud", "report_channel",
                             "label_available_ts"],
            "s3_txn_provenance_6B": ["txn_id"]}  # fmt: skip
    fraud, keep = np.zeros(len(TYPOLOGIES), np.int64), []
    for k, t in _parts(ctx, cols):
        lb = t["s3_labels_6B"]
        has = ~pc.is_null(lb.column("label_available_ts")).to_numpy(zero_copy_only=False)
        c = {
            "is_fraud": lb.column("is_fraud").to_numpy(zero_copy_only=False),
            "typology": O.codes(lb.column("fraud_typology"), TYPOLOGIES),
            "campaign": O.u64(lb.column("campaign_id")),
            "stage": O.codes(lb.column("fraud_stage"), S.STAGES),
            "observed": lb.column("observed_is_fraud").to_numpy(zero_copy_only=False),
            "channel": O.codes(lb.column("report_channel"), S.CHANNELS),
            "ts": O.ts_us(lb.column("ts_utc")),
            "label_ts": np.where(has, O.ts_us(lb.column("label_available_ts").fill_null(0)), 0),
        }
        if (has != c["observed"]).any():
            _v("I08", f"part {k}: label_available_ts set ⇔ observed does not hold")
        fr = c["is_fraud"]
        ids = lb.column("txn_id").to_numpy()[fr]
        pos = np.searchsorted(o_id, ids, sorter=srt)
        pos = srt[np.minimum(pos, max(srt.size - 1, 0))] if srt.size else pos
        if ids.size and not (o_id[pos] == ids).all():
            _v("I08", f"part {k}: a fraud row that is not a fraud overlay row")
        ok = t["s3_transactions_6B"].column("is_approved").to_numpy(zero_copy_only=False)
        keep.append((pair[0][pos], pair[1][pos], c["ts"][fr], ok[fr], c["label_ts"][fr],
                     c["observed"][fr], c["typology"][fr]))  # fmt: skip
        c["anchor"] = c["ts"].copy()  # fraud rows: checked against their cluster below
        c["anchor"][fr] = np.iinfo(np.int64).max // 2
        try:
            i08_labels(c, pol, k)  # fmt: skip
        except EngineError as e:
            _v("I08", e.detail)
        fraud += np.bincount(c["typology"][fr], minlength=len(TYPOLOGIES))
    camp, key, ts, ok, lab, obs, typ = (np.concatenate(x) for x in zip(*keep, strict=True))
    # the anchor of each cluster: its latest approved row, else its latest row
    o = np.lexsort((key, camp))
    new = np.r_[True, (camp[o][1:] != camp[o][:-1]) | (key[o][1:] != key[o][:-1])][: o.size]
    g = np.cumsum(new) - 1
    lo = np.iinfo(np.int64).min
    top_ok = np.full(int(new.sum()), lo)
    np.maximum.at(top_ok, g, np.where(ok[o], ts[o], lo))
    top = np.full(int(new.sum()), lo)
    np.maximum.at(top, g, ts[o])
    anchor = np.empty(o.size, np.int64)
    anchor[o] = np.where(top_ok > lo, top_ok, top)[g]
    late = obs & (lab - np.maximum(anchor, ts) > (pol.cap * S.DAY_US)[np.maximum(typ, 0)])
    if late.any():
        _v("I08", f"{int(late.sum())} fraud labels later than their cap after the anchor")
    budget = read_json(ctx, "s2_budget_6B", state=V)
    got = {t: int(n) for t, n in zip(TYPOLOGIES, fraud, strict=True) if n}
    want = {t: int(n) for t, n in budget["realised"].items() if n}
    if int(fraud.sum()) != budget["F"] or got != want:
        _v("I03", f"fraud rows {got} (total {int(fraud.sum())}), budget F={budget['F']} {want}")
    return {"fraud_rows": int(fraud.sum()), "observed": int(obs.sum())}


def s3_trace(ctx) -> dict:
    """I10: report draws = 2·clusters; noise draws = 2·(legit approved CNP purchases +
    declined fraud rows) of the published rows."""
    tr = read_table(ctx, "rng_trace_log_6B_S3", ["family_id", "draws"], state=V)
    got: dict[str, int] = {}
    for f, d in zip(tr.column(0).to_pylist(), tr.column(1).to_pylist(), strict=True):
        got[f] = got.get(f, 0) + int(d)
    ov = read_table(ctx, "s2_overlay_6B", ["is_fraud", "campaign_id", "cluster_key"], state=V)
    fr = ov.filter(ov.column("is_fraud"))
    pairs = np.stack([O.u64(fr.column(1)), O.u64(fr.column(2))], axis=1)
    clusters = int(np.unique(pairs, axis=0).shape[0]) if pairs.size else 0
    cols = {"s3_transactions_6B": ["txn_type", "channel", "is_approved"],
            "s3_labels_6B": ["is_fraud"], "s3_txn_provenance_6B": ["txn_id"]}  # fmt: skip
    legit_cnp = declined = 0
    for _, t in _parts(ctx, cols):
        tx = t["s3_transactions_6B"]
        f = t["s3_labels_6B"].column(0).to_numpy(zero_copy_only=False)
        ok = tx.column("is_approved").to_numpy(zero_copy_only=False)
        buy = (O.codes(tx.column("txn_type"), ["PURCHASE"]) == 0) & (
            O.codes(tx.column("channel"), ["CNP"]) == 0
        )
        legit_cnp += int((~f & buy & ok).sum())
        declined += int((f & ~ok).sum())
    want = {"6B.S3.report": 2 * clusters, "6B.S3.noise": 2 * (legit_cnp + declined)}
    bad = {k: (got.get(k, 0), v) for k, v in want.items() if got.get(k, 0) != v}
    if bad:
        _v("I10", f"traced vs formula {bad}")
    return want
