"""6B.S2 outputs (layer3 §4.3): the in-state budget check 6B-I03 on the overlay, then
``s2_overlay_6B``, ``s2_campaigns_6B``, ``s2_campaign_targets_6B``, ``fraud_budget.json``
and the RNG ledger."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine_core.errors import EngineError
from engine_core.kernels.sorting import lex_order
from engine_core.segments.seg_6B import checks_s1 as C
from engine_core.segments.seg_6B import s2_plan as P
from engine_core.segments.seg_6B import txn as X
from engine_core.segments.seg_6B.s2_pools import TYPOLOGIES

STATE = "6B.S2"


def publish(io, ctx, env, rng, plan, settle, s, camps, overlay, n_rebound, shortfall, L, scored):
    fraud = overlay.column("is_fraud").to_numpy(zero_copy_only=False)
    n_f = int(fraud.sum())
    typ = overlay.column("fraud_typology").filter(pa.array(fraud)).cast(pa.string())
    counts = pc.value_counts(typ.combine_chunks()).to_pylist() if n_f else []
    realised = {t: 0 for t in TYPOLOGIES}
    realised.update({r["values"]: int(r["counts"]) for r in counts})
    absorber = env.pol["delta_absorber"]
    want = dict(plan.planned)
    want[absorber] += settle.fraud_rows - sum(plan.planned.values())
    if n_f != settle.fraud_rows or realised != want:
        raise EngineError(
            "CHECK_FAILED",
            STATE,
            f"6B-I03: fraud rows {n_f} vs F {settle.fraud_rows}; per typology {realised} vs {want}",
        )
    n_inj = int(
        (
            overlay.column("overlay_kind").cast(pa.string()).to_numpy(zero_copy_only=False)
            == "INJECT"
        ).sum()
    )
    if L + n_inj != settle.total_rows:
        raise EngineError(
            "CHECK_FAILED", STATE, f"6B-I03: L + I = {L + n_inj}, settled {settle.total_rows}"
        )
    io.write("s2_overlay_6B", [overlay])
    n_c = env.book.n_camps
    per = lambda m: np.bincount(s["camp"][m], minlength=n_c).astype(np.uint32)  # noqa: E731
    inj, conv = s["mode"] == P.INJECT, s["mode"] == P.CONVERT
    cid = env.campaign_id
    ids_or_null = lambda rows, ids: (np.where(rows >= 0, ids[np.maximum(rows, 0)], 0), rows < 0)  # noqa: E731
    w = env.sw.w
    cols = {
        "campaign_id": cid,
        "typology": (camps["typ"], TYPOLOGIES),
        "campaign_ordinal": camps["ordinal"].astype(np.uint32),
        "ring_id": ids_or_null(camps["ring"], env.sw.fraud.ring_id),
        "actor_party_id": ids_or_null(camps["actor_party"], w.parties.id),
        "actor_merchant_id": ids_or_null(camps["actor_merchant"], w.m_id),
        "compromise_site_id": ids_or_null(np.where(camps["typ"] == 2, camps["site"], -1), w.s_id),
        "parent_campaign_id": ids_or_null(camps["parent"], cid),
        "pattern": (np.maximum(camps["pattern"], 0), P.PATTERNS, camps["pattern"] < 0),
        "start_ts": pa.array(camps["start"].astype(np.int64), pa.timestamp("us", tz="UTC")),
        "end_ts": pa.array(camps["end"].astype(np.int64), pa.timestamp("us", tz="UTC")),
        "n_targets": camps["n_targets"].astype(np.uint32),
        "n_fraud": per(inj | conv),
        "n_injected": per(inj),
        "n_converted": per(conv),
        "n_rebound": n_rebound.astype(np.uint32),
    }
    schema = ctx.dictionary.arrow_schema_of("s2_campaigns_6B")
    ct = X.table(cols, schema).take(pa.array(np.argsort(cid, kind="stable")))
    io.write("s2_campaigns_6B", [ct])
    io.write("s2_campaign_targets_6B", [_targets(ctx, env, cid)])
    doc = {
        "L": L,
        "I": n_inj,
        "F": settle.fraud_rows,
        "rate": plan.rate,
        "f0": plan.f0,
        "delta": settle.delta,
        "planned": plan.planned,
        "realised": realised,
        "skipped": list(plan.skipped),
        "absorber": absorber,
        "absorber_conversions": settle.absorber_conversions,
        "injection_delta": settle.injection_delta,
        "settle_steps": settle.steps,
        "conversion_fallbacks": dict(zip(TYPOLOGIES, env.fallbacks, strict=True)),
        "pool_wraps": {t: int(env.pools[t].wraps) for t in TYPOLOGIES},
        "rebind_shortfall": shortfall,
        "campaigns": {t: int((camps["typ"] == i).sum()) for i, t in enumerate(TYPOLOGIES)},
    }
    io.write_json("s2_budget_6B", doc)
    C.i10_trace(
        rng.ledger,
        {
            "6B.S2.pool": 2 * sum(env.eligible_n.values()),
            "6B.S2.plan": 16 * n_c,
            "6B.S2.target": 4 * int(camps["n_targets"].sum()),
            "6B.S2.txn": 12 * env.book.slots_drawn,
            "6B.S2.pick": 2 * scored,
            "6B.S2.rebind": 2 * env.n_rebinds,
        },
        state=STATE,
    )
    io.publish_ledger(rng.ledger)
    table = "\n".join(
        ["| typology | planned | realised | campaigns |", "|---|---:|---:|---:|"]
        + [
            f"| {t} | {plan.planned[t]} | {realised[t]} | {doc['campaigns'][t]} |"
            for t in TYPOLOGIES
        ]
    )
    return io.result(
        rows=overlay.num_rows,
        metadata={
            "L": L,
            "I": n_inj,
            "F": settle.fraud_rows,
            "delta": settle.delta,
            "fraud_budget_md": table,
            "rebind_shortfall": shortfall,
        },
    )


def _targets(ctx, env, cid) -> pa.Table:
    t = env.book.targets
    camp = np.concatenate([x["camp"] for x in t])
    kind = np.concatenate([x["kind"] for x in t]).astype(str)
    tid = np.concatenate([x["id"] for x in t])
    role = np.concatenate([np.asarray(x["role"], object) for x in t]).astype(str)
    kinds = ["INSTRUMENT", "ACCOUNT", "PARTY", "MERCHANT", "SITE"]
    roles = ["VICTIM", "MULE_L1", "MULE_L2", "COLLECTOR", "COMPROMISE_POINT", "ACTOR"]
    k = np.array([kinds.index(x) for x in kind.tolist()]) if kind.size else np.zeros(0, int)
    r = np.array([roles.index(x) for x in role.tolist()]) if role.size else np.zeros(0, int)
    c_id = cid[camp]
    o = lex_order(c_id, k, tid)
    c_id, k, tid, r = c_id[o], k[o], tid[o], r[o]
    keep = np.concatenate(
        [[True], (c_id[1:] != c_id[:-1]) | (k[1:] != k[:-1]) | (tid[1:] != tid[:-1])]
    )
    return X.table(
        {
            "campaign_id": c_id[keep],
            "target_kind": (k[keep], kinds),
            "target_id": tid[keep],
            "target_role": (r[keep], roles),
        },
        ctx.dictionary.arrow_schema_of("s2_campaign_targets_6B"),
    )
