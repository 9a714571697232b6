"""6B.S2 on the tiny world (layer3 §4.3, §4.7): the exact fraud budget realised per typology,
every CONVERT/REBIND row replaces a childless legit row it copies the merchant side of,
targets hold their 6A roles, RNG trace = family formulas, and the S2 failure codes."""

import json

import numpy as np
import polars as pl
import pytest

from engine_core.errors import EngineError
from engine_core.kernels.alloc import round_half_even
from engine_core.runner import run_world
from engine_core.segments.seg_6B import s2_plan, s2_state
from engine_core.segments.seg_6B.s2_pools import TYPOLOGIES


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny6b_s2")
    run_world(profile="tiny", seed=42, data_root=root, until="6B.S2", scenario="baseline")
    return root


def _read(root, ds):
    files = sorted((root / "layer3/6B" / ds).rglob("*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files])


def _budget(root):
    (path,) = (root / "layer3/6B/s2_budget_6B").rglob("fraud_budget.json")
    return json.loads(path.read_text())


def test_the_budget_is_exact(world):
    b = _budget(world)
    ov = _read(world, "s2_overlay_6B")
    legit = _read(world, "s1_legit_txns_6B")
    assert b["L"] == legit.height
    assert b["I"] == ov.filter(pl.col("overlay_kind") == "INJECT").height
    assert b["F"] == round_half_even(b["rate"] * (b["L"] + b["I"]))
    fraud = ov.filter(pl.col("is_fraud"))
    assert fraud.height == b["F"]
    got = dict(fraud.group_by("fraud_typology").len().iter_rows())
    for t in TYPOLOGIES:
        want = b["planned"][t] + (b["F"] - sum(b["planned"].values()) if t == b["absorber"] else 0)
        assert got.get(t, 0) == want == b["realised"][t], t
    assert set(got) <= set(TYPOLOGIES) and not b["skipped"]


def test_converted_and_rebound_rows_replace_childless_legit_rows(world):
    ov = _read(world, "s2_overlay_6B")
    legit = _read(world, "s1_legit_txns_6B")
    j = ov.filter(pl.col("overlay_kind") != "INJECT").join(
        legit, on="txn_index", how="left", suffix="_l"
    )
    assert j["txn_id_l"].is_not_null().all()
    assert (j["txn_id"] == j["txn_id_l"]).all() and (j["ts_utc"] == j["ts_utc_l"]).all()
    assert (j["source"] == "ARRIVAL").all() and (j["n_children"] == 0).all()
    for col in ("merchant_id", "site_id", "edge_id", "terminal_id", "channel"):
        assert (
            j[col].cast(pl.String).fill_null("-") == j[f"{col}_l"].cast(pl.String).fill_null("-")
        ).all()
    assert ov["txn_index"].n_unique() == ov.height
    inj = ov.filter(pl.col("overlay_kind") == "INJECT")
    assert not inj["txn_index"].is_in(legit["txn_index"].implode()).any()
    assert not inj["txn_id"].is_in(legit["txn_id"].implode()).any()
    rb = ov.filter(pl.col("overlay_kind") == "REBIND")
    assert (~rb["is_fraud"]).all() and (rb["fraud_stage"] == "COMPROMISE").all()


def test_overlay_is_sorted_and_channel_coherent(world):
    ov = _read(world, "s2_overlay_6B")
    key = ov.select(pl.col("ts_utc").cast(pl.Int64), "txn_id")
    assert key.equals(key.sort(["ts_utc", "txn_id"]))
    cnp = ov.filter(pl.col("channel") == "CNP")
    assert cnp["edge_id"].is_not_null().all() and cnp["site_id"].is_null().all()
    cp = ov.filter(pl.col("channel") == "CP")
    assert cp["site_id"].is_not_null().all() and cp["terminal_id"].is_not_null().all()
    assert cp["ip_id"].is_null().all()
    ob = ov.filter(pl.col("channel") == "ONLINE_BANKING")
    assert ob["merchant_id"].is_null().all()
    assert ov.filter(pl.col("parent_txn_id").is_not_null())["txn_type"].unique().to_list() in (
        [],
        ["REFUND"],
    )


def test_targets_hold_their_roles(world):
    tg = _read(world, "s2_campaign_targets_6B")
    camps = _read(world, "s2_campaigns_6B")
    roles = pl.read_parquet(sorted((world / "layer3/6A/s5_instrument_roles_6A").rglob("*.parquet")))
    victims = tg.join(camps.select("campaign_id", "typology"), on="campaign_id").filter(
        pl.col("typology").is_in(["CARD_TESTING", "STOLEN_CARD_CP"])
        & (pl.col("target_kind") == "INSTRUMENT")
    )
    hit = victims.join(roles, left_on="target_id", right_on="instrument_id", how="left")
    assert (hit["fraud_role"] == "COMPROMISED_CARD").all()
    cp = hit.filter(pl.col("typology") == "STOLEN_CARD_CP")
    assert (cp["exposure_channel"] == "SKIMMING").all()
    assert camps["campaign_id"].n_unique() == camps.height
    assert int(camps["n_fraud"].sum()) == _budget(world)["F"]


def test_trace_totals(world):
    tr = _read(world, "rng_trace_log_6B_S2")
    got = dict(tr.group_by("family_id").agg(pl.col("draws").sum()).iter_rows())
    camps = _read(world, "s2_campaigns_6B")
    assert got["6B.S2.plan"] == 16 * camps.height
    assert got["6B.S2.target"] == 4 * int(camps["n_targets"].sum())
    assert got["6B.S2.txn"] % 12 == 0 and got["6B.S2.txn"] >= 12 * int(camps["n_fraud"].sum())


def test_bytes_do_not_depend_on_workers(world, tmp_path):
    from engine_core.tools import data_files

    other = tmp_path / "w2"
    run_world(profile="tiny", seed=42, data_root=other, until="6B.S2", scenario="baseline",
              workers=2)  # fmt: skip
    a = [x for x in data_files(world / "layer3/6B") if "/s2_" in "/" + x[0] or "S2" in x[0]]
    b = [x for x in data_files(other / "layer3/6B") if "/s2_" in "/" + x[0] or "S2" in x[0]]
    assert a and a == b


def test_cut_truncates_the_last_campaign():
    n, kept = s2_plan.cut(np.array([5, 7, 4, 9]), 14)
    assert n == 3 and kept.tolist() == [5, 7, 2]
    n, kept = s2_plan.cut(np.array([5, 7]), 12)
    assert n == 2 and kept.tolist() == [5, 7]


def test_ring_missing(world, monkeypatch):
    from engine_core.segments.seg_6B import s2_cards

    class _F:
        ring_id = np.zeros(0, np.uint64)
        ring_size = np.zeros(0)

    class _Env:
        class sw:
            fraud = _F()

    with pytest.raises(EngineError) as e:
        s2_cards.ring_of(_Env(), np.zeros(3, np.uint64))
    assert e.value.code.endswith("RING_MISSING")


def test_demand_unresolved_is_fatal(world, tmp_path, monkeypatch):
    from engine_core.segments.seg_6B import s2_convert

    other = tmp_path / "w3"
    real = s2_convert.gather

    def starve(io, sw, keys, sites, **kw):  # no candidate row survives the gather pass
        out = real(io, sw, keys, sites, **kw)
        keep = out["key"] < 0
        return {k: v[keep] for k, v in out.items()}

    monkeypatch.setattr(s2_convert, "gather", starve)
    monkeypatch.setattr(s2_state.CV, "gather", starve)
    with pytest.raises(EngineError) as e:
        run_world(profile="tiny", seed=42, data_root=other, until="6B.S2", scenario="baseline")
    assert e.value.code.endswith("DEMAND_UNRESOLVED")
    assert not list((other / "layer3/6B/s2_overlay_6B").rglob("*.parquet"))


def test_payer_side_is_coherent(world):
    """Every overlay row's instrument is held by its party on its account (6B-I05)."""
    ov = _read(world, "s2_overlay_6B")
    inst = pl.read_parquet(sorted((world / "layer3/6A/s3_instrument_base_6A").rglob("*.parquet")))
    j = ov.join(inst.select("instrument_id", "account_id", "holder_party_id"), on="instrument_id",
                how="left", suffix="_i")  # fmt: skip
    assert (j["party_id"] == j["holder_party_id"]).all()
    assert (j["account_id"] == j["account_id_i"]).all()
