"""Shared mechanics of the 6A states: RNG families from ``rng_6A``, entity ids, regions,
columns from codes, the radix-bucket writer and the full-table integrity helpers."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine_core.errors import EngineError
from engine_core.identity import entity_ids, id_keys
from engine_core.kernels.alloc import round_half_even as round_half_even  # re-exported
from engine_core.kernels.lookup import find_sorted
from engine_core.kernels.sorting import lex_order
from engine_core.parallel import ordered_map
from engine_core.rng import units
from engine_core.rng.detmath import exp, log
from engine_core.segments.columns import Coded as Coded  # re-exported (6A modules use base.*)
from engine_core.segments.columns import coded as coded
from engine_core.segments.columns import codes_and_vocab as codes_and_vocab
from engine_core.segments.columns import codes_of as codes_of
from engine_core.segments.columns import dates as dates
from engine_core.segments.columns import nullable_u64 as nullable_u64
from engine_core.segments.columns import sorted_codes as sorted_codes
from engine_core.segments.seg_6A.families import FAMILIES

DOMAIN_SEP = "fw.l3.v1"
ROWS_PER_PART = 1_000_000
EPOCH = dt.date(1970, 1, 1)
PARTY_TYPES = ("RETAIL", "BUSINESS")  # canonical cell order (layer3 §3.0)


def ln1(sigma: float, z: np.ndarray) -> np.ndarray:
    """Mean-one lognormal factor exp(σz − σ²/2)."""
    return exp(sigma * np.asarray(z, np.float64) - 0.5 * sigma * sigma)


def power(x, a: float) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return np.where(x > 0, exp(a * log(np.where(x > 0, x, 1.0))), 0.0 if a > 0 else 1.0)


# --- RNG -----------------------------------------------------------------------------------
class StateRng(units.StateRng):
    """The 6A state's families (``FAMILIES``, checked against ``rng_6A`` by S0)."""

    def __init__(self, ctx, state: str):
        super().__init__(ctx, state, FAMILIES, DOMAIN_SEP)


# --- ids -----------------------------------------------------------------------------------
def mint(ctx, kind: str, first: int, n: int) -> np.ndarray:
    """``id(kind, first … first+n−1)`` (layer3 L3.2; 6A ids carry no scenario)."""
    return entity_ids(id_keys(ctx.mf, ctx.seed, kind), first, n)


# --- regions -------------------------------------------------------------------------------
def regions_of(countries_pol: dict, region_map_pol: dict, world: list[str], state: str):
    """``{country: region_id}`` through UN M49 sub-regions; REGION_UNMAPPED names the first
    world country without one."""
    by_code = {code: reg for reg, codes in region_map_pol["regions"].items() for code in codes}
    m49 = countries_pol["countries"]
    out = {}
    for c in world:
        reg = by_code.get(m49.get(c, ""))
        if reg is None:
            raise EngineError(
                "REGION_UNMAPPED",
                state,
                f"{c}: M49 sub-region {m49.get(c)!r} is in no region of "
                "policies/6A/region_map.yaml",
            )
        out[c] = reg
    return out


# --- columns -------------------------------------------------------------------------------
def day_number(d: dt.date) -> int:
    return (d - EPOCH).days


# --- writer order (L3.5): radix buckets by the top 8 bits of the sort id ---------------------
def write_sorted(
    io, dataset_id: str, table: pa.Table, key: np.ndarray, *, second=(), max_rows: int | None = None
):
    """Publish ``table`` sorted by ``key`` (then the ``second`` arrays) in 10^6-row parts.
    Rows go to 256 buckets by the top 8 bits of ``key``; above ``max_rows`` rows the buckets
    spill to the data root's temp directory as Arrow IPC. Buckets are disjoint and written in
    order, and parts are cut at fixed row counts, so bytes do not depend on spilling."""
    max_rows = max_rows or io.ctx.max_rows_in_memory
    key = np.asarray(key, np.uint64)
    seconds = [np.asarray(s) for s in second]
    bucket = (key >> np.uint64(56)).astype(np.uint8)
    order = np.argsort(bucket, kind="stable")  # uint8: a radix sort
    bounds = np.r_[0, np.cumsum(np.bincount(bucket, minlength=256))]
    staged = io.staged(dataset_id)
    full = [b for b in range(256) if bounds[b + 1] > bounds[b]]

    def sort_bucket(b):  # numpy sorts, the numba refinement and Arrow's take release the GIL
        idx = order[bounds[b] : bounds[b + 1]]
        return table.take(pa.array(idx[_bucket_order(key[idx], [s[idx] for s in seconds])]))

    def in_memory():
        yield from ordered_map(sort_bucket, full, io.ctx.workers)

    def spilled(tmp: Path):
        names = []
        for b in range(256):
            idx = order[bounds[b] : bounds[b + 1]]
            if idx.size:
                names.append(tmp / f"{b:03d}.arrow")
                _spill(names[-1], table.take(pa.array(idx)), [key[idx], *(s[idx] for s in seconds)])

        def load(p):
            t, keys = _unspill(p, len(seconds) + 1)
            return t.take(pa.array(_bucket_order(keys[0], keys[1:])))

        yield from ordered_map(load, names, io.ctx.workers)

    with tempfile.TemporaryDirectory(prefix=f"{dataset_id}.", dir=_tmp(io)) as tmp:
        chunks = in_memory() if table.num_rows <= max_rows else spilled(Path(tmp))
        n_parts = _write_parts(staged, rechunk(chunks), io.ctx.workers)
        if n_parts == 0:
            staged.write(0, table.slice(0, 0))
    return io.add(staged.publish(table.num_rows))


