"""Dense part files shared by layer-2 segments (layer2 §1.3): part counts, the published parts
of a dataset, fixed-dictionary codes, and the dense domain × bucket key grid with its
positional verification. Segment laws (part sizes, channel dictionaries) are arguments."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from engine_core.context import RunContext
from engine_core.errors import EngineError
from engine_core.kernels.dense import dense_keys_ok
from engine_core.segments.common import dataset_path, input_parts
from engine_core.segments.tz import load_cache


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


def n_parts(d: int, part_rows: int) -> int:
    """Parts of a dense dataset over ``d`` domain rows, ``part_rows`` rows per part."""
    return max(1, -(-d // part_rows))


def part_files(ctx: RunContext, dataset_id: str, state: str, expect: int | None = None) -> list:
    parts = input_parts(ctx, dataset_id, state=state)
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
    ch_vocab: tuple[str, ...]  # the channel_group fixed dictionary

    def slice(self, lo: int, hi: int) -> DenseKeys:
        return replace(self, merchant=self.merchant[lo:hi], tz=self.tz[lo:hi], ch=self.ch[lo:hi])

    def columns(self) -> dict[str, pa.Array]:
        """The four key columns of the part (dictionary codes repeated, never re-resolved)."""
        h = self.h
        return {
            "merchant_id": pa.array(np.repeat(self.merchant, h), pa.uint64()),
            "tzid": dict_array(np.repeat(self.tz, h), self.tz_vocab),
            "channel_group": dict_array(np.repeat(self.ch, h), self.ch_vocab),
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
                and ch.dictionary.to_pylist() == list(self.ch_vocab)
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


def dense_keys(
    ctx: RunContext, dom: pl.DataFrame, h: int, state: str, *, channels: tuple[str, ...]
) -> DenseKeys:
    """The dense key grid of the domain ``dom`` (merchant_id, tzid, channel_group in domain
    order) × ``h`` buckets; tzids coded in the sealed tz cache's vocabulary."""
    vocab = load_cache(ctx).tzids
    return DenseKeys(
        dom["merchant_id"].to_numpy().astype(np.uint64),
        codes(dom["tzid"].to_numpy(), vocab, state=state, what="domain tzid"),
        codes(dom["channel_group"].to_numpy(), list(channels), state=state, what="channel_group"),
        h,
        vocab,
        tuple(channels),
    )
