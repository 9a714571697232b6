"""The 6B baselines and leakage probes (layer3 §4.6, 6B-R10/R11/R12): the AUC is the
Mann–Whitney statistic, the IRLS fit is the penalised optimum, the features are encoded
from TRAIN alone, the sample keeps every fraud row, the probes flag real leaks only."""

import numpy as np
import pyarrow as pa
import pytest
from scipy.optimize import minimize
from scipy.stats import mannwhitneyu

from engine_core.gates.baseline_model import (
    BINNED,
    CATEGORICAL,
    BaselineResult,
    baseline_auc,
    baseline_features,
    baseline_sample_mask,
    fit_logistic_l2,
    grade_baseline,
    id_leak_probe_6b,
    purity_violations,
    rank_auc,
)
from engine_core.identity import entity_ids, id_keys

LEVELS = {  # per categorical: its levels; None = some rows are null
    "txn_type": ["PURCHASE", "REFUND", "ACCOUNT_VERIFICATION"],
    "direction": ["DEBIT", "CREDIT"],
    "channel": ["CP", "CNP"],
    "pos_entry_mode": ["CHIP", "CONTACTLESS", "ECOM"],
    "cnp_auth_method": ["NOT_APPLICABLE", "NONE", "THREE_DS_CHALLENGE"],
    "auth_response_code": ["00", "05", "51"],
    "is_approved": [True, False],
    "is_cross_border": [False, True],
    "party_type": ["RETAIL", "BUSINESS"],
    "segment_id": ["S1", "S2", "S3", "S4"],
    "account_type": ["CURRENT", "SAVINGS"],
    "instrument_type": ["DEBIT_CARD", "CREDIT_CARD", "WALLET_TOKEN"],
    "card_scheme": ["VISA", "MASTERCARD", None],
    "card_tier": ["CLASSIC", "GOLD", None],
    "device_type": ["MOBILE", "DESKTOP", None],
    "os_family": ["ANDROID", "IOS", None],
    "ip_type": ["RESIDENTIAL", "MOBILE", None],
}
TYPOLOGIES = ["CARD_TESTING", "ACCOUNT_TAKEOVER", "RARE"]


def ids(kind, n, seed=0):
    return entity_ids(id_keys(f"{seed:064x}", 7, kind), 0, n)