def _bucket_order(key: np.ndarray, seconds: list[np.ndarray]) -> np.ndarray:
    """Order of one bucket's rows by (key, *seconds): the bucket's keys share their top 8
    bits, so the low 56 pack with small secondary codes into one sort word."""
    low = key & np.uint64((1 << 56) - 1)
    if all(np.asarray(s).dtype.kind in "iub" for s in seconds):
        return lex_order(low, *seconds)
    return np.lexsort([*seconds[::-1], low])


def _write_parts(staged, parts, workers: int) -> int:
    """Encode the parts on ``workers`` threads (Arrow's parquet writer releases the GIL; each
    part is its own file, so bytes do not depend on the thread count) while the next parts
    are cut; at most ``workers`` parts wait, so memory stays bounded by the part size."""
    n = 0
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: deque = deque()
        for n, part in enumerate(parts, start=1):
            pending.append(pool.submit(staged.write, n - 1, part))
            while len(pending) > max(1, workers):
                pending.popleft().result()
        while pending:
            pending.popleft().result()
    return n


def rechunk(tables, rows: int = ROWS_PER_PART):
    """Re-cut a stream of tables into tables of exactly ``rows`` rows (the last shorter)."""
    pending: list[pa.Table] = []
    have = 0
    for t in tables:
        pending.append(t)
        have += t.num_rows
        while have >= rows:
            merged = pa.concat_tables(pending)
            yield merged.slice(0, rows).combine_chunks()
            rest = merged.slice(rows)
            pending, have = [rest], rest.num_rows
    if have:
        yield pa.concat_tables(pending).combine_chunks()


def _tmp(io) -> Path:
    p = Path(io.ctx.data_root) / ".tmp"
    p.mkdir(parents=True, exist_ok=True)
    return p


def _spill(path: Path, t: pa.Table, keys: list[np.ndarray]) -> None:
    extra = {f"__k{i}": pa.array(k) for i, k in enumerate(keys)}
    for name, arr in extra.items():
        t = t.append_column(name, arr)
    with pa.OSFile(str(path), "wb") as f, pa.ipc.new_file(f, t.schema) as w:
        w.write_table(t)


def _unspill(path: Path, nkeys: int):
    with pa.memory_map(str(path)) as f:
        t = pa.ipc.open_file(f).read_all()
    keys = [t.column(f"__k{i}").to_numpy() for i in range(nkeys)]
    return t.drop_columns([f"__k{i}" for i in range(nkeys)]), keys


# --- integrity helpers (6A-I01, I02) -------------------------------------------------------
def check_ids(state: str, dataset_id: str, ids: np.ndarray) -> None:
    """6A-I01 over every row: non-zero and unique."""
    if ids.size and (ids == 0).any():
        raise EngineError("INTEGRITY_CHECK_FAILED", state, f"6A-I01 {dataset_id}: id 0")
    if ids.size < 2 or (ids[1:] > ids[:-1]).all():  # published PKs: strictly increasing
        return
    s = np.sort(ids)  # every row
    if s.size > 1 and (s[1:] == s[:-1]).any():
        dup = int(s[1:][s[1:] == s[:-1]][0])
        raise EngineError("INTEGRITY_CHECK_FAILED", state, f"6A-I01 {dataset_id}: id {dup} twice")


def strictly_sorted(cols: list[np.ndarray]) -> bool:
    """Rows strictly increasing in (cols[0], cols[1], …): sorted and no duplicate row."""
    n = cols[0].size if cols else 0
    gt, eq = np.zeros(max(n - 1, 0), bool), np.ones(max(n - 1, 0), bool)
    for c in cols:
        a, b = c[:-1], c[1:]
        gt |= eq & (b > a)
        eq &= b == a
    return bool(gt.all())


