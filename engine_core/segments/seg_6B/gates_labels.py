"""6B realism gates on campaign timing and labels (layer3 §4.7: R07, R08, R09), measured by
6B.S5 over the fraud rows of the S3 pass (``gates_s3.scan_s3``) and the overlay rows S3
merged (``s2_overlay_6B``: its ``cluster_key`` and the COMPROMISE rebind visits, which
``s3_labels_6B`` does not carry). Clusters are (campaign, cluster_key), reported as a whole
(§4.4 step 2)."""

from __future__ import annotations

import numpy as np

from engine_core.checks import Outcome
from engine_core.kernels.sorting import lex_order
from engine_core.segments.seg_6B import constants as K
from engine_core.segments.seg_6B import gates_base as B
from engine_core.segments.seg_6B.gates_s3 import T, scan_s3
from engine_core.segments.seg_6B.s2_pools import TYPOLOGIES
from engine_core.segments.seg_6B.s3_labels import STAGES

Z90 = 1.2815515655446004  # Φ⁻¹(0.9)


# --- R07 ------------------------------------------------------------------------------------
def r07_timing(test: dict, cash: dict, compromise: dict) -> Outcome:
    """``test``: CARD_TESTING rows (campaign, ts µs); ``cash``: CP_CASHOUT rows (campaign,
    instrument, ts); ``compromise``: COMPROMISE-stage rebind rows (campaign, ts)."""
    o = lex_order(test["campaign"], test["ts"])  # µs since 1970: non-negative
    c, t = test["campaign"][o], test["ts"][o]
    same = c[1:] == c[:-1]
    gaps = (t[1:] - t[:-1])[same] / 1e6
    gap = float(np.median(gaps)) if gaps.size else None
    # the campaign's compromise end: its last COMPROMISE visit (the window end is not a column)
    camps, inv = np.unique(compromise["campaign"], return_inverse=True)
    end = np.full(camps.size, np.iinfo(np.int64).min)
    np.maximum.at(end, inv.reshape(-1), compromise["ts"])
    o = lex_order(cash["campaign"], cash["instrument"])
    cc, ci, ct = cash["campaign"][o], cash["instrument"][o], cash["ts"][o]
    first = np.r_[True, (cc[1:] != cc[:-1]) | (ci[1:] != ci[:-1])] if cc.size else np.zeros(0, bool)
    heads = np.flatnonzero(first)
    first_ts = np.minimum.reduceat(ct, heads) if heads.size else ct[:0]
    pos = np.searchsorted(camps, cc[heads])
    has = (pos < camps.size) & (camps[np.minimum(pos, max(camps.size - 1, 0))] == cc[heads])
    lag = (first_ts[has] - end[pos[has]]) / B.DAY_US
    days = float(np.median(lag)) if lag.size else None
    parts = {
        "card_testing_gap_s": (
            gap if gaps.size >= K.R07_MIN_GAPS else None,
            gap is not None and gap <= K.R07_TESTING_GAP_MAX_S,
        ),
        "cp_cashout_days": (
            days if lag.size >= K.R07_MIN_CARDS else None,
            B.inside(days, K.R07_CASHOUT_DAYS),
        ),
    }
    thr = {"card_testing_gap_s": [0.0, K.R07_TESTING_GAP_MAX_S],
           "cp_cashout_days": list(K.R07_CASHOUT_DAYS), "min_gaps": K.R07_MIN_GAPS,
           "min_cards": K.R07_MIN_CARDS}  # fmt: skip
    extra = {"gaps": int(gaps.size), "victim_cards": int(lag.size),
             "cp_cashout_days_min": float(lag.min()) if lag.size else None}  # fmt: skip
    return B.combine(parts, thr, extra)


def r07(ctx) -> Outcome:
    f = scan_s3(ctx).fraud
    ov = overlay(ctx)
    ct = f["typ"] == T["CARD_TESTING"]
    cash = f["stage"] == STAGES.index("CP_CASHOUT")
    comp = ov["stage"] == STAGES.index("COMPROMISE")
    return r07_timing(
        {"campaign": f["campaign"][ct], "ts": f["ts"][ct]},
        {"campaign": f["campaign"][cash], "instrument": f["instrument"][cash], "ts": f["ts"][cash]},
        {"campaign": ov["campaign"][comp], "ts": ov["ts"][comp]},
    )


