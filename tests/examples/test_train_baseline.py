"""examples/train_baseline.py on a small synthetic ML export shaped by the contracts
(ml_transactions_6B, ml_labels_6B at their dictionary paths): it finds the partition,
learns a planted signal from the cutoff labels and reports it, the same on every run.
Skipped unless the `examples` extra (lightgbm, scikit-learn) is installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

try:  # the optional extra; LightGBM's wheel also needs the system OpenMP runtime
    import lightgbm  # noqa: F401
    import sklearn  # noqa: F401
except (ImportError, OSError) as e:  # reported SKIPPED, never PASS
    pytest.skip(f"examples extra unavailable: {e}", allow_module_level=True)

from engine_core.contracts import load_dictionary  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "train_baseline.py"
MF = "ab" * 32
SPLITS = {"TRAIN": 5200, "VALID": 1200, "TEST": 1600}
LEVELS = {  # levels of a string column (default: three letters); nullable ones also null
    "channel": ["CP", "CNP"],
    "currency": ["USD", "EUR"],
    "account_currency": ["USD", "EUR"],
    "device_type": ["MOBILE", "DESKTOP", "TABLET"],
}


def load_script():
    spec = importlib.util.spec_from_file_location("train_baseline", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def column(field: pa.Field, n: int, rng: np.random.Generator) -> pa.Array:
    """Random values of the field's contract type (nulls in ~20 % of a nullable column)."""
    t, mask = field.type, (rng.random(n) < 0.2) if field.nullable else None
    if pa.types.is_dictionary(t):
        lv = LEVELS.get(field.name, ["US", "GB", "DE"] if "iso" in field.name else list("ABC"))
        vals = np.array(lv, object)[rng.integers(0, len(lv), n)]
        return pa.array(vals, pa.string(), mask=mask).dictionary_encode()
    if t == pa.uint64():
        return pa.array(rng.integers(1, 2**64 - 1, n, np.uint64, endpoint=True), t, mask=mask)
    if t == pa.uint16():  # mcc
        return pa.array(rng.choice([5411, 5812, 5999, 7995], n), t, mask=mask)
    if t == pa.uint32():
        return pa.array(rng.integers(0, 3000, n), t, mask=mask)
    if t == pa.float64():
        return pa.array(np.exp(rng.normal(3.0, 1.0, n)), t, mask=mask)
    if t == pa.bool_():
        return pa.array(rng.random(n) < 0.5, t, mask=mask)
    raise AssertionError(f"no generator for {field}")


def write_export(root: Path, seed: int = 42, scenario: str = "baseline", mf: str = MF) -> None:
    """One part (= one row group) per split in time order; 5 % fraud: CARD_TESTING is small
    CNP amounts, ACCOUNT_TAKEOVER large amounts from a DESKTOP device; the cutoff labels
    see ~60 % of the split's fraud (none in TEST), as label delays would."""
    d = load_dictionary()
    schemas = {t: d.arrow_schema_of(t) for t in ("ml_transactions_6B", "ml_labels_6B")}
    rng = np.random.default_rng(seed)
    t0 = np.datetime64("2026-03-01T00:00:00", "us").astype(np.int64)
    for k, (split, n) in enumerate(SPLITS.items()):
        fields = [f for f in schemas["ml_transactions_6B"] if not pa.types.is_timestamp(f.type)]
        cols = {f.name: column(f, n, rng) for f in fields}  # + the timestamps, set below
        ts = np.sort(t0 + k * 10**12 + rng.integers(0, 10**12, n))
        fraud = rng.random(n) < 0.05
        typ = np.where(rng.random(n) < 0.5, "CARD_TESTING", "ACCOUNT_TAKEOVER")
        ct, ato = fraud & (typ == "CARD_TESTING"), fraud & (typ == "ACCOUNT_TAKEOVER")
        amount = np.exp(rng.normal(3.0, 1.0, n) - 2.5 * ct + 2.0 * ato)
        channel = np.where(ct, "CNP", cols["channel"].to_pylist())
        device = np.where(ato, "DESKTOP", cols["device_type"].to_pylist())  # None: no device
        cols |= {
            "ts_utc": pa.array(ts, pa.timestamp("us", "UTC")),
            "ts_local": pa.array(ts + 3_600_000_000, pa.timestamp("us")),
            "amount": pa.array(amount),
            "amount_usd": pa.array(amount),
            "channel": pa.array(channel.tolist(), pa.string()).dictionary_encode(),
            "device_type": pa.array(device.tolist(), pa.string()).dictionary_encode(),
            "split": pa.array([split] * n).dictionary_encode(),
        }
        seen = fraud & (rng.random(n) < 0.6)
        labels = {
            "txn_id": cols["txn_id"],
            "split": cols["split"],
            "is_fraud": pa.array(fraud),
            "fraud_typology": pa.array(np.where(fraud, typ, None).tolist()).dictionary_encode(),
            "campaign_id": pa.array(np.ones(n, np.uint64), pa.uint64(), mask=~fraud),
            "label_available_ts": pa.array(ts + 86_400_000_000, pa.timestamp("us", "UTC")),
            "y_train_cutoff": pa.array(seen & (split == "TRAIN")),
            "y_valid_cutoff": pa.array(seen & (split != "TEST")),
            "y_final": pa.array(fraud),
        }
        for table, data in (("ml_transactions_6B", cols), ("ml_labels_6B", labels)):
            schema = schemas[table]
            out = root / "layer3/6B" / table / f"seed={seed}"
            out = out / f"manifest_fingerprint={mf}" / f"scenario_id={scenario}"
            out.mkdir(parents=True, exist_ok=True)
            arrays = [data[f.name].cast(f.type) for f in schema]
            part = pa.Table.from_arrays(arrays, schema=schema)
            pq.write_table(part, out / f"part-{k:05d}.parquet")


def test_learns_the_signal_and_is_deterministic(tmp_path, capsys):
    write_export(tmp_path)
    script = load_script()
    results = script.main(["--data-root", str(tmp_path), "--seed", "42"])
    out = capsys.readouterr().out
    assert "ROC-AUC" in out and "CARD_TESTING" in out
    assert set(results) == {"VALID", "TEST"}
    assert set(results["VALID"]) == {"ALL", "CARD_TESTING", "ACCOUNT_TAKEOVER"}
    assert results["VALID"]["ALL"]["roc_auc"] > 0.7
    assert results["VALID"]["ALL"]["pr_auc"] > 0.05  # the fraud base rate
    assert results["TEST"]["ALL"]["roc_auc"] > 0.7
    assert script.main(["--data-root", str(tmp_path)]) == results  # same numbers again


def test_partition_discovery_errors(tmp_path):
    script = load_script()
    with pytest.raises(SystemExit, match="no ml_transactions_6B"):
        script.main(["--data-root", str(tmp_path)])
    write_export(tmp_path)
    write_export(tmp_path, mf="cd" * 32)
    with pytest.raises(SystemExit, match="2 manifest fingerprints.*--mf"):
        script.main(["--data-root", str(tmp_path)])
    with pytest.raises(SystemExit, match="no ml_transactions_6B"):
        script.main(["--data-root", str(tmp_path), "--scenario", "holiday_peak"])
    part = script.partition(tmp_path, "ml_labels_6B", 42, "baseline", "cd" * 32)
    assert part.parent.name == f"manifest_fingerprint={'cd' * 32}"
