"""6B.S3 on the tiny world (layer3 §4.4, §4.7): rows = L + I with every 5B arrival once,
strictly sorted windows, the overlay placed exactly (CONVERT/REBIND in place, INJECT
merged), labels row-aligned and consistent (I08), the budget realised (I03), the trace =
family formulas (I10), entity labels, bytes independent of workers and of the window cut
only through the part boundaries — and the S3 failure codes on tampered overlays."""

import shutil
from types import SimpleNamespace

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from engine_core.errors import EngineError
from engine_core.runner import run_world
from engine_core.segments import state_io
from engine_core.segments.seg_6B import s3_labels as S
from engine_core.segments.seg_6B import s3_state
from engine_core.segments.seg_6B import txn as X
from engine_core.tools import data_files

S3_OUT = ("s3_*_6B", "rng_*_6B_S3")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny6b_s3")
    run_world(profile="tiny", seed=42, data_root=root, until="6B.S3", scenario="baseline")
    return root


def _files(root, ds):
    return sorted((root / "layer3/6B" / ds).rglob("*.parquet"))


def _read(root, ds):
    return pl.concat([pl.read_parquet(f) for f in _files(root, ds)])


def _rerun(world, tmp_path, **kw):
    other = tmp_path / "w"
    shutil.copytree(world, other, ignore=shutil.ignore_patterns(*S3_OUT))
    run_world(profile="tiny", seed=42, data_root=other, until="6B.S3", only=True,
              scenario="baseline", **kw)  # fmt: skip
    return other


def test_rows_are_the_legit_world_plus_the_injections(world):
    tx, s1, ov = (
        _read(world, "s3_transactions_6B"),
        _read(world, "s1_legit_txns_6B"),
        _read(world, "s2_overlay_6B"),
    )
    inj = ov.filter(pl.col("overlay_kind") == "INJECT")
    assert tx.height == s1.height + inj.height
    ts, ids = tx["ts_utc"].to_physical().to_numpy(), tx["txn_id"].to_numpy()
    assert ((ts[1:] > ts[:-1]) | ((ts[1:] == ts[:-1]) & (ids[1:] > ids[:-1]))).all()
    assert tx["txn_id"].n_unique() == tx.height and (ids != 0).all()
    # every overlay row is in the output as written by S2 (public columns), S1 rows otherwise
    got = tx.join(ov.select("txn_id"), on="txn_id", how="semi").sort("txn_id")
    assert got.equals(ov.select(tx.columns).sort("txn_id"))
    rest = tx.join(ov.select("txn_id"), on="txn_id", how="anti").sort("txn_id")
    kept = s1.join(ov.select("txn_id"), on="txn_id", how="anti").select(tx.columns)
    assert rest.equals(kept.sort("txn_id"))
    prov = _read(world, "s3_txn_provenance_6B")
    arr = prov.filter(pl.col("source") == "ARRIVAL")["arrival_index"].sort()
    five_b = sorted((world / "layer2/5B/arrival_events_5B").rglob("*.parquet"))
    n5b = sum(pq.ParquetFile(f).metadata.num_rows for f in five_b)
    assert arr.to_list() == list(range(n5b))
    kinds = dict(prov.group_by("overlay_kind").len().rows())
    want = dict(ov.group_by("overlay_kind").len().rows())
    assert {k: v for k, v in kinds.items() if k} == want
    assert prov.filter(pl.col("overlay_kind") == "INJECT")["source"].unique().to_list() == [
        "INJECTED"
    ]


def test_schemas_row_alignment_and_row_groups(world):
    from engine_core.contracts import load_dictionary

    d = load_dictionary()
    for ds in ("s3_transactions_6B", "s3_labels_6B", "s3_txn_provenance_6B", "s3_entity_labels_6B"):
        for f in _files(world, ds):
            assert pq.read_schema(f).remove_metadata().equals(d.arrow_schema_of(ds))
            assert pq.ParquetFile(f).metadata.num_row_groups <= 1
    tx = _read(world, "s3_transactions_6B")
    for ds in ("s3_labels_6B", "s3_txn_provenance_6B"):
        t = _read(world, ds)
        assert t["txn_id"].equals(tx["txn_id"]) and t["ts_utc"].equals(tx["ts_utc"])


