"""6B.S4 ML export kernels (layer3 §4.5, §4.7 I01/I09) without a world: split assignment at
the exact boundaries, sorted-query joins equal to a naive dict join (and JOIN_MISS), the
whitelist projection, the as-of label truth table, windows cut at split boundaries with
row-aligned labels, and observable edges unique, sorted and free of ownership."""

from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from engine_core.contracts import load_dictionary
from engine_core.errors import EngineError
from engine_core.segments.seg_6B import checks_s4 as C
from engine_core.segments.seg_6B import s4_export as S
from engine_core.segments.seg_6B import s4_join as J
from engine_core.segments.seg_6B.s4_sort import unique_u64
from engine_core.timeutil import parse_utc

H0 = parse_utc("2026-03-04T00:00:00Z")
H_END = parse_utc("2026-04-01T00:00:00Z")
US = 1_000_000


def _split():
    return J.split_bounds(H0, H_END, 0.65, 0.80, 240)


# --- split ------------------------------------------------------------------------------
def test_boundaries_are_exact_fractions_of_the_horizon():
    sp = _split()
    span = H_END - H0  # 28 days: 0.65·H = 1 572 480 s, 0.80·H = 1 935 360 s exactly
    assert (sp.b1 - H0, sp.b2 - H0) == (1_572_480, 1_935_360)
    assert sp.final == H_END + 240 * 86_400
    assert sp.cutoffs_us == (sp.b1 * US, sp.b2 * US, sp.final * US)
    odd = J.split_bounds(0, 7, 0.5, 0.75, 0)  # floored to the whole second
    assert (odd.b1, odd.b2) == (3, 5)
    assert span == 28 * 86_400
    with pytest.raises(EngineError, match=r"6B.S4.POLICY_INVALID"):
        J.split_bounds(H0, H_END, 0.8, 0.8, 240)


def test_split_assignment_at_exact_boundaries():
    sp = _split()
    ts = np.array(
        [H0 * US, sp.b1 * US - 1, sp.b1 * US, sp.b2 * US - 1, sp.b2 * US, H_END * US - 1],
        np.int64,
    )
    assert J.assign_split(ts, sp).tolist() == [0, 0, 1, 1, 2, 2]
    for bad in (H0 * US - 1, H_END * US):
        with pytest.raises(EngineError, match=r"6B.S4.SPLIT_GAP: row 1"):
            J.assign_split(np.array([H0 * US, bad], np.int64), sp)


def test_window_cut_stops_at_the_boundary_and_at_max_rows():
    sp = _split()
    ts = np.sort(np.r_[np.arange(10) + sp.b1 * US - 10, np.arange(5) + sp.b1 * US])
    assert J.window_cut(ts, sp, 100) == 10  # the last TRAIN row ends the window
    assert J.window_cut(ts, sp, 4) == 4
    assert J.window_cut(ts[10:], sp, 100) == 5
    assert J.window_cut(ts[:0], sp, 100) == 0


# --- joins ------------------------------------------------------------------------------
def test_sorted_query_join_equals_a_dict_join():
    rng = np.random.default_rng(7)
    ids = np.unique(rng.integers(1, 2**64 - 1, 5000, dtype=np.uint64))  # the full id64 range
    tab = ids[rng.permutation(ids.size)]  # the lookup accepts an unsorted table
    value = rng.integers(0, 10**9, tab.size)  # an attribute column of the table as given
    look = J.Lookup("t", tab)
    q = tab[rng.integers(0, tab.size, 20_000)]
    valid = rng.random(q.size) < 0.8
    rank = look.rows(q, "device_id", valid)
    got = np.where(rank >= 0, look.sort(value)[rank], -1)
    naive = dict(zip(tab.tolist(), value.tolist(), strict=True))
    want = [naive[x] if ok else -1 for x, ok in zip(q.tolist(), valid, strict=True)]
    assert got.tolist() == want
    assert np.array_equal(look.ids[rank[valid]], q[valid])
    assert np.array_equal(J.Lookup("s", ids).rows(ids, "x"), np.arange(ids.size))
    assert look.rows(q[:0], "x").size == 0


