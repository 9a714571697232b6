"""A LightGBM fraud baseline on the 6B ML export (ml_transactions_6B + ml_labels_6B).

    uv sync --extra examples
    uv run python examples/train_baseline.py --data-root data [--seed 42] [--scenario baseline]

Trains on TRAIN with the label a bank knows at the train cutoff, early-stops on VALID and
reports VALID/TEST ROC-AUC and PR-AUC against the ground truth, overall and per typology.
"""

import argparse
from pathlib import Path

import lightgbm as lgb
import polars as pl
from rich.console import Console
from rich.table import Table
from sklearn.metrics import average_precision_score, roc_auc_score

CATEGORICAL = [
    "txn_type", "direction", "channel", "pos_entry_mode", "cnp_auth_method",
    "merchant_country_iso", "currency", "account_currency", "auth_response_code",
    "party_type", "segment_id", "customer_country_iso", "account_type", "instrument_type",
    "card_scheme", "card_tier", "device_type", "os_family", "ip_type", "ip_country_iso",
    "counterparty_country_iso", "mcc",
]  # fmt: skip
NUMERIC = [
    "amount", "amount_usd", "is_cross_border", "is_approved", "customer_tenure_days",
    "account_age_days", "card_age_days", "bin6",
]  # fmt: skip
# Never features: the *_id columns (keyed-permutation ids carry no signal, only overfitting;
# ip_asn_id too), tzid (a location proxy already in the country columns), ts_utc and labels.
FEATURES = [*CATEGORICAL, *NUMERIC, "hour"]
LABELS = ["is_fraud", "fraud_typology", "y_train_cutoff", "y_valid_cutoff"]
TABLES = ["ml_transactions_6B", "ml_labels_6B"]  # row-aligned: same files, same row order
# Speed: fit on every labelled-fraud TRAIN row plus the ~10 % of the others with
# (txn_id >> 32) & 0xFFFF < KEEP_LEGIT (keyed-permutation ids, layer3 L3.2: uniform bits, so
# an RNG-free sample, the same on every run), weighted 65536 / KEEP_LEGIT to restore the
# base rate. Early stopping samples VALID alike (a per-round AUC on all 1.4e6 VALID rows
# costs 10x the round); the reported metrics use every VALID and TEST row.
KEEP_LEGIT = 6554
SEED, THREADS = 42, 2


def partition(root: Path, table: str, seed: int, scenario: str, mf: str | None) -> Path:
    base = root / "layer3" / "6B" / table / f"seed={seed}"
    found = sorted(p.parent for p in base.glob(f"manifest_fingerprint=*/scenario_id={scenario}"))
    if mf is not None:
        found = [p for p in found if p.name == f"manifest_fingerprint={mf}"]
    what = f"{table} for seed={seed}, scenario_id={scenario}"
    if not found:
        raise SystemExit(f"no {what} under {base} (run the world, or check --seed/--mf)")
    if len(found) > 1:
        names = ", ".join(p.name.split("=")[1] for p in found)
        raise SystemExit(f"{what}: {len(found)} manifest fingerprints ({names}); pick one: --mf")
    return found[0] / f"scenario_id={scenario}"