def make_table(n, seed=0, fraud_rate=0.05, signal=1.0, dict_strings=True):
    """An ml_transactions_6B-shaped table with labels; fraud leans on CNP and large amounts
    by ``signal`` (0 = labels independent of every feature)."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < fraud_rate
    cols = {"txn_id": pa.array(ids("txn", n, seed), pa.uint64())}
    t0 = np.datetime64("2025-01-01T00:00:00", "us").astype(np.int64)
    cols["ts_local"] = pa.array(t0 + rng.integers(0, 90 * 86400 * 10**6, n), pa.timestamp("us"))
    for c, lv in LEVELS.items():
        k = rng.integers(0, len(lv), n)
        if c == "channel":
            k = np.where(rng.random(n) < 0.6 * signal * y, 1, k)
        v = [lv[i] for i in k]
        arr = pa.array(v, pa.bool_() if isinstance(lv[0], bool) else pa.string())
        cols[c] = arr.dictionary_encode() if dict_strings and arr.type == pa.string() else arr
    mcc = rng.choice(np.arange(5000, 5100), n, p=np.r_[np.full(80, 0.0115), np.full(20, 0.004)])
    cols["mcc"] = pa.array(mcc, pa.uint16(), mask=rng.random(n) < 0.1)
    amount = np.exp(rng.normal(3 + 1.5 * signal * y, 1.0))
    cols["amount_usd"] = pa.array(amount)
    for c in BINNED[1:]:
        cols[c] = pa.array(rng.integers(0, 3000, n), pa.uint32())
    no_device = rng.random(n) < 0.3
    for c in ("party_id", "account_id", "device_id"):
        cols[c] = pa.array(ids(c, n, seed), pa.uint64(), mask=no_device & (c == "device_id"))
    cols["is_fraud"] = pa.array(y)
    typ = rng.choice(TYPOLOGIES, n, p=[0.6, 0.39, 0.01])
    cols["fraud_typology"] = pa.array(np.where(y, typ, None).tolist(), pa.string())
    return pa.table(cols)


def test_rank_auc_is_mann_whitney_with_ties_and_weights():
    rng = np.random.default_rng(1)
    score = rng.integers(0, 7, 800).astype(float)  # many ties
    y = rng.random(800) < 0.3
    u = mannwhitneyu(score[y], score[~y]).statistic
    want = u / (y.sum() * (~y).sum())
    assert rank_auc(score, y) == pytest.approx(want, abs=1e-12)
    assert rank_auc(score, y, np.ones(800)) == pytest.approx(want, abs=1e-12)
    w = rng.integers(1, 4, 800)  # integer weights = repeated rows
    rep = np.repeat(np.arange(800), w)
    u = mannwhitneyu(score[rep][y[rep]], score[rep][~y[rep]]).statistic
    assert rank_auc(score, y, w) == pytest.approx(u / (y[rep].sum() * (~y[rep]).sum()), abs=1e-12)
    assert np.isnan(rank_auc(score, np.zeros(800, bool)))


@pytest.mark.parametrize("lam", [1e-3, 0.05])
def test_irls_is_the_penalised_optimum(lam):
    rng = np.random.default_rng(2)
    n = 400
    X = np.c_[np.ones(n), rng.normal(size=(n, 5))]
    y = rng.random(n) < 1 / (1 + np.exp(-(X @ [-1, 1, -0.5, 0.2, 0, 2])))
    w = rng.uniform(0.5, 2.0, n)

    def f(b):
        eta = X @ b
        pen = 0.5 * lam * w.sum() * (b[1:] @ b[1:])
        grad = X.T @ (w * (1 / (1 + np.exp(-eta)) - y)) + lam * w.sum() * np.r_[0, b[1:]]
        return (w * (np.logaddexp(0, eta) - y * eta)).sum() + pen, grad

    want = minimize(f, np.zeros(6), jac=True, method="BFGS", options={"gtol": 1e-11}).x
    np.testing.assert_allclose(fit_logistic_l2(X, y, w, lam=lam), want, atol=1e-6)
    Xu = (rng.random((n, 6)) < 0.5).astype(np.uint8)  # uint8 one-hot rows, blocked = dense
    Xu[:, 0] = 1
    np.testing.assert_allclose(fit_logistic_l2(Xu, y), fit_logistic_l2(Xu.astype(float), y))


def test_signal_is_found_and_noise_is_not():
    rng = np.random.default_rng(3)
    n = 20_000
    cells = rng.integers(0, 20, n)
    X = np.zeros((n, 21), np.uint8)
    X[:, 0] = 1
    X[np.arange(n), 1 + cells] = 1
    tr, va = np.arange(n) < n // 2, np.arange(n) >= n // 2
    y = rng.random(n) < np.where(cells < 3, 0.97, 0.02)  # separable-ish
    b = fit_logistic_l2(X[tr], y[tr])
    assert rank_auc(X[va] @ b, y[va]) > 0.9
    y = rng.random(n) < 0.5  # pure noise
    b = fit_logistic_l2(X[tr], y[tr])
    assert abs(rank_auc(X[va] @ b, y[va]) - 0.5) < 0.03


def test_features_count_and_unseen_levels_map_to_other():
    train = make_table(3000, seed=4)
    X, names, spec = baseline_features(train)
    cats = sum(len(lv) + 1 for lv in LEVELS.values())  # levels (+ null) + other
    n_mcc = 63 + 1 + 1  # top 63 of 100 + null + other
    assert X.shape == (3000, len(names)) == (3000, 1 + cats + n_mcc + 4 * 20 + 24)
    assert X.dtype == np.uint8 and names[0] == "intercept"
    assert (X.sum(1) == 1 + len(CATEGORICAL) + 1 + 4 + 1).all()  # one level per group
    sources = {n.split("=")[0].split("_bin")[0] for n in names[1:]}  # never an id, bin6, tzid,
    assert sources == {*CATEGORICAL, "mcc", *BINNED, "hour_local"}  # country or ASN column
    few = train.set_column(train.column_names.index("card_age_days"), "card_age_days",
                           pa.array(np.full(3000, 5), pa.uint32()))  # fmt: skip
    assert baseline_features(few)[0].shape[1] == X.shape[1] - 18  # 19 equal edges merged: 2 bins
    plain = make_table(3000, seed=4, dict_strings=False)
    np.testing.assert_array_equal(baseline_features(plain, spec)[0], X)  # dictionary = plain
    valid = make_table(50, seed=5).to_pydict()
    valid["channel"] = ["ONLINE_BANKING"] * 50  # unseen in TRAIN
    valid["card_scheme"] = [None] * 25 + ["AMEX"] * 25
    valid["mcc"] = [9999] * 50
    Xv = baseline_features(pa.table(valid, schema=train.schema), spec)[0]
    col = {n: i for i, n in enumerate(names)}
    assert (Xv[:, col["channel=<other>"]] == 1).all()
    assert (Xv[:25, col["card_scheme=<null>"]] == 1).all()
    assert (Xv[25:, col["card_scheme=<other>"]] == 1).all()
    assert (Xv[:, col["mcc=<other>"]] == 1).all()
    hours = (np.asarray(valid["ts_local"], "datetime64[us]").astype(np.int64) // 3600e6) % 24
    np.testing.assert_array_equal(Xv[:, col["hour_local=0"] :].argmax(1), hours)


def test_sample_keeps_every_fraud_row_within_the_budget():
    txn = ids("txn", 100_000)
    y = np.random.default_rng(6).random(txn.size) < 0.01
    for cap in (5_000, 30_000, 200_000, 100):
        m = baseline_sample_mask(txn, y, cap)
        assert m[y].all()
        key = (txn >> np.uint64(32)) & np.uint64(0xFFFF)
        t = int(key[m & ~y].max()) + 1 if (m & ~y).any() else 0
        np.testing.assert_array_equal(m, y | (key < t))  # legit rows below one threshold
        if y.sum() <= cap:  # and the threshold is the largest: the next key overflows
            rest = key[~y & (key >= t)]
            assert m.sum() <= cap and (rest.size == 0 or cap < (y | (key <= rest.min())).sum())
        else:
            assert m.sum() == y.sum()


def test_purity_flags_pure_values_and_null_patterns_only():
    n = 10_000
    rng = np.random.default_rng(7)
    y = np.zeros(n, bool)
    y[:480] = True  # 480 of the 600 "HOT" rows are fraud: 0.80
    y[600:1200] = True  # a column set only on these fraud rows
    cat = np.where(np.arange(n) < 600, "HOT", rng.choice(["A", "B", "C"], n))
    legit_nulls = (np.arange(n) >= 5000) & (np.arange(n) < 5600)
    pattern = np.where(legit_nulls, None, np.arange(n))  # nulls on legit rows only: no leak
    only_fraud = np.where((np.arange(n) >= 600) & (np.arange(n) < 1200), 1, None)
    table = pa.table(
        {
            "cat": pa.array(cat).dictionary_encode(),
            "hi_card": pa.array(rng.random(n)),
            "nullish": pa.array(pattern.tolist(), pa.uint64()),
            "set_on_fraud": pa.array(only_fraud.tolist(), pa.uint64()),
        }
    )
    got = purity_violations(table, y, table.column_names)
    assert [(c, v, r) for c, v, r, _ in got] == [
        ("cat", "'HOT'", 600),
        ("set_on_fraud", "1", 600),
        ("set_on_fraud", "<not null>", 600),
    ]
    assert got[0][3] == pytest.approx(0.8)
    # now the null rows of "nullish" are all fraud; its 9 400 other values are not tested
    got = purity_violations(table, legit_nulls, ["nullish", "hi_card"])
    assert got == [("nullish", "<null>", 600, 1.0)]
    clean = purity_violations(table, rng.random(n) < 0.05, table.column_names)
    assert clean == []


def test_id_probe_passes_keyed_ids_and_fails_sequential_ones():
    table = make_table(40_000, seed=8, signal=0.0)
    r = id_leak_probe_6b(table)
    assert r.columns == ("txn_id", "party_id", "account_id", "device_id")
    assert r.passed and r.auc <= 0.55 and r.n_fit + r.n_score == 40_000, r
    y = np.asarray(table.column("is_fraud"))
    order = np.argsort(y, kind="stable")  # fraud rows get the largest ordinals
    seq = np.empty(y.size, np.uint64)
    seq[order] = np.arange(1, y.size + 1, dtype=np.uint64) << np.uint64(48)
    leaky = table.set_column(table.column_names.index("party_id"), "party_id", pa.array(seq))
    r = id_leak_probe_6b(leaky)
    assert not r.passed and r.auc > 0.55, r


def test_baseline_auc_end_to_end_and_grading():
    train, valid = make_table(30_000, seed=9), make_table(15_000, seed=10)
    r = baseline_auc(train, valid, typology_min_valid=100)
    assert 0.75 < r.auc < 0.97 and r.n_train == 30_000 and r.n_valid == 15_000
    assert r.typology["RARE"][0] is None and r.typology["RARE"][1] < 100
    assert all(r.typology[t][0] > 0.7 for t in ("CARD_TESTING", "ACCOUNT_TAKEOVER"))
    assert grade_baseline(r)["RARE"] == "SKIPPED"
    s = baseline_auc(train, valid, max_rows=10_000)
    assert s.n_train <= 10_000 and s.n_fraud_train == r.n_fraud_train
    assert abs(s.auc - r.auc) < 0.03
    noise = baseline_auc(make_table(20_000, 11, 0.2, 0.0), make_table(20_000, 12, 0.2, 0.0))
    assert abs(noise.auc - 0.5) < 0.03


def test_grade_thresholds():
    def grade(auc, typ):
        return grade_baseline(BaselineResult(auc, {"T": (typ, 500)}, 1, 1, 1, 1, 1))

    assert grade(0.986, 0.999) == {"overall": "FAIL", "T": "FAIL"}
    assert grade(0.975, 0.996) == {"overall": "WARN", "T": "WARN"}
    assert grade(0.9, 0.99) == {"overall": "PASS", "T": "PASS"}
    assert grade(0.65, None) == {"overall": "WARN", "T": "SKIPPED"}