def test_radix_unique_equals_np_unique():
    rng = np.random.default_rng(11)
    hi = rng.integers(0, 2**20, 50_000).astype(np.uint64) << np.uint64(32)
    cases = [
        rng.integers(0, 2**64 - 1, 100_000, dtype=np.uint64),
        rng.integers(0, 300, 10_000).astype(np.uint64),  # heavy repeats, one digit used
        hi | rng.integers(0, 2**20, 50_000).astype(np.uint64),  # rank-pair keys
        np.zeros(0, np.uint64),
        np.array([7, 7], np.uint64),
    ]
    for a in cases:
        assert np.array_equal(unique_u64(a), np.unique(a))


def test_join_miss_names_the_column_and_one_id():
    look = J.Lookup("s4_ip_base_6A", np.array([5, 9, 12], np.uint64))
    q = np.array([9, 77, 5, 3], np.uint64)
    with pytest.raises(EngineError, match=r"6B.S4.JOIN_MISS: ip_id: id 3 not in s4_ip_base_6A"):
        look.rows(q, "ip_id")
    # a null (invalid) query never misses
    assert look.rows(q, "ip_id", np.array([1, 0, 1, 0], bool)).tolist() == [1, -1, 0, -1]
    with pytest.raises(EngineError, match=r"JOIN_MISS"):
        J.Lookup("empty", np.zeros(0, np.uint64)).rows(q[:1], "x")
    with pytest.raises(EngineError, match=r"appears twice"):
        J.Lookup("dup", np.array([4, 2, 4], np.uint64))


def test_attr_take_is_null_where_the_row_or_value_is_null():
    col = pa.chunked_array(
        [pa.array(["VISA", None]).dictionary_encode(), pa.array(["AMEX"]).dictionary_encode()]
    )
    a = J.Attr(col)
    got = a.take(np.array([2, 1, -1, 0]))
    assert pa.types.is_dictionary(got.type) and got.to_pylist() == ["AMEX", None, None, "VISA"]
    b = J.Attr(pa.array([7, None, 9], pa.uint32()))
    assert b.take(np.array([0, 1, 2, -1])).to_pylist() == [7, None, 9, None]
    days, clipped = J.age_days(np.array([10 * J.DAY_US + 5, 3 * J.DAY_US]), np.array([4, 5]))
    assert days.dtype == np.uint32 and days.tolist() == [6, 0] and clipped == 1


# --- projection -------------------------------------------------------------------------
def test_contract_is_the_whitelist_and_extra_columns_fail():
    schema = load_dictionary().arrow_schema_of("ml_transactions_6B")
    assert list(schema.names) == list(J.WHITELIST)
    cols = dict.fromkeys(schema.names)
    with pytest.raises(EngineError, match=r"6B.S4.COLUMN_NOT_WHITELISTED: .*\['is_fraud'\]"):
        J.project({**cols, "is_fraud": pa.array([True])}, schema)
    del cols["bin6"]
    with pytest.raises(EngineError, match=r"COLUMN_NOT_WHITELISTED: .*\['bin6'\] missing"):
        J.project(cols, schema)
    leaky = pa.schema([*schema, pa.field("fraud_role", pa.string())])
    with pytest.raises(EngineError, match=r"COLUMN_NOT_WHITELISTED: contract .*fraud_role"):
        J.project({}, leaky)


def test_projection_orders_columns_and_checks_types():
    schema = pa.schema([pa.field("a", pa.uint64()), pa.field("b", pa.uint32())])
    t = J.project({"b": pa.array([1], pa.uint32()), "a": pa.array([2], pa.uint64())}, schema, "x")
    assert t.schema.names == ["a", "b"]
    with pytest.raises(EngineError, match=r"COLUMN_NOT_WHITELISTED: x: column b is int64"):
        J.project({"b": pa.array([1]), "a": pa.array([2], pa.uint64())}, schema, "x")


# --- labels -----------------------------------------------------------------------------
def test_as_of_label_truth_table():
    cut = (100, 200, 300)
    observed = np.array([0, 1, 1, 1, 1, 1, 0], bool)
    valid = np.array([1, 0, 1, 1, 1, 1, 1], bool)
    ts = np.array([50, 0, 100, 101, 250, 301, 10], np.int64)
    y = J.label_views(observed, ts, valid, cut)
    assert y[0].tolist() == [False, False, True, False, False, False, False]
    assert y[1].tolist() == [False, False, True, True, False, False, False]
    assert y[2].tolist() == [False, False, True, True, True, False, False]


