"""The 6B realism gates (layer3 §4.7 R01–R13) as checks, each on the dataset it measures
(its Dagster asset) and named ``6B.<owner state of that dataset>.Rnn`` (R11/R12, §4.7 state
S5, measure the S4 export: ``6B.S4``); 6B.S5 evaluates them all. A FAIL
withholds ``_passed.flag`` except in advisory profiles (``checks.ADVISORY_PROFILES``)."""

from __future__ import annotations

from engine_core.checks import REALISM, Check
from engine_core.segments.seg_6B import gates_labels as GL
from engine_core.segments.seg_6B import gates_ml as G_ML
from engine_core.segments.seg_6B import gates_s1 as G1
from engine_core.segments.seg_6B import gates_s3 as G3

GATES: list[Check] = [
    Check("6B.S3.R01", REALISM, "s3_labels_6B", G3.r01,
          "typology share of F vs the policy share (renormalised over the non-skipped "
          "typologies), ±0.005"),
    Check("6B.S1.R02", REALISM, "s1_legit_txns_6B", G1.r02,
          "legit CP arrivals: payer resident ≥ 0.90, in home cell ≥ 0.60, foreign [0.01, 0.10]; "
          "legit CNP cross-border [0.08, 0.30]"),
    Check("6B.S1.R03", REALISM, "s1_legit_txns_6B", G1.r03,
          "de-tilted arrival amounts per MCC group (ln amount_usd − τ_m − β_seg − β_travel, τ_m "
          "replayed): median ±10 %, s.d. ±15 %; s.d. of τ_m over merchants ±15 %"),
    Check("6B.S3.R04", REALISM, "s3_transactions_6B", G3.r04,
          "approval of legit CP / legit CNP purchase authorisations and of fraud rows"),
    Check("6B.S1.R05", REALISM, "s1_legit_txns_6B", G1.r05,
          "retail parties with ≥ 10 arrival purchases: median top-instrument share [0.55, 0.90]"),
    Check("6B.S3.R06", REALISM, "s3_transactions_6B", G3.r06,
          "ATO rows on a device never linked to the victim ≥ 0.60; legit CNP rows with a device "
          "on the payer's devices (own/shared, card on file, token, account access) ≥ 0.97"),
    Check("6B.S3.R07", REALISM, "s3_labels_6B", GL.r07,
          "CARD_TESTING median gap between consecutive attempts of a campaign ≤ 120 s; "
          "STOLEN_CARD_CP median days from the campaign's last COMPROMISE rebind row "
          "(s2_overlay_6B; the compromise-window end itself is not published) to each victim "
          "card's first CP_CASHOUT row in [2, 10]"),
    Check("6B.S3.R08", REALISM, "s3_labels_6B", GL.r08,
          "label delay per cluster (earliest label_available_ts − §4.4 anchor), typologies with "
          "≥ 1000 reported clusters: median ±15 %, p90 ±20 % of the capped lognormal law"),
    Check("6B.S3.R09", REALISM, "s3_labels_6B", GL.r09,
          "observed share of F by the final cutoff vs Σ share·p·(a + (1−a)·p_declined) within "
          "max(0.03, 4σ̂) (cluster-level σ̂); false-dispute share of approved legit CNP ±50 %"),
    Check("6B.S4.R10", REALISM, "ml_transactions_6B", G_ML.r10,
          "purity: no value / null indicator of a whitelisted column (≤ 1000 values, ≥ 500 rows) "
          "with fraud share ≥ 0.75"),
    Check("6B.S4.R11", REALISM, "ml_transactions_6B", G_ML.r11,
          "id leak probe AUC (top/bottom 4 bits of every id, held out on txn_id bit 48) ≤ 0.55"),
    Check("6B.S4.R12", REALISM, "ml_transactions_6B", G_ML.r12,
          "baseline AUC on the §4.6 features: FAIL overall > 0.985 or per typology > 0.998; "
          "WARN overall outside [0.70, 0.97] or per typology > 0.995"),
    Check("6B.S3.R13", REALISM, "s3_labels_6B", G3.r13,
          "no UTC day holds > 10 % of the fraud rows (F ≥ 1000; WARN severity)"),
]  # fmt: skip
