"""6B.S1 on the tiny world (layer3 §4.2, §4.7): one ARRIVAL row per 5B arrival, children
and flows counted exactly, runs sorted, RNG trace = family formulas, hourly capacities
consistent with the rows, bytes independent of workers, and the S1 failure codes."""

import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
import yaml

from engine_core.errors import EngineError
from engine_core.runner import run_world
from engine_core.segments.seg_6B import s1_params, s1_state, s1_tables
from engine_core.tools import data_files

ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny6b_s1s")
    run_world(profile="tiny", seed=42, data_root=root, until="6B.S1", scenario="baseline")
    return root


def _read(root, ds, **kw):
    files = sorted((root / "layer3/6B" / ds).rglob("*.parquet"))
    return pl.concat([pl.read_parquet(f, **kw) for f in files]), files


def test_every_arrival_is_one_arrival_row(world):
    txn, _ = _read(world, "s1_legit_txns_6B")
    arr = pl.concat(
        [
            pl.read_parquet(f, columns=["merchant_id"])
            for f in sorted((world / "layer2/5B/arrival_events_5B").rglob("*.parquet"))
        ]
    )
    src = txn.filter(pl.col("source") == "ARRIVAL")
    assert src.height == arr.height
    assert src["arrival_index"].sort().to_list() == list(range(arr.height))
    assert txn["txn_id"].n_unique() == txn.height and txn["txn_index"].n_unique() == txn.height
    kids = txn.filter(pl.col("source").is_in(["REFUND", "VERIFICATION"]))
    assert int(src["n_children"].sum()) == kids.height
    refunds = txn.filter(pl.col("txn_type") == "REFUND")
    assert refunds["direction"].unique().to_list() == ["CREDIT"]
    linked = refunds.filter(pl.col("parent_txn_id").is_not_null())
    assert linked["parent_txn_id"].is_in(src["txn_id"].implode()).all()
    assert 0.8 < linked.height / max(refunds.height, 1) <= 1.0  # p_refund_unlinked = 0.1


def test_runs_are_sorted_and_the_schema_is_the_contract(world):
    from engine_core.contracts import load_dictionary

    schema = load_dictionary().arrow_schema_of("s1_legit_txns_6B")
    _, files = _read(world, "s1_legit_txns_6B")
    assert len(files) >= 4  # tiny: 20 000-row arrival chunks, then the party chunk
    for f in files:
        t = pl.read_parquet(f, columns=["ts_utc", "txn_id"])
        ts, ids = t["ts_utc"].to_physical().to_numpy(), t["txn_id"].to_numpy()
        assert ((ts[1:] > ts[:-1]) | ((ts[1:] == ts[:-1]) & (ids[1:] > ids[:-1]))).all()
        import pyarrow.parquet as pq

        assert pq.read_schema(f).remove_metadata().equals(schema)


def test_trace_totals_equal_the_family_formulas(world):
    txn, _ = _read(world, "s1_legit_txns_6B")
    trace, _ = _read(world, "rng_trace_log_6B_S1")
    d = dict(trace.group_by("family_id").agg(pl.col("draws").sum()).rows())
    a = txn.filter(pl.col("source") == "ARRIVAL").height
    parties = pl.read_parquet(
        next((world / "layer3/6A/s1_party_base_6A").rglob("*.parquet"))
    ).height
    trips, _ = _read(world, "s1_trips_6B")
    assert d["6B.S1.attach"] == 20 * a
    assert d["6B.S1.trips"] == parties + 3 * trips.height
    assert d["6B.S1.p2p"] == parties + 8 * txn.filter(pl.col("source") == "P2P").height
    assert (
        d["6B.S1.credit"] == parties + 3 * txn.filter(pl.col("source") == "EXTERNAL_CREDIT").height
    )


def test_hourly_cells_count_the_card_rows(world):
    txn, _ = _read(world, "s1_legit_txns_6B")
    cells, _ = _read(world, "s1_hourly_cells_6B")
    card = txn.filter(pl.col("channel") != "ONLINE_BANKING")
    assert int(cells["n_rows"].sum()) == card.height
    conv = card.filter((pl.col("source") == "ARRIVAL") & (pl.col("n_children") == 0)).height
    assert int(cells["n_convertible"].sum()) == conv
    keys = ["merchant_id", "country_iso", "hour_index", "channel"]
    assert cells.select(keys).is_unique().all()


def test_bytes_do_not_depend_on_workers(world, tmp_path):
    other = tmp_path / "w"
    shutil.copytree(world, other, ignore=shutil.ignore_patterns("s1_*_6B", "rng_*_6B_S1"))
    run_world(profile="tiny", seed=42, data_root=other, until="6B.S1", only=True,
              scenario="baseline", workers=1)  # fmt: skip
    pick = lambda r: {p: s for p, s in data_files(r) if p.startswith("layer3/6B/")}  # noqa: E731
    assert pick(other) == pick(world)


# --- failure codes --------------------------------------------------------------------------
def test_mcc_in_two_groups_is_refused():
    amounts = yaml.safe_load((ROOT / "policies/6B/amounts.yaml").read_text())
    s1_params.mcc_groups(amounts)
    amounts["groups"]["FUEL"]["mcc"].append(5411)  # GROCERY's
    with pytest.raises(EngineError, match=r"6B.S1.MCC_GROUP_OVERLAP: .*MCC 5411"):
        s1_params.mcc_groups(amounts)


def test_an_unroutable_arrival_is_named():
    t = pa.table({
        "site_id": pa.array([5, None], pa.uint64()),
        "edge_id": pa.array([None, 9], pa.uint64()),
    })  # fmt: skip
    s1_state._routable(t, np.array([False, True]), np.array([9], np.uint64), 100)
    with pytest.raises(EngineError, match=r"ARRIVAL_UNROUTABLE: .*row 101.*CNP.*edge 9"):
        s1_state._routable(t, np.array([False, True]), np.array([7], np.uint64), 100)
    t2 = pa.table(
        {"site_id": pa.array([None], pa.uint64()), "edge_id": pa.array([None], pa.uint64())}
    )
    with pytest.raises(EngineError, match=r"row 7: a CP arrival without site_id"):
        s1_state._routable(t2, np.array([False]), np.array([9], np.uint64), 7)


def test_a_home_zone_outside_the_tz_cache_is_refused(world):
    from types import SimpleNamespace

    from engine_core.context import RunContext
    from engine_core.contracts import load_dictionary
    from engine_core.manifest import build_manifest
    from engine_core.segments.common import read_table

    d = load_dictionary()
    ctx = RunContext(data_root=world, dictionary=d, manifest=build_manifest("tiny", d), seed=42)
    io = SimpleNamespace(read_table=lambda ds, cols=None: read_table(ctx, ds, cols, state="t"))
    seg = yaml.safe_load((ROOT / "policies/6A/segmentation.yaml").read_text())
    segments = [s for t in seg["party_types"] for s in seg["segments"][t]]
    ref = io.read_table("s1_country_reference", ["country_iso"]).column(0).to_pylist()
    zones = sorted(
        set(
            io.read_table("s1_party_base_6A", ["home_tzid"]).column(0).cast(pa.string()).to_pylist()
        )
    )
    s1_tables.parties(io, sorted(ref), segments, zones)
    with pytest.raises(EngineError, match=r"6B.S1.TZ_LOOKUP_FAILED: .*not in the tz cache"):
        s1_tables.parties(io, sorted(ref), segments, zones[1:])