# --- a synthetic window through attach / windows / edges ------------------------------------
def _dict(values):
    return pa.array(values).dictionary_encode()


def _world():
    tables = {
        "s1_party_base_6A": pa.table({
            "party_id": pa.array([10, 20], pa.uint64()),
            "party_type": _dict(["RETAIL", "BUSINESS"]),
            "segment_id": _dict(["STUDENT", "SME"]), "country_iso": _dict(["DE", "FR"]),
            "customer_since": pa.array([0, 20_000], pa.date32())}),
        "s2_account_base_6A": pa.table({
            "account_id": pa.array([200, 100, 300], pa.uint64()),
            "account_type": _dict(["SAVINGS", "CURRENT", "CURRENT"]),
            "open_date": pa.array([1, 2, 3], pa.date32()),
            "owner_party_id": pa.array([20, 10, 10], pa.uint64())}),
        "s3_instrument_base_6A": pa.table({
            "instrument_id": pa.array([1000, 2000, 3000], pa.uint64()),
            "instrument_type": _dict(["DEBIT_CARD", "TRANSFER_HANDLE", "CREDIT_CARD"]),
            "scheme": _dict(["VISA", None, "AMEX"]),
            "bin6": pa.array([411111, None, 371111], pa.uint32()),
            "card_tier": _dict(["GOLD", None, "STANDARD"]),
            "issue_date": pa.array([5, 6, 7], pa.date32()),
            "account_id": pa.array([100, 100, 300], pa.uint64())}),
        "s4_device_base_6A": pa.table({
            "device_id": pa.array([7, 9], pa.uint64()), "device_type": _dict(["LAPTOP", "TABLET"]),
            "os_family": _dict(["WINDOWS", "IOS"])}),
        "s5_operator_devices_6A": pa.table({
            "device_id": pa.array([8], pa.uint64()), "device_type": _dict(["DESKTOP"]),
            "os_family": _dict(["LINUX"])}),
        "s4_ip_base_6A": pa.table({
            "ip_id": pa.array([55, 66], pa.uint64()), "ip_type": _dict(["FIXED_HOME", "TOR_EXIT"]),
            "asn_id": pa.array([1, 2], pa.uint32()), "ip_country_iso": _dict(["DE", "NL"])}),
    }  # fmt: skip
    io = SimpleNamespace(read_table=lambda name, cols: tables[name].select(cols))
    return S.load_world(io)


def _txn(n_party=(10, 10, 20, 10), acct=(100, 100, 200, 300), inst=(1000, 2000, 1000, 3000),
         dev=(7, None, 8, 7), ip=(55, None, 66, None)):  # fmt: skip
    return pa.table({
        "party_id": pa.array(n_party, pa.uint64()), "account_id": pa.array(acct, pa.uint64()),
        "instrument_id": pa.array(inst, pa.uint64()), "device_id": pa.array(dev, pa.uint64()),
        "ip_id": pa.array(ip, pa.uint64())})  # fmt: skip


def test_attach_joins_every_entity_including_operator_devices():
    w = _world()
    ts = np.full(4, 20_001 * J.DAY_US + 3, np.int64)
    cols, info, _ = S.attach(w, _txn(), ts)
    assert cols["party_type"].to_pylist() == ["RETAIL", "RETAIL", "BUSINESS", "RETAIL"]
    assert cols["customer_country_iso"].to_pylist() == ["DE", "DE", "FR", "DE"]
    assert cols["customer_tenure_days"].to_pylist() == [20_001, 20_001, 1, 20_001]
    assert cols["account_type"].to_pylist() == ["CURRENT", "CURRENT", "SAVINGS", "CURRENT"]
    assert cols["account_age_days"].to_pylist() == [19_999, 19_999, 20_000, 19_998]
    assert cols["card_scheme"].to_pylist() == ["VISA", None, "VISA", "AMEX"]
    assert cols["bin6"].to_pylist() == [411111, None, 411111, 371111]
    assert cols["card_tier"].to_pylist() == ["GOLD", None, "GOLD", "STANDARD"]
    assert cols["card_age_days"].to_pylist() == [19_996, 19_995, 19_996, 19_994]
    assert cols["device_type"].to_pylist() == ["LAPTOP", None, "DESKTOP", "LAPTOP"]
    assert cols["os_family"].to_pylist() == ["WINDOWS", None, "LINUX", "WINDOWS"]
    assert cols["ip_type"].to_pylist() == ["FIXED_HOME", None, "TOR_EXIT", None]
    assert cols["ip_asn_id"].to_pylist() == [1, None, 2, None]
    assert cols["ip_country_iso"].to_pylist() == ["DE", None, "NL", None]
    assert info["clipped"] == dict.fromkeys(S.AGES, 0)
    with pytest.raises(EngineError, match=r"JOIN_MISS: device_id: id 4 not in s4_device_base"):
        S.attach(w, _txn(dev=(7, 4, None, None)), ts)
    with pytest.raises(EngineError, match=r"JOIN_MISS: account_id: id 999 "):
        S.attach(w, _txn(acct=(100, 999, 200, 300)), ts)