# --- clusters (R08, R09) --------------------------------------------------------------------
def overlay(ctx) -> dict:
    def build():
        t = B.table(
            ctx,
            "s2_overlay_6B",
            ["txn_id", "ts_utc", "is_fraud", "campaign_id", "fraud_stage", "cluster_key"],
        )
        return {
            "txn_id": B.u64(t.column("txn_id")),
            "ts": B.ts_us(t.column("ts_utc")),
            "fraud": B.flag(t.column("is_fraud")),
            "campaign": B.u64(t.column("campaign_id")),
            "stage": B.code(t.column("fraud_stage"), STAGES),
            "key": B.u64(t.column("cluster_key")),
        }

    return B.memo(ctx, "overlay", ("s2_overlay_6B",), build)


def clusters_of(f: dict) -> dict:
    """Per cluster (campaign, cluster_key) of the fraud rows ``f`` (``campaign``, ``key``,
    ``ts``, ``approved``, ``observed``, ``label_ts``, ``typ``): typology, the §4.4 anchor
    (latest approved row, else latest row), approved / declined rows and the earliest
    observed ``label_available_ts`` (the cluster's own: −1 when nothing was observed)."""
    camp, key = np.asarray(f["campaign"], np.uint64), np.asarray(f["key"], np.uint64)
    _, camp_code = np.unique(camp, return_inverse=True)
    o = lex_order(camp_code.reshape(-1), key)
    sc, sk = camp_code.reshape(-1)[o], key[o]
    new = np.r_[True, (sc[1:] != sc[:-1]) | (sk[1:] != sk[:-1])] if o.size else np.zeros(0, bool)
    g = np.flatnonzero(new)
    if not g.size:
        z = np.zeros(0, np.int64)
        return {"typ": z, "anchor": z, "n_ok": z, "n_declined": z, "label_ts": z}
    ts, ok = np.asarray(f["ts"], np.int64)[o], np.asarray(f["approved"], bool)[o]
    lo, hi = np.iinfo(np.int64).min, np.iinfo(np.int64).max
    top_ok = np.maximum.reduceat(np.where(ok, ts, lo), g)
    anchor = np.where(top_ok > lo, top_ok, np.maximum.reduceat(ts, g))
    obs = np.asarray(f["observed"], bool)[o]
    lab = np.minimum.reduceat(np.where(obs, np.asarray(f["label_ts"], np.int64)[o], hi), g)
    n_ok = np.add.reduceat(ok.astype(np.int64), g)
    size = np.diff(np.r_[g, o.size])
    return {
        "typ": np.asarray(f["typ"], np.int64)[o][g],
        "anchor": anchor,
        "n_ok": n_ok,
        "n_declined": size - n_ok,
        "label_ts": np.where(lab < hi, lab, -1),
    }


def fraud_clusters(ctx) -> tuple[dict, dict]:
    """The fraud rows with their ``cluster_key`` (from the overlay) and their clusters."""
    f = dict(scan_s3(ctx).fraud)
    ov = overlay(ctx)
    rows = B.Ids(ov["txn_id"]).rows(f["txn_id"])
    if (rows < 0).any() or not ov["fraud"][rows].all():
        B.fail(
            "I08", f"{int((rows < 0).sum())} fraud rows of s3_labels_6B not fraud in the overlay"
        )
    f["key"] = ov["key"][rows]
    return f, clusters_of(f)


# --- R08 ------------------------------------------------------------------------------------
def r08_delays(cl: dict, labels: dict) -> Outcome:
    """Per typology with ≥ R08_MIN_CLUSTERS reported clusters: median and p90 of the cluster
    delay (earliest observed availability − anchor) vs the capped lognormal law."""
    rep = labels["report"]
    seen = cl["label_ts"] >= 0
    days = (cl["label_ts"] - cl["anchor"]) / B.DAY_US
    parts, measured_extra, thr = {}, {}, {"min_clusters": K.R08_MIN_CLUSTERS}
    for t in TYPOLOGIES:
        law = rep[t]
        med = min(float(law["median"]), float(law["cap"]))
        p90 = min(
            float(law["median"]) * float(np.exp(float(law["sigma"]) * Z90)), float(law["cap"])
        )
        d = days[seen & (cl["typ"] == T[t])]
        measured_extra[f"{t}.clusters"] = int(d.size)
        mt, pt = _band(med, K.R08_MEDIAN_TOLERANCE), _band(p90, K.R08_P90_TOLERANCE)
        thr[f"{t}.median_days"], thr[f"{t}.p90_days"] = mt, pt
        if d.size < K.R08_MIN_CLUSTERS:
            parts[f"{t}.median_days"] = parts[f"{t}.p90_days"] = (None, True)
            continue
        m, p = float(np.median(d)), float(np.quantile(d, 0.9))
        parts[f"{t}.median_days"] = (m, B.inside(m, mt))
        parts[f"{t}.p90_days"] = (p, B.inside(p, pt))
    return B.combine(parts, thr, measured_extra)


