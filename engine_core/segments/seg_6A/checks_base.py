"""Shared readers of the 6A asset checks: published tables (every row), the integrity
adapters (a raising in-state check → an Outcome) and the JSON summaries."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from engine_core.checks import Outcome, from_raising
from engine_core.errors import EngineError
from engine_core.segments.common import read_table
from engine_core.segments.seg_6A import base
from engine_core.segments.seg_6A.checks_integrity import i01_ids, i02_fk

V = "6A.S5"  # the state whose bundle reports these checks


def _t(ctx, ds, cols=None):
    return read_table(ctx, ds, cols, state=V)


_ok = from_raising  # the engine-wide adapter, under the name the 6A checks use


def _ids(ds, col):
    def fn(ctx):
        ids = _t(ctx, ds, [col]).column(0).to_numpy()
        i01_ids(V, ds, ids, sorted_=True)
        return {"rows": int(ids.size)}

    return _ok(fn)


def _pairs_sorted(ds, cols):
    def fn(ctx):
        t = _t(ctx, ds, cols)
        # string columns compare by their sorted codes (code order = string order)
        keys = [
            base.sorted_codes(t.column(c).cast(pa.string()))[1]
            if pa.types.is_string(t.column(c).type) or pa.types.is_dictionary(t.column(c).type)
            else t.column(c).to_numpy()
            for c in cols
        ]
        if not base.strictly_sorted(keys):
            raise EngineError(
                "INTEGRITY_CHECK_FAILED", V, f"6A-I01 {ds}: not sorted/unique by {cols}"
            )
        return {"rows": t.num_rows}

    return _ok(fn)


def _fk(child_ds, child_col, parent_ds, parent_col):
    def fn(ctx):
        child = _t(ctx, child_ds, [child_col]).column(0).to_numpy()
        parent = _t(ctx, parent_ds, [parent_col]).column(0).to_numpy()
        i02_fk(V, f"{child_ds}.{child_col} → {parent_ds}", child, parent)
        return {"rows": int(child.size)}

    return _ok(fn)


def _json(ctx, ds):
    from engine_core.segments.common import read_json

    return read_json(ctx, ds, state=V)


def per_entity_gate(per, plan: float, at: int, share_band, mean_tol: float, p99_max: float):
    """R03 / R06 shape: entities per retail party — mean within ``mean_tol`` of the plan,
    the share of parties with exactly ``at`` inside ``share_band``, p99 at most ``p99_max``."""
    mean, share, p99 = float(per.mean()), float((per == at).mean()), float(np.quantile(per, 0.99))
    ok = abs(mean / plan - 1) <= mean_tol and share_band[0] <= share <= share_band[1]
    return Outcome(
        ok and p99 <= p99_max,
        {"mean": mean, "plan": plan, f"share_{at}": share, "p99": p99},
        {"mean_rel": mean_tol, f"share_{at}": list(share_band), "p99_max": p99_max},
    )