def test_labels_are_consistent_and_the_budget_is_realised(world):
    import json

    lb = _read(world, "s3_labels_6B")
    fr = lb.filter("is_fraud")
    legit = lb.filter(~pl.col("is_fraud"))
    assert (
        fr.select(
            pl.col("fraud_typology", "campaign_id", "fraud_stage").null_count()
        ).sum_horizontal()[0]
        == 0
    )
    assert (
        legit.select(
            pl.col("fraud_typology", "campaign_id", "fraud_stage").null_count()
        ).min_horizontal()[0]
        == legit.height
    )
    obs = lb.filter("observed_is_fraud")
    assert obs["label_available_ts"].null_count() == 0 and obs["report_channel"].null_count() == 0
    unobs = lb.filter(~pl.col("observed_is_fraud"))
    assert unobs["label_available_ts"].null_count() == unobs.height
    assert (obs["label_available_ts"] >= obs["ts_utc"]).all()
    fd = legit.filter("observed_is_fraud")
    assert fd["report_channel"].unique().to_list() in ([], ["FALSE_DISPUTE"])
    delay = (fd["label_available_ts"] - fd["ts_utc"]).dt.total_microseconds()
    assert (delay <= 120 * S.DAY_US).all()
    budget = json.loads(next((world / "layer3/6B/s2_budget_6B").rglob("*.json")).read_text())
    assert fr.height == budget["F"]
    assert dict(fr.group_by("fraud_typology").len().rows()) == {
        t: n for t, n in budget["realised"].items() if n
    }
    # REBIND rows are legit rows: no typology, campaign or stage in the labels
    prov = _read(world, "s3_txn_provenance_6B")
    rb = lb.filter(prov["overlay_kind"] == "REBIND")
    assert not rb["is_fraud"].any() and rb["campaign_id"].null_count() == rb.height


def test_trace_totals_equal_the_family_formulas(world):
    tx, lb = _read(world, "s3_transactions_6B"), _read(world, "s3_labels_6B")
    ov = _read(world, "s2_overlay_6B").filter("is_fraud")
    d = dict(
        _read(world, "rng_trace_log_6B_S3").group_by("family_id").agg(pl.col("draws").sum()).rows()
    )
    clusters = ov.select("campaign_id", "cluster_key").unique().height
    assert d["6B.S3.report"] == 2 * clusters
    legit_cnp = tx.filter(
        ~lb["is_fraud"] & (pl.col("txn_type") == "PURCHASE") & (pl.col("channel") == "CNP")
        & pl.col("is_approved")
    ).height  # fmt: skip
    declined = tx.filter(lb["is_fraud"] & ~pl.col("is_approved")).height
    assert d["6B.S3.noise"] == 2 * (legit_cnp + declined)


def test_entity_labels(world):
    el = _read(world, "s3_entity_labels_6B")
    key = ["entity_kind", "entity_id", "label"]
    assert el.select(key).is_unique().all()
    k = el.select(pl.col("entity_kind", "label").cast(pl.String), "entity_id").select(key)
    assert k.equals(k.sort(key))  # string order of kind and label, numeric order of ids
    assert (el.drop_nulls("label_available_ts").select(
        pl.col("label_available_ts") >= pl.col("first_fraud_ts")).to_series()).all()  # fmt: skip
    ops = pl.read_parquet(next((world / "layer3/6A/s5_operator_devices_6A").rglob("*.parquet")))
    dev = el.filter(pl.col("label") == "OPERATOR_DEVICE")
    assert dev["entity_id"].is_in(ops["device_id"].implode()).all()


def test_the_published_checks_pass(world):
    from engine_core.context import RunContext
    from engine_core.contracts import load_dictionary
    from engine_core.manifest import build_manifest
    from engine_core.segments.seg_6B.checks import CHECKS

    d = load_dictionary()
    ctx = RunContext(data_root=world, dictionary=d, manifest=build_manifest("tiny", d), seed=42,
                     scenario_id="baseline")  # fmt: skip
    mine = {"6B.S3.I02_merge", "6B.S3.I08_labels", "6B.S3.I10_trace"}
    s3 = [c for c in CHECKS if c.check_id in mine]
    assert len(s3) == len(mine)
    for c in s3:
        out = c.fn(ctx)
        assert out.passed, (c.check_id, out.measured)


def test_bytes_do_not_depend_on_workers(world, tmp_path):
    other = _rerun(world, tmp_path, workers=1)
    pick = lambda r: {p: s for p, s in data_files(r) if p.startswith("layer3/6B/")}  # noqa: E731
    assert pick(other) == pick(world)


