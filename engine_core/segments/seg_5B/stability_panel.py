"""5B stability panel (layer2 §5.2 T10, §6.3): over the panel seeds {42, 7, 101} of one world,
the spread of total arrivals and of the T6/T7 shares, read from each seed's verified 5B
bundle (HashGate first: a seed whose bundle does not verify cannot enter the panel)."""

from __future__ import annotations

import json
from dataclasses import replace

from engine_core.checks import REALISM, Check, Outcome
from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.gates import verify_bundle
from engine_core.io.datasets import write_json_dataset
from engine_core.segments.common import dataset_path, keys_for
from engine_core.segments.seg_5B import constants as K

STATE = "5B.panel"


def panel_rows(ctx: RunContext) -> list[dict]:
    rows = []
    for seed in K.T10_SEEDS:
        c = replace(ctx, seed=seed)
        bundle = dataset_path(c, "validation_bundle_5B")
        if not bundle.exists():
            raise EngineError(
                "INPUT_MISSING",
                STATE,
                f"seed {seed}: no 5B bundle at {bundle} (run the seed first)",
            )
        digest = verify_bundle(bundle, ctx.data_root, state=STATE, code="UPSTREAM_GATE_FAILED")
        report = json.loads((bundle / "validation_report_5B.json").read_bytes())
        by = {r["check_id"].rsplit(".", 1)[1]: r for r in report["checks"]}
        rows.append(
            {
                "seed": seed,
                "arrivals": int(by["T4"]["measured"]["arrivals"]),
                "t6_top10_share": float(by["T6"]["measured"]),
                "t7_virtual_share": float(by["T7"]["measured"]),
                "bundle_digest": digest,
            }
        )
    return rows


def run(ctx: RunContext) -> StateResult:
    rows = panel_rows(ctx)
    doc = {
        "version": 1,
        "world": f"{ctx.mf[:16]}.{ctx.scenario_id}",
        "scenario_id": ctx.scenario_id,
        "seeds": list(K.T10_SEEDS),
        "rows": rows,
    }
    res = write_json_dataset(
        ctx.dictionary,
        "stability_panel_5B",
        ctx.data_root,
        keys_for(ctx, "stability_panel_5B"),
        doc,
        state=STATE,
    )
    return StateResult(STATE, [res], rows=len(rows), metadata={"panel": rows})


def t10(ctx: RunContext) -> Outcome:
    path = dataset_path(ctx, "stability_panel_5B")
    if not path.is_file():
        raise EngineError("INPUT_MISSING", STATE, f"stability panel not published at {path}")
    rows = json.loads(path.read_bytes())["rows"]
    a = [r["arrivals"] for r in rows]
    spread = (max(a) - min(a)) / (sum(a) / len(a)) if sum(a) else 0.0
    r6 = 100 * (max(r["t6_top10_share"] for r in rows) - min(r["t6_top10_share"] for r in rows))
    r7 = 100 * (max(r["t7_virtual_share"] for r in rows) - min(r["t7_virtual_share"] for r in rows))
    lim, pp = K.T10[ctx.manifest.profile_id]
    return Outcome(
        spread <= lim and r6 <= pp and r7 <= pp,
        {
            "arrivals_spread": spread,
            "t6_range_pp": r6,
            "t7_range_pp": r7,
            "seeds": list(K.T10_SEEDS),
        },
        {"arrivals_spread_max": lim, "range_max_pp": pp},
    )


T10_CHECK = Check(
    "5B.panel.T10", REALISM, "stability_panel_5B", t10, "seed stability over 42, 7, 101"
)
