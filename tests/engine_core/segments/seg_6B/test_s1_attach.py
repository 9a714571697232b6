"""The 6B.S1 arrival kernel on the tiny world (layer3 §4.2 step 3): every arrival gets a payer
who can pay, entities are coherent with the 6A graph, draws are counter-addressed (a chunk
split changes nothing), and channel-specific fields follow the §4.2 table."""

import json
from types import SimpleNamespace

import numpy as np
import pyarrow.compute as pc
import pytest

from engine_core.context import RunContext, all_policies
from engine_core.contracts import load_dictionary
from engine_core.manifest import build_manifest
from engine_core.rng.units import StateRng
from engine_core.runner import run_world
from engine_core.segments.common import read_table
from engine_core.segments.seg_6B import s1_attach as K
from engine_core.segments.seg_6B import s1_world
from engine_core.segments.seg_6B.families import FAMILIES
from engine_core.segments.tz import load_cache


@pytest.fixture(scope="module")
def attached(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny6b_s1")
    run_world(profile="tiny", seed=42, data_root=root, until="6B.S0", scenario="baseline")
    d = load_dictionary()
    ctx = RunContext(
        data_root=root, dictionary=d, manifest=build_manifest("tiny", d), seed=42,
        scenario_id="baseline",
    )  # fmt: skip
    io = SimpleNamespace(read_table=lambda ds, cols=None: read_table(ctx, ds, cols, state="t"))
    receipt = json.loads(next((root / "layer3/6B/s0_gate_receipt_6B").rglob("*.json")).read_text())
    from engine_core.timeutil import parse_utc

    h0 = parse_utc(receipt["horizon_start_utc"]) * 1_000_000
    h_end = parse_utc(receipt["horizon_end_utc"]) * 1_000_000
    rng = StateRng(ctx, "6B.S1", FAMILIES, "fw.l3.v1")
    w = s1_world.build(io, ctx, rng, all_policies(ctx), h0, h_end, load_cache(ctx).tzids)
    a = read_table(
        ctx, "arrival_events_5B", ["merchant_id", "arrival_seq", "ts_utc", "is_virtual", "site_id"],
        state="t",
    )  # fmt: skip
    m_row = np.searchsorted(w.m_id, a.column("merchant_id").to_numpy())
    site = a.column("site_id").fill_null(0).to_numpy()
    s_row = np.where(a.column("is_virtual").to_numpy(), -1, np.searchsorted(w.s_id, site))
    arr = {
        "m": m_row,
        "seq": a.column("arrival_seq").to_numpy(),
        "ts": pc.cast(a.column("ts_utc"), "int64").to_numpy(),
        "virt": a.column("is_virtual").to_numpy(),
        "site": s_row,
    }
    out = s1_world.attach(w, arr["m"], arr["seq"], arr["ts"], arr["virt"], arr["site"])
    return w, arr, out, rng


def test_every_arrival_has_a_payer_holding_the_instrument(attached):
    w, arr, out, _ = attached
    assert arr["m"].size > 10_000 and (out["party"] >= 0).all()
    assert (w.inst.holder[out["instrument"]] == out["party"]).all()
    cnp = arr["virt"]
    itype = w.inst.type[out["instrument"]]
    assert not np.isin(itype[~cnp], [3, 5]).any()  # no virtual card or handle at a terminal
    assert not (itype == 5).any()


def test_channel_fields_follow_the_table(attached):
    w, arr, out, _ = attached
    cnp = arr["virt"]
    assert (out["terminal"][~cnp] >= 0).all() and (out["terminal"][cnp] == -1).all()
    assert (out["ip"][~cnp] == -1).all()
    entry_cnp, entry_cp = out["entry"][cnp], out["entry"][~cnp]
    assert np.isin(entry_cnp, [4, 5]).all() and np.isin(entry_cp, [0, 1, 2, 3]).all()
    assert (out["auth"][~cnp] == 0).all() and (out["auth"][cnp] >= 1).all()
    wallet = w.inst.type[out["instrument"]] == 4
    assert (out["auth"][cnp & wallet] == 4).all() and (out["entry"][cnp & wallet] == 5).all()
    # a card-present device exactly on contactless wallet payments (its bound device)
    cp_dev = ~cnp & (out["device"] >= 0)
    assert np.array_equal(cp_dev, ~cnp & wallet)
    assert (out["entry"][~cnp & wallet] == 1).all()
    assert (out["code"][out["approved"]] == 0).all() and (out["code"][~out["approved"]] > 0).all()
    assert (out["verify_ts"][~cnp] == -1).all()
    assert (out["refund_ts"][~out["approved"]] == -1).all()


def test_cnp_devices_and_ips_belong_to_the_payer_or_the_trip(attached):
    w, arr, out, _ = attached
    dev = out["device"]
    has = dev >= 0
    tok = w.inst.type[out["instrument"]] == 4
    bound = w.inst.bound[out["instrument"]]
    assert (dev[has & tok] == bound[has & tok]).all()
    own = w.dev.of_party
    cof = w.inst.cof
    for i in np.flatnonzero(has & ~tok & arr["virt"])[:2000]:
        p, k = out["party"][i], out["instrument"][i]
        mine = own.items[own.ptr[p] : own.ptr[p + 1]]
        on_file = cof.items[cof.ptr[k] : cof.ptr[k + 1]]
        assert dev[i] in mine or dev[i] in on_file


def test_rates_land_near_the_policy(attached):
    _, arr, out, _ = attached
    cp = ~arr["virt"]
    assert 0.9 < out["approved"][cp].mean() < 0.999
    assert 0.85 < out["approved"][~cp].mean() < 0.995
    assert np.isin(out["route"][cp], [K.LOCAL, K.DOMESTIC, K.TRAVELLER]).all()
    assert (out["route"][cp] == K.LOCAL).mean() > 0.5


def test_a_chunk_split_changes_no_draw(attached):
    w, arr, out, _ = attached
    cut = arr["m"].size // 3
    parts = [
        s1_world.attach(w, *(arr[k][sl] for k in ("m", "seq", "ts", "virt", "site")))
        for sl in (slice(0, cut), slice(cut, None))
    ]
    for k in ("party", "instrument", "device", "ip", "terminal", "amount_usd", "refund_ts"):
        assert np.array_equal(np.concatenate([p[k] for p in parts]), out[k]), k
