"""6A.S0 — gate and sealed inputs (layer3 §3.1, RNG-free).

HashGates 1A–3B and the **baseline** scenario's 5A bundle (6A reads only scenario-free 5A
data, so its receipt is the same whichever scenario triggers it), checks ``rng_6A`` against
the engine's family register, the region map against the UN M49 sub-regions of refdata
``countries``, and refdata coverage of the 1A universe; then seals the declared inputs."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from engine_core.errors import EngineError
from engine_core.segments.sealing import hashgate_layer3, run_gate, seal_segment, upstream_of
from engine_core.segments.seg_6A.families import registry_mismatch
from engine_core.segments.state_io import open_state

STATE = "6A.S0"


def _gate(ctx, segs, scenario=None) -> dict[str, str]:
    return hashgate_layer3(ctx, "6A", segs, scenario)


def check_region_map(countries: dict, region_map: dict) -> None:
    subregions = set(countries["subregions"])
    seen: dict[str, str] = {}
    for reg, codes in region_map["regions"].items():
        for i, code in enumerate(codes):
            if code not in subregions:
                raise EngineError(
                    "REGION_MAP_INVALID",
                    STATE,
                    f"policies/6A/region_map.yaml: /regions/{reg}/{i}: {code!r} is "
                    "not a UN M49 sub-region code of refdata countries",
                )
            if code in seen:
                raise EngineError(
                    "REGION_MAP_INVALID",
                    STATE,
                    f"policies/6A/region_map.yaml: /regions/{reg}/{i}: {code} is "
                    f"also listed under {seen[code]}",
                )
            seen[code] = reg


def check_refdata(universe, countries: dict, currencies: dict, fx: dict) -> None:
    for c, cur in universe:
        if c not in countries["countries"]:
            raise EngineError(
                "REFDATA_INCOMPLETE",
                STATE,
                f"policies/6A/refdata/countries.yaml: country {c} of "
                "s1_country_reference is missing",
            )
        if cur not in currencies["minor_units"]:
            raise EngineError(
                "REFDATA_INCOMPLETE",
                STATE,
                f"policies/6A/refdata/currencies.yaml: currency {cur} ({c}) is missing",
            )
        if cur not in fx["usd_per_unit"]:
            raise EngineError(
                "REFDATA_INCOMPLETE",
                STATE,
                f"policies/6A/refdata/fx_static.yaml: currency {cur} ({c}) is missing",
            )


def run(ctx):
    io = open_state(ctx, STATE)
    up = _gate(ctx, [s for s in upstream_of(ctx) if s != "5A"])
    scen = io.read_table(
        "scenario_manifest_5A", ["scenario_id", "is_baseline", "horizon_start_utc"]
    )
    base = [
        s for s, b in zip(scen.column(0).to_pylist(), scen.column(1).to_pylist(), strict=True) if b
    ]
    if len(base) != 1:
        raise EngineError(
            "UPSTREAM_HASHGATE_SCHEMA_INVALID",
            STATE,
            f"scenario_manifest_5A: {len(base)} baseline rows (want exactly 1)",
        )
    up.update(_gate(ctx, ["5A"], base[0]))
    msg = registry_mismatch(io.policy("rng_6A"))
    if msg:
        raise EngineError("RNG_REGISTRY_MISMATCH", STATE, f"policies/6A/rng.yaml: {msg}")
    countries = io.policy("countries_6A")
    check_region_map(countries, io.policy("region_map_6A"))
    ref = io.read_table("s1_country_reference", ["country_iso", "currency"])
    universe = list(zip(ref.column(0).to_pylist(), ref.column(1).to_pylist(), strict=True))
    check_refdata(universe, countries, io.policy("currencies_6A"), io.policy("fx_static_6A"))
    starts = scen.column("horizon_start_utc").to_pylist()
    reference_date = min(s.astimezone(dt.UTC).date() for s in starts)
    gates = [
        {
            "segment": s,
            "bundle_digest_sha256": d,
            "status": "PASS",
            **({"scenario_id": base[0]} if s == "5A" else {}),
        }
        for s, d in sorted(up.items())
    ]
    sealed = seal_segment(replace(ctx, scenario_id=base[0]), up)  # the baseline 5A bundle
    res = run_gate(
        ctx,
        "6A",
        up,
        sealed,
        extra={"reference_date": reference_date.isoformat(), "upstream_gates": gates},
    )
    res.metadata.update({"reference_date": reference_date.isoformat(), "baseline": base[0]})
    return res
