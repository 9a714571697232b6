"""5A building blocks: scenario manifest, holiday calendar, weekly shapes, profiles."""

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from engine_core.errors import EngineError
from engine_core.manifest import build_manifest
from engine_core.segments.seg_5A import s1_scenarios, s2_shapes, s3_profiles


@pytest.fixture(scope="module")
def tiny():
    return build_manifest("tiny")


def test_scenario_manifest(tiny):
    t = s1_scenarios.scenario_manifest(
        tiny.policies["scenarios_5A"], tiny.policies["horizon_world"]
    )
    assert t.column("scenario_id").to_pylist() == ["baseline", "holiday_peak", "payday_stress"]
    assert t.column("is_baseline").to_pylist() == [True, False, False]
    assert set(t.column("horizon_buckets").to_pylist()) == {168}  # tiny: 7 days
    assert t.column("horizon_start_utc")[0].as_py() == dt.datetime(2026, 3, 25, tzinfo=dt.UTC)
    bad = dict(
        tiny.policies["scenarios_5A"], horizon={"start_utc": "2026-03-30T00:00:00Z", "days": 7}
    )
    with pytest.raises(EngineError, match="HORIZON_OUTSIDE_WORLD"):
        s1_scenarios.scenario_manifest(bad, tiny.policies["horizon_world"])


def test_holiday_calendar_is_real():
    s = int(dt.datetime(2026, 3, 25, tzinfo=dt.UTC).timestamp())
    t, unsupported = s1_scenarios.holiday_calendar(
        ["DE", "GR", "US", "ZZ"], s, s + 7 * 86_400, "en_US"
    )
    rows = set(zip(t.column("country_iso").to_pylist(), t.column("date").to_pylist(), strict=True))
    assert ("GR", dt.date(2026, 3, 25)) in rows  # Greek Independence Day
    assert ("DE", dt.date(2026, 4, 3)) in rows  # Good Friday
    assert ("US", dt.date(2026, 7, 4)) in rows
    assert unsupported == ["ZZ"]
    keys = list(
        zip(
            t.column("country_iso").to_pylist(),
            t.column("date").to_pylist(),
            t.column("holiday_name").to_pylist(),
            strict=True,
        )
    )
    assert keys == sorted(keys)


def test_weekly_shapes_are_normalised_and_follow_conventions(tiny):
    pol = tiny.policies["shapes_5A"]
    t = s2_shapes.class_zone_shapes(pol, ["DE", "SA", "ES", "FR"])
    w = t.column("weight").to_numpy().reshape(-1, 168)
    assert np.allclose(w.sum(axis=1), 1.0, atol=1e-12, rtol=0) and (w >= 0).all()
    conv = s2_shapes.conventions(pol, ["DE", "SA", "ES", "FR"])

    def shape(cls, ch, k):
        return s2_shapes.weekly_shape(pol, cls, ch, conv[k])

    # CNP shapes have every slot positive; CP ones ≥ 35 open slots
    assert (shape("grocery_food", "card_not_present", "FR") > 0).all()
    assert (shape("health", "card_present", "FR") > 0).sum() >= 35
    # Sunday trading law: DE grocery CP Sunday carries 0.15× the French Sunday mass
    de, fr = (
        shape("grocery_food", "card_present", "DE"),
        shape("grocery_food", "card_present", "FR"),
    )
    assert de[144:168].sum() / de[120:144].sum() == pytest.approx(
        0.15 * fr[144:168].sum() / fr[120:144].sum(), rel=1e-12
    )
    # SA's weekend is Fri-Sat: health CP on Friday looks like a weekend day
    sa = shape("health", "card_present", "SA")
    assert sa[96:120].sum() < sa[72:96].sum()
    # ES is shifted one hour later than FR
    es, fr = (
        shape("restaurants", "card_not_present", "ES"),
        shape("restaurants", "card_not_present", "FR"),
    )
    assert np.argmax(es[:24]) == np.argmax(fr[:24]) + 1
    grid = s2_shapes.shape_grid()
    assert grid.num_rows == 168 and grid.column("dow_name")[0].as_py() == "MON"


def test_fixed_dictionary_is_stable():
    a = s3_profiles.fixed_dictionary(["b", "a"], ["c", "a", "b"])
    b = s3_profiles.fixed_dictionary(["a"], ["a", "b", "c"])
    assert a.dictionary.equals(b.dictionary) and a.indices.to_pylist() == [1, 0]
    with pytest.raises(EngineError):
        s3_profiles.fixed_dictionary(["z"], ["a"])
    assert a.type == pa.dictionary(pa.int32(), pa.string())


def test_profiles_follow_the_volume_law_on_the_tiny_world(tiny, tmp_path):
    import polars as pl

    from engine_core.context import RunContext
    from engine_core.contracts import load_dictionary
    from engine_core.runner import run_world
    from engine_core.segments.common import read_table

    run_world(profile="tiny", seed=42, data_root=tmp_path, until="3B")
    ctx = RunContext(data_root=tmp_path, dictionary=load_dictionary(), manifest=tiny, seed=42)
    za = read_table(ctx, "zone_alloc", state="t")
    df = s3_profiles.profiles(
        za,
        read_table(ctx, "merchant_universe", state="t"),
        read_table(ctx, "virtual_classification_3B", state="t"),
        tiny.policies["demand_5A"],
    )
    target = tiny.policies["demand_5A"]["volume"]["target_weekly_arrivals"]
    assert df.height == za.num_rows and df["domain_row"].to_list() == list(range(df.height))
    assert abs(df["weekly_volume"].sum() / target - 1) <= 1e-9
    assert (df["weekly_volume"] > 0).all()
    keys = df.select("merchant_id", "tzid", "channel_group")
    assert keys.equals(keys.sort(["merchant_id", "tzid", "channel_group"]))
    assert set(df["channel_group"].unique()) <= {"card_present", "card_not_present"}
    assert df.filter(pl.col("virtual_mode").is_null()).height == 0