def sampled(label: str) -> pl.Expr:  # the rows positive for label + the txn_id-bits sample
    return pl.col(label) | ((pl.col("txn_id") // (1 << 32)) % (1 << 16) < KEEP_LEGIT)


def load(root: Path, seed: int, scenario: str, mf: str | None) -> pl.DataFrame:
    """All VALID/TEST rows plus the TRAIN sample, features encoded, labels attached."""
    scan = [pl.scan_parquet(partition(root, t, seed, scenario, mf) / "*.parquet") for t in TABLES]
    txns = scan[0].select("txn_id", "split", "ts_local", *CATEGORICAL, *NUMERIC)
    labels = scan[1].select(pl.col("txn_id").alias("label_txn_id"), *LABELS)
    df = (
        pl.concat([txns, labels], how="horizontal")
        .filter((pl.col("split") != "TRAIN") | sampled("y_train_cutoff"))
        .with_columns(pl.col("ts_local").dt.hour().alias("hour"))
        .collect()
    )
    assert df["txn_id"].eq_missing(df["label_txn_id"]).all(), "ml_labels_6B is not row-aligned"
    # LightGBM's Arrow input takes no dictionary columns: pass each categorical's integer
    # code (nulls stay missing) and name it in categorical_feature. Codes index the sorted
    # levels (an Enum): dense (mcc too) and independent of the order polars met the strings.
    levels = {c: df[c].cast(pl.String).drop_nulls().unique().sort() for c in CATEGORICAL}
    return df.with_columns(
        pl.col(c).cast(pl.String).cast(pl.Enum(v)).to_physical() for c, v in levels.items()
    )


def train(df: pl.DataFrame) -> lgb.Booster:
    # Train on y_train_cutoff, not is_fraud: is_fraud is hindsight (fraud reported weeks or
    # months later, up to the maturity horizon). On the train cutoff a bank knows only the
    # fraud reported by then, so training on is_fraud would leak future labels and make the
    # model look better than any model the bank could really fit on that day.
    tr = df.filter(pl.col("split") == "TRAIN")
    va = df.filter((pl.col("split") == "VALID") & sampled("y_valid_cutoff"))
    if not tr["y_train_cutoff"].any():
        raise SystemExit("no TRAIN fraud is reported by the train cutoff: nothing to learn from")
    weight = pl.when(pl.col("y_train_cutoff")).then(1.0).otherwise(65536 / KEEP_LEGIT)
    dtrain = lgb.Dataset(
        tr.select(FEATURES), tr["y_train_cutoff"].to_numpy(), weight=tr.select(weight).to_series(),
        categorical_feature=CATEGORICAL, free_raw_data=False,
    )  # fmt: skip
    params = {
        # regularised for few positives: high-cardinality categoricals (mcc, countries)
        # otherwise overfit in the first trees and early stopping ends at round 1
        "objective": "binary", "metric": "auc", "learning_rate": 0.05, "num_leaves": 31,
        "min_data_in_leaf": 200, "feature_fraction": 0.8, "lambda_l2": 1.0, "cat_l2": 10.0,
        "cat_smooth": 50, "max_cat_threshold": 32, "seed": SEED,
        "deterministic": True, "force_row_wise": True, "num_threads": THREADS, "verbose": -1,
    }  # fmt: skip
    if not va["y_valid_cutoff"].any():  # nothing to early-stop on: a fixed number of rounds
        return lgb.train(params, dtrain, 200)
    # early stopping on the labels known at the valid cutoff, the next model's train labels
    dvalid = lgb.Dataset(va.select(FEATURES), va["y_valid_cutoff"].to_numpy(), reference=dtrain)
    stop = [lgb.early_stopping(50, verbose=False)]
    return lgb.train(params, dtrain, 500, valid_sets=[dvalid], callbacks=stop)


def evaluate(df: pl.DataFrame, model: lgb.Booster) -> dict:
    """{split: {slice: {fraud_rows, roc_auc, pr_auc}}} against is_fraud; a typology slice is
    its fraud rows vs every legit row of the split (AUCs None when a class is empty)."""
    out: dict = {}
    for split in ("VALID", "TEST"):
        part = df.filter(pl.col("split") == split)
        part = part.with_columns(score=model.predict(part.select(FEATURES)))
        legit, fraud = part.filter(~pl.col("is_fraud")), part.filter(pl.col("is_fraud"))
        slices = {"ALL": fraud} | {
            t: fraud.filter(pl.col("fraud_typology") == t)
            for t in sorted(fraud["fraud_typology"].cast(pl.String).unique().drop_nulls())
        }
        for name, rows in slices.items():
            both = pl.concat([rows, legit])
            y, s, ok = both["is_fraud"], both["score"], 0 < rows.height < both.height
            out.setdefault(split, {})[name] = {
                "fraud_rows": rows.height,
                "roc_auc": roc_auc_score(y, s) if ok else None,
                "pr_auc": average_precision_score(y, s) if ok else None,
            }
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", type=Path, default=Path("data"))
    ap.add_argument("--seed", type=int, default=42, help="the world's seed (seed= partition)")
    ap.add_argument("--scenario", default="baseline")
    ap.add_argument("--mf", help="manifest fingerprint, when the seed has several")
    args = ap.parse_args(argv)
    df = load(args.data_root, args.seed, args.scenario, args.mf)
    model = train(df)
    results = evaluate(df, model)
    table = Table(title=f"LightGBM baseline: {args.scenario}, seed {args.seed} (vs is_fraud)")
    for col in ("split", "slice", "fraud rows", "ROC-AUC", "PR-AUC"):
        table.add_column(col, justify="left" if col in ("split", "slice") else "right")
    for split, rows in results.items():
        for name, r in rows.items():
            auc = ["-" if r[k] is None else f"{r[k]:.4f}" for k in ("roc_auc", "pr_auc")]
            table.add_row(split, name, f"{r['fraud_rows']:,}", *auc)
    Console().print(table)
    rounds = model.best_iteration or model.current_iteration()
    print(f"{(df['split'] == 'TRAIN').sum():,} sampled TRAIN rows, {rounds} boosting rounds")
    return results


if __name__ == "__main__":
    main()
