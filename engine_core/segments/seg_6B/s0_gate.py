"""6B.S0 — gate (layer3 §4.1, RNG-free): HashGate 1A–3B, this scenario's 5A and 5B bundles
and the 6A bundle; require that this scenario's 5A bundle carries the same
``merchant_zone_profile_5A`` bytes as the baseline bundle 6A sealed (6A is scenario-free,
so every scenario's transactions must come from the entity world built on that profile);
resolve the scenario's horizon and fraud rate, check the weekly profile and the RNG
registry, and seal every input the 6B states declare."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

from engine_core.errors import EngineError
from engine_core.segments.common import dataset_path
from engine_core.segments.sealing import hashgate_layer3, run_gate, seal_segment, upstream_of
from engine_core.segments.seg_6B.families import registry_mismatch
from engine_core.segments.state_io import open_state
from engine_core.timeutil import utc_str

STATE = "6B.S0"
SCENARIO_SEGMENTS = ("5A", "5B")  # HashGated for this scenario only
WEEK_HOURS = 168


def _gate(ctx, segs, scenario: str | None = None) -> dict[str, str]:
    return hashgate_layer3(ctx, "6B", segs, scenario)


def resolve_fraud_rate(pol: dict, scenario_id: str) -> float:
    """``fraud_rate[scenario_id]``, else ``fraud_rate.default`` (layer3 §4.3)."""
    rates = pol["fraud_rate"]
    return float(rates.get(scenario_id, rates["default"]))


def check_weekly_profile(legit: dict, profile: dict) -> list[float]:
    """The 168 hourly weights ``legit_flows.weekly_profile`` names, all > 0 (§4.2 step 4:
    a zero hour would hold fraud transfers only), Monday 00h local first."""
    ref = legit["weekly_profile"]
    want = ref.split(":", 1)[1] if ref.startswith("builtin:") else ref
    if want != profile["profile_id"]:
        raise EngineError(
            "POLICY_INVALID",
            STATE,
            f"policies/6B/legit_flows.yaml: /weekly_profile: {ref!r} names no shipped profile "
            f"(policies/6B/weekly_profile.yaml ships {profile['profile_id']!r})",
        )
    w = profile["weights"]
    if len(w) != WEEK_HOURS:
        raise EngineError(
            "POLICY_INVALID",
            STATE,
            f"policies/6B/weekly_profile.yaml: /weights: {len(w)} weights, want {WEEK_HOURS}",
        )
    for i, x in enumerate(w):
        if not x > 0:
            raise EngineError(
                "POLICY_INVALID",
                STATE,
                f"policies/6B/weekly_profile.yaml: /weights/{i}: {x!r} is not > 0 "
                f"(day {i // 24}, hour {i % 24})",
            )
    return [float(x) for x in w]


def _index_files(bundle, prefix: str) -> list[tuple[str, str]]:
    doc = json.loads((bundle / "index.json").read_bytes())
    return sorted((f["path"], f["sha256"]) for f in doc["files"] if f["path"].startswith(prefix))


def same_profile_files(here, there, path: str, where: str) -> None:
    """Both bundle indexes list the same files (path and sha256) under ``path``."""
    prefix = path.rstrip("/") + "/"
    a, b = _index_files(here, prefix), _index_files(there, prefix)
    if not a or a != b:
        first = next((x for x, y in zip(a, b, strict=False) if x != y), None)
        raise EngineError(
            "UPSTREAM_HASHGATE_DIGEST_MISMATCH",
            STATE,
            f"{where}: merchant_zone_profile_5A differs ({len(a)} vs {len(b)} files; "
            f"first difference {first[0] if first else 'in the file count'})",
        )


def check_profile_digest(ctx, io, up: dict[str, str]) -> str:
    """This scenario's 5A bundle lists the same ``merchant_zone_profile_5A`` files as the
    baseline 5A bundle that 6A sealed (layer3 §3.1 step 1); returns the baseline id."""
    receipt = io.read_json("s0_gate_receipt_6A")
    sealed6a = io.read_json("sealed_inputs_6A")
    gate5a = next(g for g in receipt["upstream_gates"] if g["segment"] == "5A")
    baseline = gate5a["scenario_id"]
    base_digest = up["5A"] if baseline == ctx.scenario_id else _gate(ctx, ["5A"], baseline)["5A"]
    if base_digest != gate5a["bundle_digest_sha256"]:
        raise EngineError(
            "UPSTREAM_HASHGATE_DIGEST_MISMATCH",
            STATE,
            f"5A (scenario {baseline}): bundle digest {base_digest[:16]}… differs from the "
            f"{gate5a['bundle_digest_sha256'][:16]}… that 6A sealed (s0_gate_receipt_6A)",
        )
    row = next(r for r in sealed6a["inputs"] if r["name"] == "merchant_zone_profile_5A")
    same_profile_files(
        dataset_path(ctx, "validation_bundle_5A"),
        dataset_path(replace(ctx, scenario_id=baseline), "validation_bundle_5A"),
        row["path"],
        f"validation_bundle_5A (scenario {ctx.scenario_id}) vs the baseline {baseline} 6A sealed",
    )
    return baseline


def _iso(t: dt.datetime) -> str:
    """A receipt (JSON) field, in the contract's ``utc_iso`` form."""
    return utc_str(int(t.timestamp()))


def run(ctx):
    io = open_state(ctx, STATE)
    segs = upstream_of(ctx)
    up = _gate(ctx, [s for s in segs if s not in SCENARIO_SEGMENTS])
    scen = io.read_table(
        "scenario_manifest_5A", ["scenario_id", "horizon_start_utc", "horizon_end_utc"]
    ).to_pylist()
    row = next((r for r in scen if r["scenario_id"] == ctx.scenario_id), None)
    if row is None:
        raise EngineError(
            "SCENARIO_UNKNOWN",
            STATE,
            f"scenario_manifest_5A: no scenario {ctx.scenario_id!r} "
            f"(known: {', '.join(r['scenario_id'] for r in scen)})",
        )
    up.update(_gate(ctx, [s for s in segs if s in SCENARIO_SEGMENTS], ctx.scenario_id))
    baseline = check_profile_digest(ctx, io, up)
    msg = registry_mismatch(io.policy("rng_6B"))
    if msg:
        raise EngineError("RNG_REGISTRY_MISMATCH", STATE, f"policies/6B/rng.yaml: {msg}")
    check_weekly_profile(io.policy("legit_flows_6B"), io.policy("weekly_profile_6B"))
    rate = resolve_fraud_rate(io.policy("fraud_campaigns_6B"), ctx.scenario_id)
    gates = [
        {
            "segment": s,
            "bundle_digest_sha256": d,
            "status": "PASS",
            **({"scenario_id": ctx.scenario_id} if s in SCENARIO_SEGMENTS else {}),
        }
        for s, d in sorted(up.items())
    ]
    extra = {
        "scenario_id": ctx.scenario_id,
        "horizon_start_utc": _iso(row["horizon_start_utc"]),
        "horizon_end_utc": _iso(row["horizon_end_utc"]),
        "fraud_rate": rate,
        "upstream_gates": gates,
    }
    res = run_gate(ctx, "6B", up, seal_segment(ctx, up), extra=extra)
    res.metadata.update(
        {
            "scenario_id": ctx.scenario_id,
            "fraud_rate": rate,
            "horizon": f"{extra['horizon_start_utc']} → {extra['horizon_end_utc']}",
            "entity_world_baseline": baseline,
        }
    )
    return res