def test_edges_are_observed_unique_sorted_and_free_of_ownership():
    w = _world()
    ts = np.zeros(4, np.int64)
    acc = S.Accumulator(w)
    for _ in range(2):  # the same window twice: edges stay unique
        _, info, pairs = S.attach(w, _txn(), ts)
        stats = {"split": 0, "rows": 4, "fraud": 0, "y": [0, 0, 0], "clipped": {}}
        acc.add(stats, info["rows"], pairs)
    schema = load_dictionary().arrow_schema_of("ml_entity_edges_6B")
    e = J.edge_table(acc.edge_blocks(), schema)
    C.edges_sorted(e)
    rows = list(zip(*(e.column(c).to_pylist() for c in schema.names), strict=True))
    assert rows == [
        ("ACCOUNT", 100, "ACCOUNT_PARTY", "PARTY", 10),
        ("ACCOUNT", 200, "ACCOUNT_PARTY", "PARTY", 20),
        ("ACCOUNT", 300, "ACCOUNT_PARTY", "PARTY", 10),
        ("CARD", 1000, "CARD_ACCOUNT", "ACCOUNT", 100),  # the handle 2000 is no card
        ("CARD", 3000, "CARD_ACCOUNT", "ACCOUNT", 300),
        ("DEVICE", 7, "DEVICE_ACCOUNT", "ACCOUNT", 100),
        ("DEVICE", 7, "DEVICE_ACCOUNT", "ACCOUNT", 300),
        ("DEVICE", 7, "DEVICE_CARD", "CARD", 1000),
        ("DEVICE", 7, "DEVICE_CARD", "CARD", 3000),
        ("DEVICE", 7, "DEVICE_IP", "IP", 55),
        ("DEVICE", 8, "DEVICE_ACCOUNT", "ACCOUNT", 200),
        ("DEVICE", 8, "DEVICE_CARD", "CARD", 1000),
        ("DEVICE", 8, "DEVICE_IP", "IP", 66),
    ]  # device 9 (never on a row) has no edge; no owner/holder/role edge exists
    assert set(e.column("edge_type").to_pylist()) <= set(J.EDGE_TYPES)
    with pytest.raises(EngineError, match=r"not strictly sorted"):
        C.edges_sorted(e.take([1, 0, *range(2, e.num_rows)]))


