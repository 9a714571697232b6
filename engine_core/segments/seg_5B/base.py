"""What every 5B state shares: the scenario horizon, the merchant domain in domain order,
5B's part law and channel dictionary bound to the shared dense-part toolkit
(``engine_core.segments.parts``, layer2 §1.3), the RNG prefix of a family, and trace
publication (data first, trace second, §3.0)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from engine_core.context import RunContext
from engine_core.errors import EngineError
from engine_core.identity import le64, uer
from engine_core.rng.ledger import RngLedger
from engine_core.segments import parts
from engine_core.segments.common import (
    input_parts,
    locate,
    read_table,
)
from engine_core.segments.seg_5B.constants import CHANNELS, PART_ROWS

SEGMENT = "5B"
DOMAIN_SEP = "fw.l2.v1"
US = 1_000_000
STR_COLS = ("tzid", "channel_group", "demand_class", "virtual_mode", "size_class")
LAWS = {
    "5B.S2.latent_normal.v1": "box_muller_cos_v1",
    "5B.S3.bucket_count.v1": "poisson_inversion_v1|nb2_wh_poisson_v1",
    "5B.S4.arrival.v1": "uniform_scale53_v1+alias_pick_v1",
}


@dataclass(frozen=True)
class Horizon:
    start: int  # S, UTC seconds
    end: int  # E
    bucket: int  # seconds
    h: int  # buckets

    @property
    def days(self) -> int:
        return (self.end - self.start) // 86_400


def pl_table(t: pa.Table) -> pl.DataFrame:
    df = pl.from_arrow(t)
    return df.with_columns(pl.col(c).cast(pl.String) for c in STR_COLS if c in df.columns)


def scenario_row(ctx: RunContext, state: str) -> dict:
    man = pl_table(read_table(ctx, "scenario_manifest_5A", state=state))
    row = man.filter(pl.col("scenario_id") == ctx.scenario_id)
    if row.height != 1:
        raise EngineError(
            "SCENARIO_NOT_IN_MANIFEST",
            state,
            f"scenario {ctx.scenario_id!r} not in scenario_manifest_5A "
            f"({', '.join(man['scenario_id'].to_list())})",
        )
    return row.row(0, named=True)


def horizon(ctx: RunContext, state: str) -> Horizon:
    r = scenario_row(ctx, state)
    s = int(r["horizon_start_utc"].timestamp())
    e = int(r["horizon_end_utc"].timestamp())
    b = int(r["bucket_seconds"])
    return Horizon(s, e, b, int(r["horizon_buckets"]))


def domain(ctx: RunContext, state: str) -> pl.DataFrame:
    """The D domain rows in domain order (merchant_id, tzid bytes, channel_group)."""
    return pl_table(read_table(ctx, "merchant_zone_profile_5A", state=state))


def n_parts(d: int) -> int:
    """Dense parts over ``d`` domain rows under 5B's part law (``PART_ROWS`` per part)."""
    return parts.n_parts(d, PART_ROWS)


def dense_keys(ctx: RunContext, dom: pl.DataFrame, h: int, state: str) -> parts.DenseKeys:
    """The dense key grid of 5B's domain × ``h`` buckets (5B's channel dictionary)."""
    return parts.dense_keys(ctx, dom, h, state, channels=CHANNELS)


def family_prefix(ctx: RunContext, family_id: str) -> bytes:
    """The constant message prefix of a layer-2 family (A§4): every row's stream is
    SHA256(prefix ‖ UER(domain_key))."""
    return (
        uer(DOMAIN_SEP)
        + uer(family_id)
        + uer(ctx.mf)
        + uer(ctx.ph)
        + le64(int(ctx.seed))
        + uer(ctx.scenario_id or "")
    )


def hash_prefix(ctx: RunContext, tag: str) -> bytes:
    """Prefix of the layer-2 hash-uniform H64₂(tag, f1…fk) (layer2 §1.7)."""
    return uer("fw.l2.hash") + uer(tag) + uer(ctx.mf) + le64(int(ctx.seed))


def ledger(ctx: RunContext, state: str, family: str) -> RngLedger:
    """The state's RNG ledger, after checking that ``rng_5B`` declares exactly the law this
    code implements: generator, domain separator and the family for this state (A§4: a law
    change needs a new family id, so a policy naming another one is refused, not ignored)."""
    pol = ctx.manifest.policies["rng_5B"]
    where = "policies/5B/rng.yaml"
    if pol["generator"] != "philox2x64-10" or pol["domain_sep"] != DOMAIN_SEP:
        raise EngineError(
            "RNG_POLICY_MISMATCH",
            state,
            f"{where} /generator, /domain_sep: {pol['generator']}, {pol['domain_sep']} "
            f"(this engine implements philox2x64-10, {DOMAIN_SEP})",
        )
    st = state.split(".")[1]
    if not any(f["family_id"] == family and f["state"] == st for f in pol["families"]):
        raise EngineError(
            "RNG_POLICY_MISMATCH", state, f"{where} /families: no {family} for state {st}"
        )
    return RngLedger(state, DOMAIN_SEP, (family,), law_versions={family: LAWS[family]})


def require_trace(ctx: RunContext, upstream_state: str, state: str) -> None:
    """The upstream trace is the commit marker of its data (layer2 §3.0)."""
    ds = f"rng_trace_log_5B_{upstream_state}"
    path = locate(ctx, ds)
    if not any(path.glob("part-*.parquet")):
        raise EngineError("UPSTREAM_TRACE_MISSING", state, f"{ds} is not published")
    input_parts(ctx, ds, state=state)  # and verified against its published digests