def test_overlays_holidays_paydays_events_and_levels(tiny):
    import polars as pl

    from engine_core.segments.seg_5A import s4_overlays as s4

    d0 = s4.day_number(dt.date(2026, 3, 1))
    hol = pl.DataFrame(
        {
            "country_iso": ["GR", "US"],
            "date": [dt.date(2026, 3, 25), dt.date(2026, 12, 25)],
            "holiday_name": ["Independence Day", "Christmas Day"],
        }
    )
    cal = s4.Calendar(["GR", "US", "DE"], d0, 400, hol, {"GR": (5, 6), "US": (5, 6), "DE": (5, 6)})
    ov = tiny.policies["overlays_5A"]
    # paydays: DE last business day of March 2026 is Tue 31st; US semi-monthly 15th is a Sunday
    # → Fri 13th
    pay = s4.payday_delta(cal, ov["payday"])
    assert pay[2, s4.day_number(dt.date(2026, 3, 31)) - d0] == 0
    assert pay[1, s4.day_number(dt.date(2026, 3, 13)) - d0] == 0
    assert pay[1, s4.day_number(dt.date(2026, 3, 15)) - d0] == 2
    classes = sorted(ov["holiday_effects"])
    ev = s4.event_product(cal, ov["events"], classes)
    gr = classes.index("general_retail")
    bf = s4.day_number(dt.date(2026, 11, 27)) - d0  # Black Friday 2026
    # full strength in US and DE, half strength (partial_strength 0.5) in GR
    assert ev[1, gr, 1, bf] == pytest.approx(1.8) and ev[2, gr, 1, bf] == pytest.approx(1.8)
    assert ev[0, gr, 1, bf] == pytest.approx(1.4)
    # Christmas ramp only where Dec 25 is a holiday (US in this table)
    dec16 = s4.day_number(dt.date(2026, 12, 16)) - d0
    assert ev[1, gr, 1, dec16] == pytest.approx(1 + 0.5 * 6 / 13)
    assert ev[1, gr, 1, dec16 + 7] == pytest.approx(1.5) and ev[0, gr, 1, dec16] == 1.0
    profile = pl.DataFrame(
        {
            "merchant_id": [5, 5],
            "tzid": ["Europe/Athens", "Europe/Athens"],
            "channel_group": ["card_not_present", "card_present"],
            "legal_country_iso": ["GR", "GR"],
            "demand_class": ["grocery_food", "grocery_food"],
        }
    )
    base = next(
        s for s in tiny.policies["scenarios_5A"]["scenarios"] if s["scenario_id"] == "baseline"
    )
    day25 = s4.day_number(dt.date(2026, 3, 25))
    rows = s4.overlay_rows(profile, {"Europe/Athens": (day25 - 1, day25 + 1)}, cal, base, ov)
    cp = rows.filter(pl.col("channel_group") == "card_present")
    assert cp["holiday_factor"].to_list() == pytest.approx([1.30, 0.45, 1.05])
    assert cp["is_holiday"].to_list() == [False, True, False]
    assert cp["holiday_name"].to_list() == [None, "Independence Day", None]
    peak = next(
        s for s in tiny.policies["scenarios_5A"]["scenarios"] if s["scenario_id"] == "holiday_peak"
    )
    rows = s4.overlay_rows(profile, {"Europe/Athens": (day25, day25)}, cal, peak, ov)
    assert rows["holiday_factor"].to_list() == pytest.approx(
        [1 + 1.5 * (0.80 - 1), 1 + 1.5 * (0.45 - 1)]
    )
    assert rows["level_factor"].to_list() == pytest.approx([1.05 * 1.10, 1.05 * 1.00])


def test_s1_s2_tables_conform_to_their_contracts(tiny):
    from engine_core.contracts import load_dictionary
    from engine_core.io.parquet import conform

    d = load_dictionary()
    s, e, _ = s1_scenarios.horizon(tiny.policies["scenarios_5A"], tiny.policies["horizon_world"])
    cal, _ = s1_scenarios.holiday_calendar(["DE", "GR"], s, e, "en_US")
    tables = {
        "scenario_manifest_5A": s1_scenarios.scenario_manifest(
            tiny.policies["scenarios_5A"], tiny.policies["horizon_world"]
        ),
        "holiday_calendar_5A": cal,
        "shape_grid_definition_5A": s2_shapes.shape_grid(),
        "class_zone_shape_5A": s2_shapes.class_zone_shapes(tiny.policies["shapes_5A"], ["DE"]),
    }
    for ds, t in tables.items():
        out = conform(t, d.arrow_schema_of(ds), where=ds, state="5A.test")
        assert out.num_rows == t.num_rows