def test_windows_cut_at_splits_and_keep_labels_aligned(tmp_path):
    sp = _split()
    rng = np.random.default_rng(3)
    n = 2500
    ts = np.sort(rng.integers(H0 * US, H_END * US, n))
    ids = rng.choice(2**62, n, replace=False).astype(np.uint64) + np.uint64(1)
    t = pa.table({"txn_id": pa.array(ids), "ts_utc": pa.array(ts, pa.timestamp("us", "UTC"))})
    lab = pa.table({"txn_id": pa.array(ids), "is_fraud": pa.array(np.zeros(n, bool))})
    for name, tab, groups in (("t", t, (700, 1100, 700)), ("l", lab, (2000, 500))):
        a = 0
        for i, g in enumerate(groups):  # different part layouts for transactions and labels
            pq.write_table(tab.slice(a, g), tmp_path / f"{name}{i}.parquet", row_group_size=300)
            a += g
    parts = lambda p: sorted(tmp_path.glob(f"{p}*.parquet"))  # noqa: E731
    S_ROWS, S.WINDOW_ROWS = S.WINDOW_ROWS, 400
    try:
        out = list(S.windows(S.RowStream(parts("t"), None), S.RowStream(parts("l"), None), sp))
    finally:
        S.WINDOW_ROWS = S_ROWS
    assert sum(x[1].num_rows for x in out) == n
    last = 0
    for k, tw, tsw, lw in out:
        assert 0 < tw.num_rows <= 400
        codes = J.assign_split(tsw, sp)
        last = C.i09_split(codes, last, k)
        C.i09_aligned(tw.column("txn_id").to_numpy(), lw.column("txn_id").to_numpy(), k)
    got = [int(J.assign_split(x[2][:1], sp)[0]) for x in out]
    assert got == sorted(got) and set(got) == {0, 1, 2}
    cut = [int(np.searchsorted(ts, b * US)) for b in (sp.b1, sp.b2)]
    assert all(c in np.cumsum([x[1].num_rows for x in out]) for c in cut)
    short = S.RowStream(parts("l"), None)
    short.take(10)  # labels one window short of the transactions
    with pytest.raises(EngineError, match=r"6B-I09: .*not row-aligned"):
        for k, tw, _, lw in S.windows(S.RowStream(parts("t"), None), short, sp):
            C.i09_aligned(tw.column("txn_id").to_numpy(), lw.column("txn_id").to_numpy(), k)


def test_i01_rejects_unsorted_and_repeated_rows():
    ids = np.array([5, 3, 9], np.uint64)
    C.i01_window(ids, np.array([1, 2, 2]), 0)
    with pytest.raises(EngineError, match=r"6B-I01: window 0: not strictly sorted"):
        C.i01_window(ids, np.array([1, 1, 2]), 0)
    with pytest.raises(EngineError, match=r"6B-I01: window 1"):
        C.i01_window(ids, np.array([1, 2, 2]), 1, prev=(1, 5))  # the previous row repeats
    with pytest.raises(EngineError, match=r"txn_id 0"):
        C.i01_window(np.array([0], np.uint64), np.array([1]), 0)


# --- the tiny world end to end ----------------------------------------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from engine_core.runner import run_world

    root = tmp_path_factory.mktemp("tiny6b_s4")
    run_world(profile="tiny", seed=42, data_root=root, until="6B.S4", scenario="baseline")
    return root


def test_tiny_export_passes_i09_and_matches_s3(world):
    import json

    import polars as pl

    from engine_core.context import RunContext
    from engine_core.manifest import build_manifest
    from engine_core.segments.seg_6B.checks import CHECKS

    d = load_dictionary()
    ctx = RunContext(world, d, build_manifest("tiny", d), seed=42, scenario_id="baseline")
    check = next(c for c in CHECKS if c.check_id == "6B.S4.I09_export")
    out = check.evaluate(ctx)
    assert out["status"] == "PASS", out["measured"]

    def read(ds):
        files = sorted((world / "layer3/6B" / ds).rglob("*.parquet"))
        return pl.concat([pl.read_parquet(f) for f in files]), files

    ml, files = read("ml_transactions_6B")
    s3, _ = read("s3_transactions_6B")
    lab, _ = read("s3_labels_6B")
    assert ml["txn_id"].to_list() == s3["txn_id"].to_list()
    for c in ("amount", "device_id", "ip_id", "tzid", "counterparty_country_iso"):
        assert ml[c].cast(pl.String).to_list() == s3[c].cast(pl.String).to_list(), c
    assert all(pq.ParquetFile(f).metadata.num_row_groups == 1 for f in files)
    assert ml["split"].cast(pl.String).unique(maintain_order=True).to_list() == list(J.SPLITS)
    # attributes are null exactly where their id is
    assert (ml["os_family"].is_null() == ml["device_id"].is_null()).all()
    assert (ml["ip_country_iso"].is_null() == ml["ip_id"].is_null()).all()
    assert (ml["card_scheme"].is_null() == (ml["instrument_type"] == "TRANSFER_HANDLE")).all()
    man = json.loads(next((world / "layer3/6B/ml_split_manifest_6B").rglob("*.json")).read_text())
    assert sum(s["rows"] for s in man["splits"].values()) == ml.height
    assert sum(s["fraud_rows"] for s in man["splits"].values()) == int(lab["is_fraud"].sum())