def _band(x: float, rel: float) -> list[float]:
    return [x * (1 - rel), x * (1 + rel)]


def r08(ctx) -> Outcome:
    return r08_delays(fraud_clusters(ctx)[1], B.policy(ctx, "labels_6B"))


# --- R09 ------------------------------------------------------------------------------------
def r09_observed(f: dict, cl: dict, labels: dict, final_cutoff_us: int, fd: dict) -> Outcome:
    """Observed share of F by the final cutoff vs Σ_t share_t·p_t·(a_t + (1 − a_t)·p_d), within
    max(R09_FLOOR, 4σ̂) with σ̂ the cluster-level s.e. of the law (a cluster is reported as a
    whole: Var = Σ_c p(1−p)(A_c + p_d·D_c)² + p·p_d(1−p_d)·D_c, over F²); and the false-dispute
    share of approved legit CNP purchases vs ``p_false_dispute`` ± 50 %."""
    rep, pd = labels["report"], float(labels["p_report_declined"])
    p_t = np.array([float(rep[t]["p"]) for t in TYPOLOGIES])
    F = int(f["typ"].size)
    parts, thr, extra = {}, {}, {"F": F, "clusters": int(cl["typ"].size)}
    if F:
        seen = f["observed"] & (f["label_ts"] >= 0) & (f["label_ts"] <= final_cutoff_us)
        obs = float(seen.mean())
        n_t = np.bincount(f["typ"], minlength=len(TYPOLOGIES))
        ok_t = np.bincount(f["typ"], f["approved"].astype(np.float64), minlength=len(TYPOLOGIES))
        a_t = np.divide(ok_t, n_t, out=np.zeros(len(TYPOLOGIES)), where=n_t > 0)
        expected = float((n_t / F * p_t * (a_t + (1 - a_t) * pd)).sum())
        p = p_t[cl["typ"]]
        var = p * (1 - p) * (cl["n_ok"] + pd * cl["n_declined"]) ** 2
        var = var + p * pd * (1 - pd) * cl["n_declined"]
        sigma = float(np.sqrt(var.sum())) / F
        tol = max(K.R09_FLOOR, K.R09_SIGMAS * sigma)
        thr["observed_share"] = [expected - tol, expected + tol]
        powered = cl["typ"].size >= K.R09_MIN_CLUSTERS
        parts["observed_share"] = (obs if powered else None, abs(obs - expected) <= tol)
        extra.update({"expected_share": expected, "sigma_hat": sigma})
    else:
        parts["observed_share"] = (None, True)
    p_fd = float(labels["p_false_dispute"])
    fd_share = fd["fd_n"] / fd["fd_base"] if fd["fd_base"] else None
    band = _band(p_fd, K.R09_FALSE_DISPUTE_TOLERANCE)
    thr["false_dispute_share"] = band
    powered = p_fd * fd["fd_base"] >= K.R09_MIN_FALSE_DISPUTES_EXPECTED
    parts["false_dispute_share"] = (fd_share if powered else None, B.inside(fd_share, band))
    extra.update({"false_disputes": int(fd["fd_n"]), "approved_legit_cnp": int(fd["fd_base"])})
    return B.combine(parts, thr, extra)


def r09(ctx) -> Outcome:
    f, cl = fraud_clusters(ctx)
    _, h_end = B.horizon_us(ctx)
    final = h_end + int(B.policy(ctx, "ml_export_6B")["maturity_days"]) * B.DAY_US
    return r09_observed(f, cl, B.policy(ctx, "labels_6B"), final, scan_s3(ctx).legit)
