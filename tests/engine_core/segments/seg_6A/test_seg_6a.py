"""6A on the tiny world: in-state integrity, asset checks, byte identity across workers,
spilling and scenario triggers, and a negative test per failure code built so far."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from engine_core.context import RunContext
from engine_core.contracts import load_dictionary
from engine_core.errors import EngineError
from engine_core.manifest import build_manifest
from engine_core.runner import run_world
from engine_core.segments.seg_6A import base, s0_gate
from engine_core.segments.seg_6A.checks import CHECKS
from engine_core.segments.seg_6A.families import FAMILIES, registry_mismatch
from engine_core.tools import data_files

ROOT = Path(__file__).resolve().parents[4]
STATES_6A = ("6A.S0", "6A.S1", "6A.S2", "6A.S3", "6A.S4", "6A.S5")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny6a")
    run_world(profile="tiny", seed=42, data_root=root, until="6A", scenario="baseline", workers=1)
    return root


def _layer3(root: Path) -> dict[str, str]:
    return {p: s for p, s in data_files(root) if p.startswith("layer3/6A/")}


def _fresh_copy(root: Path, dst: Path) -> Path:
    """The upstream world without any 6A output (a clean slate for a rerun)."""
    shutil.copytree(root, dst, ignore=shutil.ignore_patterns("6A"))
    return dst


def _ctx(root):
    d = load_dictionary()
    return RunContext(data_root=root, dictionary=d, manifest=build_manifest("tiny", d), seed=42)


def test_every_6a_check_passes_on_tiny(world):
    ctx = _ctx(world)
    rows = [c.evaluate(ctx) for c in CHECKS]
    assert [r["check_id"] for r in rows if r["status"] not in ("PASS", "SKIPPED")] == []
    assert {r["check_id"] for r in rows if r["kind"] == "integrity"} >= {
        "6A.S1.I01_party_ids",
        "6A.S2.I02_holder_party",
    }


def test_party_plan_is_exact(world):
    plan = yaml.safe_load(
        (next((world / "layer3/6A/s1_world_plan_6A").rglob("world_plan.json"))).read_text()
    )
    assert sum(c["N_c"] for c in plan["countries"].values()) == plan["N"] == 20_000  # clamped


@pytest.mark.parametrize(("workers", "max_rows"), [(2, 10**4), (1, 10**6)])
def test_bytes_do_not_depend_on_workers_or_spilling(world, tmp_path, workers, max_rows):
    other = _fresh_copy(world, tmp_path / "w")
    for st in STATES_6A:
        run_world(
            profile="tiny",
            seed=42,
            data_root=other,
            until=st,
            only=True,
            workers=workers,
            max_rows_in_memory=max_rows,
        )
    got = _layer3(other)
    assert got and got == _layer3(world)


def test_a_second_scenario_reuses_the_same_6a_bytes(world, tmp_path):
    other = tmp_path / "s"
    shutil.copytree(world, other)
    before = _layer3(other)
    rows = run_world(profile="tiny", seed=42, data_root=other, until="6A", scenario="holiday_peak")
    six_a = [r for r in rows if r["state"].startswith("6A.")]
    assert [r["state"] for r in six_a] == list(STATES_6A)
    assert {r["status"] for r in six_a} == {"reused"}
    assert _layer3(other) == before


def test_rng_trace_is_one_event_per_cell(world):
    import polars as pl

    t = pl.read_parquet(next((world / "layer3/6A/rng_trace_log_6A_S1").rglob("*.parquet")))
    d = dict(zip(t["family_id"], zip(t["events"], t["draws"], strict=True), strict=True))
    assert d["6A.S1.world_scale"] == (1, 2)
    assert d["6A.S1.party_attr"][1] == 6 * 20_000


# --- failure codes ------------------------------------------------------------------------------
def _policy(name):
    return yaml.safe_load((ROOT / "policies/6A" / name).read_text())


def test_refdata_incomplete_names_the_missing_country_and_currency():
    countries, cur = _policy("refdata/countries.yaml"), _policy("refdata/currencies.yaml")
    fx = _policy("refdata/fx_static.yaml")
    s0_gate.check_refdata([("DE", "EUR")], countries, cur, fx)
    del countries["countries"]["DE"]
    with pytest.raises(EngineError, match=r"REFDATA_INCOMPLETE.*country DE"):
        s0_gate.check_refdata([("DE", "EUR")], countries, cur, fx)
    countries = _policy("refdata/countries.yaml")
    del fx["usd_per_unit"]["EUR"]
    with pytest.raises(EngineError, match=r"REFDATA_INCOMPLETE.*currency EUR"):
        s0_gate.check_refdata([("DE", "EUR")], countries, cur, fx)


def test_region_map_invalid_on_unknown_or_repeated_code():
    countries, rmap = _policy("refdata/countries.yaml"), _policy("region_map.yaml")
    s0_gate.check_region_map(countries, rmap)
    bad = {"regions": {**rmap["regions"], "NAM": ["021", "999"]}}
    with pytest.raises(EngineError, match=r"REGION_MAP_INVALID.*/regions/NAM/1"):
        s0_gate.check_region_map(countries, bad)
    twice = {"regions": {**rmap["regions"], "LATAM": ["419", "021"]}}
    with pytest.raises(EngineError, match=r"REGION_MAP_INVALID.*also listed under"):
        s0_gate.check_region_map(countries, twice)


def test_region_unmapped_names_the_country():
    countries, rmap = _policy("refdata/countries.yaml"), _policy("region_map.yaml")
    assert base.regions_of(countries, rmap, ["DE", "US"], "6A.S1") == {"DE": "EUR_W", "US": "NAM"}
    rmap["regions"]["EUR_W"] = ["154", "039"]  # Western Europe (155) dropped
    with pytest.raises(EngineError, match=r"6A.S1.REGION_UNMAPPED: DE"):
        base.regions_of(countries, rmap, ["DE"], "6A.S1")


def test_rng_registry_mismatch_is_detected():
    doc = _policy("rng.yaml")
    assert registry_mismatch(doc) is None
    assert len(FAMILIES) == len(doc["families"])
    doc["families"][2]["stride"] = 2
    assert "6A.S1.party_attr" in registry_mismatch(doc)


def test_s0_gate_refuses_a_missing_baseline_5a_bundle(world, tmp_path):
    other = _fresh_copy(world, tmp_path / "g")
    flag = next((other / "layer2/5A/validation").rglob("scenario_id=baseline/_passed.flag"))
    flag.unlink()
    with pytest.raises(EngineError, match=r"6A.S0.UPSTREAM_HASHGATE_MISSING.*baseline"):
        run_world(profile="tiny", seed=42, data_root=other, until="6A.S0", only=True)
    assert not (other / "layer3/6A").exists()  # a failed gate publishes nothing


def test_home_cells_pick_the_modal_tzid_smallest_on_ties():
    from engine_core.segments.seg_6A.s1_parties import home_cells

    lat = np.array([10.2, 10.7, 10.5, 20.1])
    lon = np.array([5.1, 5.9, 5.5, 5.0])
    cells, counts, modal = home_cells(lat, lon, np.array([3, 1, 1, 2]), 1.0)
    assert counts.tolist() == [3, 1] and modal.tolist() == [1, 2]


def test_bin_probing_is_unique_and_exhaustion_is_typed():
    from engine_core.segments.seg_6A.s3_attributes import probe_bins_nb

    used = np.zeros(1_000_000, np.bool_)
    lo, hi = np.full(3, 10), np.full(3, 12)
    assert probe_bins_nb(np.array([12, 12, 12]), lo, hi, used).tolist() == [12, 10, 11]
    assert probe_bins_nb(np.array([11]), lo[:1], hi[:1], used).tolist() == [-1]  # range full


def test_scheme_mix_must_sum_to_one():
    from engine_core.segments.seg_6A.s3_instruments import _check_scheme_mix

    pol = _policy("instruments.yaml")
    _check_scheme_mix(pol)
    pol["scheme_mix"]["NAM"]["CREDIT_CARD"]["VISA"] = 0.6
    with pytest.raises(EngineError, match=r"SCHEME_MIX_INVALID.*/scheme_mix/NAM/CREDIT_CARD"):
        _check_scheme_mix(pol)


def test_every_card_has_a_unique_bin_of_its_scheme_range(world):
    import polars as pl

    inst = pl.read_parquet(list((world / "layer3/6A/s3_instrument_base_6A").rglob("*.parquet")))
    bins = pl.read_parquet(list((world / "layer3/6A/s3_bin_catalogue_6A").rglob("*.parquet")))
    assert bins["bin6"].n_unique() == bins.height
    ranges = _policy("instruments.yaml")["bin_ranges"]
    for scheme, (lo, hi) in ranges.items():
        b = bins.filter(pl.col("scheme") == scheme)["bin6"]
        assert b.is_empty() or (b.min() >= lo and b.max() <= hi)
    cards = inst.filter(pl.col("bin6").is_not_null())
    joined = cards.join(bins.select("bin6", pl.col("scheme").alias("bin_scheme")), on="bin6")
    assert joined.height == cards.height
    assert (joined["scheme"].cast(pl.String) == joined["bin_scheme"].cast(pl.String)).all()


def test_a_token_whose_holder_has_no_smartphone_is_unbindable():
    from types import SimpleNamespace

    from engine_core.segments.seg_6A import s4_devices as D

    cells = SimpleNamespace(country=np.array([0, 0]), countries=["DE"])
    dev = {
        "type": np.array([D.SMARTPHONE, D.TABLET]),
        "kind": np.array([0, 0]),
        "owner": np.array([0, 1]),
    }
    tokens = (np.array([1]), np.array([False]), np.array([77], np.uint64))
    with pytest.raises(EngineError, match=r"6A.S4.TOKEN_UNBINDABLE: token 77"):
        D.token_binding(None, cells, dev, tokens, {})


def test_link_graph_has_every_role_and_heavy_tailed_pools(world):
    import polars as pl

    links = pl.read_parquet(list((world / "layer3/6A/s4_device_links_6A").rglob("*.parquet")))
    assert set(links["link_role"].cast(pl.String).unique()) == {
        "PRIMARY_OWNER",
        "SHARED_USER",
        "ACCOUNT_ACCESS",
        "CARD_ON_FILE",
        "TOKEN_BINDING",
        "MERCHANT_TERMINAL",
    }
    ips = pl.read_parquet(list((world / "layer3/6A/s4_ip_links_6A").rglob("*.parquet")))
    assert set(ips["link_role"].cast(pl.String).unique()) == {
        "TYPICAL_DEVICE_IP",
        "SECONDARY_DEVICE_IP",
        "PROXY_EXIT",
        "MERCHANT_NETWORK",
    }
    assert ips.select("device_id", "ip_id").is_unique().all()


def test_the_bundle_verifies_and_carries_every_check(world):
    import json

    from engine_core.gates import verify_bundle

    bundle = next((world / "layer3/6A/validation").glob("seed=42/*"))
    assert (bundle / "_passed.flag").is_file()
    verify_bundle(bundle, world)
    report = json.loads((bundle / "validation_report_6A.json").read_text())
    assert report["status"] == "PASS"
    assert {c["check_id"] for c in report["checks"]} == {c.check_id for c in CHECKS}
    assert (bundle / "metrics_6A.parquet").is_file()


def test_a_failing_enforced_gate_withholds_the_flag(world, tmp_path, monkeypatch):
    import engine_core.checks as checks_mod
    from engine_core.segments.seg_6A import constants as K

    other = tmp_path / "f"
    shutil.copytree(
        world,
        other,
        ignore=shutil.ignore_patterns("validation_bundle_6A", "validation", "s5_*", "rng_*_6A_S5"),
    )
    shutil.copytree(world / "layer1", other / "layer1", dirs_exist_ok=True)
    shutil.copytree(world / "layer2", other / "layer2", dirs_exist_ok=True)
    monkeypatch.setattr(checks_mod, "ADVISORY_PROFILES", frozenset())  # enforce as in small
    monkeypatch.setattr(K, "R13_RING_P50", (1000, 2000))  # rings can never be that large
    with pytest.raises(EngineError, match="VALIDATION_FAILED"):
        run_world(profile="tiny", seed=42, data_root=other, until="6A.S5", only=True)
    bundle = next((other / "layer3/6A/validation").glob("seed=42/*"))
    assert not (bundle / "_passed.flag").exists()
