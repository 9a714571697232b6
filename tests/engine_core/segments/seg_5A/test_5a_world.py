"""5A on the tiny world: conservation per row, the EU spring-forward hole, dense UTC rows."""

import datetime as dt

import polars as pl
import pytest

from engine_core.runner import run_world
from engine_core.tools import verify_all


@pytest.fixture(scope="module")
def tiny5a(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny5a")
    run_world(profile="tiny", seed=42, data_root=root, until="5A")
    return root


def scan(root, ds, scenario="baseline"):
    return pl.read_parquet(str(root / f"layer2/5A/{ds}/seed=42/*/scenario_id={scenario}/*.parquet"))


def test_bundles_verify(tiny5a):
    assert len(verify_all(tiny5a)) == 6 + 3  # layer 1 + one 5A bundle per scenario


@pytest.mark.parametrize("scenario", ["baseline", "holiday_peak", "payday_stress"])
def test_utc_and_local_mass_agree_per_row(tiny5a, scenario):
    keys = ["merchant_id", "tzid", "channel_group"]
    u = scan(tiny5a, "merchant_zone_scenario_utc_5A", scenario).with_columns(
        pl.col("tzid").cast(pl.String), pl.col("channel_group").cast(pl.String)
    )
    lo = scan(tiny5a, "merchant_zone_scenario_local_5A", scenario).with_columns(
        pl.col("tzid").cast(pl.String), pl.col("channel_group").cast(pl.String)
    )
    j = (
        u.group_by(keys)
        .agg(pl.col("lambda_utc").sum())
        .join(lo.group_by(keys).agg(pl.col("lambda_local").sum()), on=keys)
    )
    rel = ((j["lambda_utc"] - j["lambda_local"]).abs() / j["lambda_utc"]).max()
    assert rel <= 1e-12
    assert u.height == j.height * 168 and u["bucket_index"].max() == 167


def test_eu_spring_forward_hour_has_zero_exposure(tiny5a):
    lo = scan(tiny5a, "merchant_zone_scenario_local_5A").with_columns(
        pl.col("tzid").cast(pl.String)
    )
    eu = lo.filter(
        pl.col("tzid").is_in(
            [
                "Europe/Berlin",
                "Europe/Paris",
                "Europe/Madrid",
                "Europe/Rome",
                "Europe/Amsterdam",
                "Europe/London",
                "Europe/Athens",
                "Europe/Warsaw",
                "Europe/Lisbon",
            ]
        )
    )
    assert eu.height > 0
    hole = eu.filter(pl.col("exposure_seconds") == 0)
    assert hole.height > 0 and (hole["lambda_local"] == 0).all()
    days = set(hole["local_bucket_start"].dt.date().to_list())
    assert days == {dt.date(2026, 3, 29)}
