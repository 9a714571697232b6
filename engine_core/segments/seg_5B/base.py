"""What every 5B state shares: the scenario horizon, the merchant domain in domain order,
fixed dictionaries, dense-part iteration with positional key verification (layer2 §1.3),
the RNG prefix of a family, and trace publication (data first, trace second, §3.0)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from engine_core.context import RunContext
from engine_core.errors import EngineError
from engine_core.identity import le64, uer
from engine_core.kernels import tzcache
from engine_core.kernels.dense import dense_keys_ok
from engine_core.rng.ledger import RngLedger, publish_ledger
from engine_core.segments.common import dataset_path, read_table
from engine_core.segments.seg_5B.constants import CHANNELS, PART_ROWS

SEGMENT = "5B"
# the 3B datasets 5B routes with (layer2 §1.6): sealed by S0, read by S1, S4, S5
VIRTUAL_INPUTS = (
    "virtual_classification_3B",
    "virtual_settlement_3B",
    "edge_catalogue_3B",
    "edge_alias_index_3B",
    "edge_alias_blob_3B",
    "virtual_routing_policy_3B",
)
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


def load_cache(ctx: RunContext) -> tzcache.TzCache:
    return tzcache.decode((dataset_path(ctx, "tz_timetable_cache") / "tz_cache.bin").read_bytes())


def codes(values, vocab: list[str], *, state: str, what: str) -> np.ndarray:
    """int32 positions of ``values`` in the sorted ``vocab`` (a fixed dictionary)."""
    v = np.asarray(vocab, dtype=object)
    x = np.asarray(values, dtype=object)
    idx = np.minimum(np.searchsorted(v, x), max(len(v) - 1, 0))
    if x.size and not np.all(v[idx] == x):
        raise EngineError("TZ_NOT_IN_CACHE", state, f"{what}: {x[v[idx] != x][0]!r} not in cache")
    return idx.astype(np.int32)


def dict_array(idx: np.ndarray, vocab) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(idx, dtype=np.int32), pa.int32()), pa.array(list(vocab), pa.string())
    )


def channel_codes(values) -> np.ndarray:
    return codes(values, list(CHANNELS), state="5B", what="channel_group")


def n_parts(d: int) -> int:
    return max(1, -(-d // PART_ROWS))


def part_files(ctx: RunContext, dataset_id: str, state: str, expect: int | None = None) -> list:
    parts = sorted(dataset_path(ctx, dataset_id).glob("part-*.parquet"))
    if not parts or (expect is not None and len(parts) != expect):
        raise EngineError(
            "INPUT_MISALIGNED",
            state,
            f"{dataset_id}: {len(parts)} parts at {dataset_path(ctx, dataset_id)}, "
            f"expected {expect}",
        )
    return parts


def read_part(path: Path, columns=None) -> pa.Table:
    return pq.read_table(path, columns=columns).replace_schema_metadata(None)


@dataclass(frozen=True)
class DenseKeys:
    """Expected key columns of a dense part: domain rows [lo, hi) × H buckets."""

    merchant: np.ndarray  # uint64 per domain row
    tz: np.ndarray  # int32 code per domain row
    ch: np.ndarray  # int32 code per domain row
    h: int
    tz_vocab: list[str]

    def slice(self, lo: int, hi: int) -> DenseKeys:
        return replace(self, merchant=self.merchant[lo:hi], tz=self.tz[lo:hi], ch=self.ch[lo:hi])

    def columns(self) -> dict[str, pa.Array]:
        """The four key columns of the part (dictionary codes repeated, never re-resolved)."""
        h = self.h
        return {
            "merchant_id": pa.array(np.repeat(self.merchant, h), pa.uint64()),
            "tzid": dict_array(np.repeat(self.tz, h), self.tz_vocab),
            "channel_group": dict_array(np.repeat(self.ch, h), CHANNELS),
            "bucket_index": pa.array(np.tile(np.arange(h, dtype=np.int32), len(self.merchant))),
        }

    def verify(self, t: pa.Table, *, where: str, code: str, state: str) -> None:
        """Vectorised positional key comparison of a dense part (layer2 §1.3)."""
        n = len(self.merchant) * self.h
        ok = t.num_rows == n
        if ok:
            tz = t.column("tzid").combine_chunks()
            ch = t.column("channel_group").combine_chunks()
            ok = (
                tz.dictionary.to_pylist() == list(self.tz_vocab)
                and ch.dictionary.to_pylist() == list(CHANNELS)
                and dense_keys_ok(
                    t.column("merchant_id").to_numpy(),
                    tz.indices.to_numpy(),
                    ch.indices.to_numpy(),
                    t.column("bucket_index").to_numpy(),
                    self.merchant,
                    self.tz,
                    self.ch,
                    self.h,
                )
            )
        if not ok:
            raise EngineError(code, state, f"{where}: keys are not the dense domain × bucket grid")


def dense_keys(ctx: RunContext, dom: pl.DataFrame, h: int, state: str) -> DenseKeys:
    vocab = load_cache(ctx).tzids
    return DenseKeys(
        dom["merchant_id"].to_numpy().astype(np.uint64),
        codes(dom["tzid"].to_numpy(), vocab, state=state, what="domain tzid"),
        channel_codes(dom["channel_group"].to_numpy()),
        h,
        vocab,
    )


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


def ledger(state: str, family: str) -> RngLedger:
    return RngLedger(state, DOMAIN_SEP, (family,), law_versions={family: LAWS[family]})


def publish_trace(ctx: RunContext, state_id: str, led: RngLedger) -> list:
    st = state_id.split(".")[1]
    return publish_ledger(
        ctx, led, trace_dataset=f"rng_trace_log_5B_{st}", audit_dataset=f"rng_audit_log_5B_{st}"
    )


def open_sealed(ctx: RunContext, state: str, names) -> None:
    """Re-verify 5B.S0's sealed set against its receipt and require every input this state
    reads, within scope (``READ_SCOPE_VIOLATION`` otherwise, layer2 §3.1)."""
    from engine_core.segments.common import load_sealed

    sealed = load_sealed(ctx, SEGMENT, state=state)
    for name in names:
        sealed.require(name, state=state)


def require_trace(ctx: RunContext, upstream_state: str, state: str) -> None:
    """The upstream trace is the commit marker of its data (layer2 §3.0)."""
    ds = f"rng_trace_log_5B_{upstream_state}"
    if not any(dataset_path(ctx, ds).glob("part-*.parquet")):
        raise EngineError("UPSTREAM_TRACE_MISSING", state, f"{ds} is not published")
