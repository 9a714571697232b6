"""Shared mechanics of the 6B.S5 realism gates (layer3 §4.6–§4.7): streamed, column-pruned
reads of the published tables (one record batch of ≤ 2^20 rows at a time, so a reference
partition of 1.4×10^8 rows never sits in memory), row-aligned pairs of tables, memoised
scans shared by the gates of one validation run, entity lookups and small result helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine_core.checks import Outcome
from engine_core.errors import EngineError
from engine_core.kernels.lookup import SortedIndex
from engine_core.segments.columns import codes_of
from engine_core.segments.common import dataset_path, input_parts, read_json, read_table
from engine_core.timeutil import parse_utc

V = "6B.S5"
DAY_US = 86_400_000_000
BATCH = 1 << 20


def fail(check: str, msg: str):
    raise EngineError("CHECK_FAILED", V, f"6B-{check}: {msg}")


def policy(ctx, name: str) -> dict:
    return ctx.manifest.policies[name]


def horizon_us(ctx) -> tuple[int, int]:
    r = read_json(ctx, "s0_gate_receipt_6B", state=V)
    return tuple(parse_utc(r[k]) * 1_000_000 for k in ("horizon_start_utc", "horizon_end_utc"))


def table(ctx, ds: str, columns=None) -> pa.Table:
    return read_table(ctx, ds, columns, state=V)


def batches(ctx, ds: str, columns) -> Iterator[pa.RecordBatch]:
    for path in input_parts(ctx, ds, state=V):
        yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH, columns=columns)


def aligned(ctx, a: tuple[str, list], b: tuple[str, list]) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Equal-length slices of two row-aligned datasets (``(dataset, columns)`` each), in row
    order; a length mismatch is a failed check (the tables are not row-aligned)."""
    ga, gb = batches(ctx, *a), batches(ctx, *b)
    ra = rb = None
    while True:
        while ra is None or ra.num_rows == 0:
            ra = next(ga, False)
            if ra is False:
                break
        while rb is None or rb.num_rows == 0:
            rb = next(gb, False)
            if rb is False:
                break
        if ra is False or rb is False:
            if ra is not rb:
                fail("I09", f"{a[0]} and {b[0]} have different row counts")
            return
        n = min(ra.num_rows, rb.num_rows)
        yield pa.Table.from_batches([ra.slice(0, n)]), pa.Table.from_batches([rb.slice(0, n)])
        ra, rb = ra.slice(n), rb.slice(n)


# --- memo: one scan per dataset feeds every gate of a validation run ------------------------
_MEMO: dict[str, tuple[tuple, object]] = {}


def memo(ctx, name: str, datasets: tuple[str, ...], build: Callable[[], object]):
    """``build()`` once per (partition, published files): the key holds each part's size and
    mtime, so a re-published dataset is re-scanned and nothing leaks across worlds."""
    stamp = []
    for ds in datasets:
        path = dataset_path(ctx, ds)
        files = sorted(path.glob("*")) if path.is_dir() else [path]
        stamp += [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file()]
    key = (str(ctx.data_root), ctx.mf, ctx.seed, ctx.scenario_id, tuple(stamp))
    hit = _MEMO.get(name)
    if hit is not None and hit[0] == key:
        return hit[1]
    value = build()
    _MEMO[name] = (key, value)
    return value


# --- columns --------------------------------------------------------------------------------
def u64(col) -> np.ndarray:
    """An id column as uint64, 0 for null (ids are 1..2^64−1)."""
    return pc.fill_null(col, 0).to_numpy().astype(np.uint64, copy=False)


def ts_us(col) -> np.ndarray:
    """A timestamp column as int64 µs, −1 for null."""
    return pc.fill_null(pc.cast(col, pa.int64()), -1).to_numpy()


def flag(col) -> np.ndarray:
    return pc.fill_null(col, False).to_numpy(zero_copy_only=False).astype(bool)


def code(col, vocab) -> np.ndarray:
    """Codes in ``vocab`` (−1: null or outside it)."""
    return codes_of(col, list(vocab), missing=-1)


class Ids:
    """Row lookup of an id column (any order): ``rows(q)`` is each query's row or −1."""

    def __init__(self, ids):
        ids = np.asarray(ids, np.uint64)
        self.order = np.argsort(ids, kind="stable")
        self.sorted = ids[self.order]
        self.index = SortedIndex(self.sorted)
        self.n = ids.size

    def rows(self, q) -> np.ndarray:
        q = np.asarray(q, np.uint64)
        if self.n == 0:
            return np.full(q.size, -1, np.int64)
        pos = np.minimum(self.index.positions(q), self.n - 1)
        return np.where(self.sorted[pos] == q, self.order[pos], -1)


# --- results --------------------------------------------------------------------------------
def share(num, den) -> float | None:
    return float(num) / float(den) if den else None


def inside(value, band) -> bool:
    return value is not None and band[0] <= value <= band[1]


def combine(parts: dict, threshold: dict, extra: dict | None = None) -> Outcome:
    """One outcome from sub-results ``{name: (value or None when unpowered, passed)}``: it
    passes when every powered part passes and is SKIPPED when none is powered."""
    powered = {k: v for k, v in parts.items() if v[0] is not None}
    measured = {k: v[0] if v[0] is not None else "SKIPPED" for k, v in parts.items()}
    measured.update(extra or {})
    ok = all(v[1] for v in powered.values())
    return Outcome(ok, measured, threshold, skipped=not powered)