def distinct(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort-based: numpy's hash ``unique`` is ~10× slower on u64)."""
    s = np.sort(x)
    return s[np.r_[True, s[1:] != s[:-1]]] if s.size else s


def check_fk(state: str, what: str, child: np.ndarray, parent_sorted: np.ndarray) -> None:
    """6A-I02: every child key is a parent key (every row, looked up in the sorted parent
    keys: a bucketed search per row is cheaper than sorting 10^7 children first)."""
    c = np.asarray(child, np.uint64)
    pos = find_sorted(parent_sorted, c)
    ok = (pos < parent_sorted.size) & (parent_sorted[np.minimum(pos, parent_sorted.size - 1)] == c)
    if not ok.all():
        raise EngineError(
            "INTEGRITY_CHECK_FAILED",
            state,
            f"6A-I02 {what}: {int((~ok).sum())} orphan rows, e.g. {int(c[~ok][0])}",
        )


def in_set(col, values) -> np.ndarray:
    """``np.isin(col, values)`` for an Arrow string column, decided once per dictionary
    entry when the column is dictionary-encoded (no string per row); null is never in."""
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    vs = pa.array(list(values), pa.string())
    out = []
    for ch in chunks:
        if pa.types.is_dictionary(ch.type):
            hit = pc.is_in(ch.dictionary.cast(pa.string()), value_set=vs).to_numpy(
                zero_copy_only=False
            )
            idx = ch.indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
            m = hit[idx] if hit.size else np.zeros(idx.size, bool)
            out.append(m & ch.is_valid().to_numpy(zero_copy_only=False))
        else:
            m = pc.is_in(ch.cast(pa.string()), value_set=vs)
            out.append(pc.fill_null(m, False).to_numpy(zero_copy_only=False))
    return np.concatenate(out) if out else np.zeros(0, bool)


# --- canonical party cells --------------------------------------------------------------
def load_parties(io, columns=()):
    cols = ["party_id", "party_type", "segment_id", "country_iso", "region_id", *columns]
    return io.read_table("s1_party_base_6A", cols)


class Cells:
    """Parties grouped into canonical (country, party type, segment) cells, each cell in
    party_id order: ``order`` maps cell-major position → table row."""

    def __init__(self, parties: pa.Table, segments: list[str], countries=None):
        present = pc.unique(parties.column("country_iso").cast(pa.string())).to_pylist()
        self.countries = sorted(set(present) | set(countries or ()))
        self.segments = segments
        self.country = codes_of(parties.column("country_iso"), self.countries)
        self.ptype = codes_of(parties.column("party_type"), list(PARTY_TYPES))
        self.seg = codes_of(parties.column("segment_id"), segments)
        self.pid = parties.column("party_id").to_numpy()
        cell = (self.country * 2 + self.ptype) * len(segments) + self.seg
        self.order = np.lexsort((self.pid, cell))  # (country, type, segment), then party_id
        key = cell[self.order]
        self.keys, start, self.n = np.unique(key, return_index=True, return_counts=True)
        self.start = start
        reg = parties.column("region_id").combine_chunks()
        codes = reg.indices.to_numpy() if pa.types.is_dictionary(reg.type) else None
        vocab = np.array(reg.dictionary.to_pylist() if codes is not None else [], object)
        self.region = vocab[codes[self.order[start]]] if key.size else np.array([], object)

    def cell(self, k):
        """(country, party type, segment, region) of cell k and its rows."""
        key = int(self.keys[k])
        c, rest = divmod(key, 2 * len(self.segments))
        t, s = divmod(rest, len(self.segments))
        rows = self.order[self.start[k] : self.start[k] + self.n[k]]
        return self.countries[c], PARTY_TYPES[t], self.segments[s], str(self.region[k]), rows


def md_table(table: pa.Table, columns: list[str], digits: int = 3) -> str:
    """A small summary table as markdown (Dagster materialisation metadata)."""
    cols = [table.column(c).to_pylist() for c in columns]

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.{digits}g}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in zip(*cols, strict=True)]
    return "\n".join(lines)


def count(expect: dict, family_id: str, events: int, draws: int) -> None:
    """Accumulate a family's expected trace totals (6A-I07 compares them with the ledger)."""
    e = expect.setdefault(family_id, [0, 0])
    e[0] += int(events)
    e[1] += int(draws)


def rank_within(keys: np.ndarray) -> np.ndarray:
    """Position of each row inside its run of equal consecutive ``keys`` (rows grouped)."""
    n = keys.size
    if n == 0:
        return np.zeros(0, np.int64)
    start = np.r_[True, keys[1:] != keys[:-1]]
    idx = np.arange(n)
    return idx - np.maximum.accumulate(np.where(start, idx, 0))