def test_small_windows_give_the_same_rows(world, tmp_path, monkeypatch):
    monkeypatch.setattr(s3_state, "WINDOW_ROWS", 7_000)
    other = _rerun(world, tmp_path, workers=2)
    files = _files(other, "s3_transactions_6B")
    assert len(files) == -(-_read(world, "s3_transactions_6B").height // 7_000)
    for ds in ("s3_transactions_6B", "s3_labels_6B", "s3_txn_provenance_6B", "s3_entity_labels_6B"):
        assert _read(other, ds).equals(_read(world, ds))


# --- failure codes on tampered overlays ------------------------------------------------
def _tampered(world, tmp_path, monkeypatch, tamper, *, checks=False):
    """Run S3 with ``tamper(table) -> table`` applied to the overlay it reads; the overlay
    entity checks are skipped unless ``checks`` (they are not what these tests probe)."""
    other = tmp_path / "t"
    shutil.copytree(world, other, ignore=shutil.ignore_patterns(*S3_OUT))
    read = state_io.StateIO.read_table

    def spy(self, dataset_id, columns=None):
        t = read(self, dataset_id, columns)
        return tamper(t) if dataset_id == "s2_overlay_6B" else t

    monkeypatch.setattr(state_io.StateIO, "read_table", spy)
    if not checks:
        monkeypatch.setattr(s3_state, "overlay_checks", lambda *a: None)
    with pytest.raises(EngineError) as e:
        run_world(profile="tiny", seed=42, data_root=other, until="6B.S3", only=True,
                  scenario="baseline")  # fmt: skip
    assert not list((other / "layer3/6B").glob("s3_*_6B"))  # nothing published
    assert not list((other / ".staging").glob("*-s3_*"))  # and no scratch left behind
    return e.value


def _first(t, kind):
    return int(np.flatnonzero(pc.equal(t.column("overlay_kind").cast(pa.string()), kind))[0])


def _set(t, col, row, value):
    arr = t.column(col).combine_chunks()
    vals = arr.to_pylist()
    vals[row] = value
    return t.set_column(
        t.schema.get_field_index(col), t.schema.field(col), pa.array(vals, arr.type)
    )


def _ctx():
    from engine_core.contracts import load_dictionary
    from engine_core.manifest import build_manifest

    return SimpleNamespace(mf=build_manifest("tiny", load_dictionary()).mf, seed=42,
                           scenario_id="baseline")  # fmt: skip


def test_overlay_target_missing(world, tmp_path, monkeypatch):
    def tamper(t):
        r = _first(t, "REBIND")
        free = int(t.column("txn_index")[r].as_py()) | 3  # 4a + 3 is no ordinal S1 writes
        t = _set(t, "txn_index", r, free)
        return _set(t, "txn_id", r, int(X.txn_ids(_ctx(), np.array([free], np.uint64))[0]))

    err = _tampered(world, tmp_path, monkeypatch, tamper)
    assert err.code == "OVERLAY_TARGET_MISSING" and err.state == "6B.S3"


def test_a_moved_replacement_is_a_merge_order_violation(world, tmp_path, monkeypatch):
    def tamper(t):
        r = _first(t, "CONVERT")
        for col in ("ts_utc", "ts_local"):
            t = _set(
                t,
                col,
                r,
                t.column(col)[r].as_py() + __import__("datetime").timedelta(microseconds=1),
            )
        return t

    err = _tampered(world, tmp_path, monkeypatch, tamper)
    assert err.code == "MERGE_ORDER_VIOLATION" and "changes the ts_utc" in err.detail


def test_an_unsorted_inject_run_is_a_merge_order_violation(world, tmp_path, monkeypatch):
    def tamper(t):
        inj = np.flatnonzero(pc.equal(t.column("overlay_kind").cast(pa.string()), "INJECT"))
        order = np.arange(t.num_rows)
        order[inj[0]], order[inj[-1]] = inj[-1], inj[0]
        return t.take(pa.array(order))

    err = _tampered(world, tmp_path, monkeypatch, tamper)
    assert err.code == "MERGE_ORDER_VIOLATION" and "INJECT run" in err.detail


@pytest.mark.parametrize("how", ["legit_convert", "no_typology", "rebind_fraud"])
def test_label_inconsistent(world, tmp_path, monkeypatch, how):
    def tamper(t):
        if how == "legit_convert":
            return _set(t, "is_fraud", _first(t, "CONVERT"), False)
        if how == "no_typology":
            return _set(t, "fraud_typology", _first(t, "INJECT"), None)
        return _set(t, "is_fraud", _first(t, "REBIND"), True)

    err = _tampered(world, tmp_path, monkeypatch, tamper)
    assert err.code == "LABEL_INCONSISTENT" and err.state == "6B.S3"


def test_an_unknown_instrument_fails_the_entity_check(world, tmp_path, monkeypatch):
    def tamper(t):
        return _set(t, "instrument_id", _first(t, "INJECT"), 12345)

    err = _tampered(world, tmp_path, monkeypatch, tamper, checks=True)
    assert err.code == "CHECK_FAILED" and "6B-I05" in err.detail
