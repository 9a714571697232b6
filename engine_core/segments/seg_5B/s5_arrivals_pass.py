"""5B.S5 arrival pass: one arrival part at a time, re-cut from S3 by the S4 part law
(``s4_arrivals.plan``) so the part's bucket rows zip exactly with its arrivals. One compiled
kernel covers T4/T5/T6/T15/T16 and the observed (tz, local hour) grid; civil time (T1/T2) is
recomputed from the tz cache, the replay rows (``domain_row mod 64 = 0``) are regenerated
with the production router (R2), and the S4 RNG trace the part should have logged is
derived (R1). A part yields an ``ArrivalPartial``; partials are folded left in part order
with ``merge``, which also checks that a merchant's ``arrival_seq`` continues across parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine_core.kernels.arrival_checks import arrival_part_nb
from engine_core.kernels.lookup import PairIndex
from engine_core.rng.sha256_nb import bucket_streams
from engine_core.segments.common import input_parts
from engine_core.segments.parts import read_part
from engine_core.segments.seg_5B import constants as K
from engine_core.segments.seg_5B.base import US
from engine_core.segments.seg_5B.s4_arrivals import PlannedPart
from engine_core.segments.seg_5B.s5_context import STATE, Context5

T4_NAMES = ("keys", "ts_in_bucket", "seq_contiguous", "order")  # arrival_part_nb's T4 slots


@dataclass
class ArrivalPartial:
    """Arrival-pass numbers of a run of consecutive parts (one part, or a fold of several).

    T4 messages carry (part, rank) so a seq message found at merge time sorts before that
    part's own messages, as in a serial scan. ``seq_head`` is the first part start not yet
    checked against the previous part's last (merchant, seq); ``seq_tail`` is that last."""

    tz_counts: np.ndarray  # int64 per tz
    obs_hours: np.ndarray  # int64 per (tz, local hour) of the layout
    site_cells: np.ndarray  # int64 per site cell (T15)
    edge_cells: np.ndarray  # int64 per edge cell (T15)
    parts: int = 0
    rows: int = 0
    t4: list = field(default_factory=list)  # (part, rank, message)
    t12: list = field(default_factory=list)
    t1: int = 0
    t2: int = 0
    virtual: int = 0
    t16: np.ndarray = field(default_factory=lambda: np.zeros(4))  # n, n_virtual, Σp, Σpq
    t5: list = field(default_factory=lambda: [0, 0, 0, True])  # phys, virt, mode bad; hash ok
    r2: list = field(default_factory=lambda: [0, 0, 0])  # rows, arrivals, column mismatches
    trace_s4: list = field(default_factory=list)
    seq_head: tuple | None = None  # (part, merchant, first seq)
    seq_tail: tuple | None = None  # (merchant, last seq)

    @classmethod
    def empty(cls, c: Context5, parts: int = 0) -> ArrivalPartial:
        """The fold's start (and an unmeasured part): zero sums, so merging it changes nothing."""
        z = np.zeros
        return cls(
            z(c.z, np.int64),
            z(c.z * c.L, np.int64),
            z(c.sites.height, np.int64),
            z(c.edges.height, np.int64),
            parts=parts,
        )

    def merge(self, other: ArrivalPartial) -> ArrivalPartial:
        """``self`` followed by ``other`` (the later parts)."""
        t4, head = self.t4 + other.t4, self.seq_head
        if other.seq_head is not None:
            if self.seq_tail is None:  # no arrivals before: the check waits for an earlier run
                head = other.seq_head
            else:
                t4 += _seq_check(other.seq_head, self.seq_tail)
        return ArrivalPartial(
            tz_counts=self.tz_counts + other.tz_counts,
            obs_hours=self.obs_hours + other.obs_hours,
            site_cells=self.site_cells + other.site_cells,
            edge_cells=self.edge_cells + other.edge_cells,
            parts=self.parts + other.parts,
            rows=self.rows + other.rows,
            t4=t4,
            t12=self.t12 + other.t12,
            t1=self.t1 + other.t1,
            t2=self.t2 + other.t2,
            virtual=self.virtual + other.virtual,
            t16=self.t16 + other.t16,
            t5=[self.t5[i] + other.t5[i] for i in range(3)] + [self.t5[3] and other.t5[3]],
            r2=[x + y for x, y in zip(self.r2, other.r2, strict=True)],
            trace_s4=self.trace_s4 + other.trace_s4,
            seq_head=head,
            seq_tail=other.seq_tail if other.seq_tail is not None else self.seq_tail,
        )

    def values(self, n_files: int) -> dict:
        """The ``Measures.values["arrivals"]`` mapping the checks read (a whole-pass fold)."""
        t4 = self.t4 + (_seq_check(self.seq_head, None) if self.seq_head else [])
        msgs = [m for _, _, m in sorted(t4, key=itemgetter(0, 1))]  # stable: part order kept
        if n_files != self.parts:
            msgs.append(f"{n_files} arrival part files, the S4 part law gives {self.parts}")
        return {
            "rows": self.rows,
            "t4": msgs,
            "t12": self.t12,
            "t1": self.t1,
            "t2": self.t2,
            "tz_counts": self.tz_counts,
            "virtual": self.virtual,
            "t16": self.t16,
            "t5": self.t5,
            "site_cells": self.site_cells,
            "edge_cells": self.edge_cells,
            "obs_hours": self.obs_hours,
            "r2": self.r2,
            "trace_s4": self.trace_s4,
            "parts": self.parts,
        }


def _seq_check(head: tuple, prev_end: tuple | None) -> list:
    """A merchant's seq continues across parts (independent of the planner)."""
    part, m0, s0 = head
    want = prev_end[1] + 1 if prev_end and prev_end[0] == m0 else 0
    return [(part, 0, f"part {part}: arrival_seq {s0} != {want} at start")] if s0 != want else []


class ArrivalWorker:
    """``worker(pp)`` measures planned arrival part ``pp``; safe to call from several threads."""

    def __init__(self, c: Context5):
        self.c = c
        self.files = input_parts(c.ctx, "arrival_events_5B", state=STATE)
        self.site_key = PairIndex(c.sites["merchant_id"].to_numpy(), c.sites["site_id"].to_numpy())
        self.edge_key = PairIndex(c.edges["merchant_id"].to_numpy(), c.edges["edge_id"].to_numpy())

    def __call__(self, pp: PlannedPart) -> ArrivalPartial:
        c, r, i = self.c, self.c.router, pp.index  # plan numbers parts 0, 1, … in yield order
        res = ArrivalPartial.empty(c, parts=1)
        if i >= len(self.files):
            res.t4.append((i, 1, f"arrival part {i} is missing"))
            return res
        t = read_part(self.files[i])
        n = t.num_rows
        cnt = pp.row_count.astype(np.int64)
        res.rows = n
        if n != int(cnt.sum()):
            res.t4.append((i, 1, f"part {i}: {n} rows != Σ count_n {int(cnt.sum())}"))
            return res
        virt = t.column("is_virtual").to_numpy(zero_copy_only=False)
        res.t12 = _nulls(t, virt, i)

        def codes_of(col):
            return t.column(col).combine_chunks().indices.to_numpy().astype(np.int64)

        mer = t.column("merchant_id").to_numpy()
        seq = t.column("arrival_seq").to_numpy()
        ts = t.column("ts_utc").cast(pa.int64()).to_numpy()
        tz_p = codes_of("tzid_primary")
        loc_p = t.column("ts_local_primary").cast(pa.int64()).to_numpy()
        # T4, T5 (+ T15 cells), T16, T6 counts, T3/T8 observed grid: one compiled pass
        t4 = np.zeros(4, np.int64)
        t5 = np.zeros(3, np.int64)
        t16 = np.zeros(4)
        sk, ek = self.site_key, self.edge_key
        arrival_part_nb(
            pp.row_dom, pp.row_bucket, cnt, pp.row_seq,
            r.keys.merchant, r.keys.tz.astype(np.int64), r.keys.ch.astype(np.int64),
            r.row_merchant, r.m_mode, r.m_p_virtual, r.m_settle_tz.astype(np.int64),
            mer, codes_of("tzid"), codes_of("channel_group"),
            t.column("bucket_index").to_numpy().astype(np.int64), seq, ts, virt,
            pc.fill_null(t.column("site_id"), 0).to_numpy(),  # nulls → 0, never float64
            pc.fill_null(t.column("edge_id"), 0).to_numpy(),
            tz_p, codes_of("tzid_operational"), codes_of("tzid_settlement"), loc_p,
            c.hz.start * US, c.hz.bucket * US, c.hour_base, c.L,
            sk.a, sk.b, sk.order, c.site_tz_w, c.site_tz_s, c.site_weight,
            ek.a, ek.b, ek.order, c.edge_tz,
            t4, t5, t16, res.tz_counts, res.obs_hours, res.site_cells, res.edge_cells,
        )  # fmt: skip
        res.t4 += [
            (i, 1, f"part {i}: {k} ({int(x)} arrivals)")
            for k, x in zip(T4_NAMES, t4, strict=True)
            if x
        ]
        if n:
            res.seq_head, res.seq_tail = (i, int(mer[0]), int(seq[0])), (int(mer[-1]), int(seq[-1]))
        rh = t.column("routing_universe_hash").combine_chunks()
        hash_ok = rh.dictionary.to_pylist()[:1] == [r.routing_hash] and not np.any(
            rh.indices.to_numpy()
        )
        res.t5 = [int(t5[0]), int(t5[1]), int(t5[2]), bool(hash_ok)]
        res.virtual = int(virt.sum())
        res.t16 = np.array((int(t16[0]), int(t16[1]), float(t16[2]), float(t16[3])))
        res.t1, res.t2 = _civil_errors(c, t, codes_of, ts, tz_p, loc_p)
        res.r2 = _replay(r, pp, t, cnt)
        res.trace_s4 = [_trace(r, pp, cnt)]
        return res


def _nulls(t: pa.Table, virt: np.ndarray, i: int) -> list[str]:
    """T12 nullness: site_id xor edge_id by is_virtual, and no other column has nulls."""
    out = []
    site_valid = t.column("site_id").is_valid().to_numpy(zero_copy_only=False)
    edge_valid = t.column("edge_id").is_valid().to_numpy(zero_copy_only=False)
    if not (np.array_equal(site_valid, ~virt) and np.array_equal(edge_valid, virt)):
        out.append(f"part {i}: site_id/edge_id nullness disagrees with is_virtual")
    for name in t.column_names:
        if name not in ("site_id", "edge_id") and t.column(name).null_count:
            out.append(f"part {i}: {name} has nulls")
    return out


def _civil_errors(c: Context5, t, codes_of, ts, tz_p, loc_p) -> tuple[int, int]:
    """T1/T2 civil time, recomputed with the cache's own vectorised searchsorted; a column
    equal to the primary one (same tzid, same wall clock) has the primary's error."""
    secs = np.floor_divide(ts, US)
    err_p = (loc_p - ts) - US * c.cache.offset_at(tz_p, secs).astype(np.int64)
    t1 = t2 = 0
    for x in ("primary", "operational", "settlement"):
        if x == "primary":
            err = err_p
        else:
            tzx = codes_of(f"tzid_{x}")
            loc = t.column(f"ts_local_{x}").cast(pa.int64()).to_numpy()
            err = err_p.copy()
            d = np.flatnonzero((tzx != tz_p) | (loc != loc_p))
            err[d] = (loc[d] - ts[d]) - US * c.cache.offset_at(tzx[d], secs[d]).astype(np.int64)
        t1 += int(np.count_nonzero(err))
        t2 += int(np.count_nonzero(np.abs(err) == 3600 * US))
    return t1, t2


def _replay(r, pp: PlannedPart, t: pa.Table, cnt: np.ndarray) -> list[int]:
    """R2 (S4): regenerate every arrival of rows with domain_row mod 64 = 0 and compare
    column by column; returns [rows, arrivals, mismatching columns]."""
    sel = np.flatnonzero(pp.row_dom % K.REPLAY_STRIDE == 0)
    if not sel.size:
        return [0, 0, 0]
    off = np.concatenate([[0], np.cumsum(cnt)[:-1]]).astype(np.int64)
    o, counts, _, _ = r.expand(
        pp.row_dom[sel], pp.row_bucket[sel], pp.row_count[sel], pp.row_seq[sel]
    )
    idx = _ranges(off[sel], cnt[sel])
    sub = t.take(pa.array(idx))
    regen = r.table(pp.row_dom[sel], pp.row_bucket[sel], counts, o)
    bad = sum(not sub.column(k).equals(regen.column(k)) for k in t.column_names)
    return [int(sel.size), int(idx.shape[0]), bad]


def _trace(r, pp: PlannedPart, cnt: np.ndarray) -> tuple:
    """R1 (S4): the trace row this part should have logged (streams, events, draws, blocks,
    first counter, last base counter plus its offset)."""
    h_rows = r.m_mode[r.row_merchant[pp.row_dom]] == 1
    if not cnt.size:
        return (pp.index, 0, 0, 0, 0, None, None)
    key, hi, lo = bucket_streams(
        r.ms, r.dom_bytes, r.dom_off, pp.row_dom[[0, -1]], pp.row_bucket[[0, -1]]
    )
    return (
        pp.index,
        int(cnt.size),
        int(cnt.sum()),
        int((2 * cnt + cnt * h_rows).sum()),
        int((cnt + cnt * h_rows).sum()),
        (int(key[0]), int(hi[0]), int(lo[0])),
        (int(key[1]), int(hi[1]), int(lo[1]), int(cnt[-1] * (2 if h_rows[-1] else 1) - 1)),
    )


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(s, s + n)`` for each (s, n), vectorised."""
    lengths = lengths.astype(np.int64)
    rep = np.repeat(np.arange(lengths.shape[0]), lengths)
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return (starts.astype(np.int64)[rep] + np.arange(int(lengths.sum())) - first[rep]).astype(
        np.int64
    )
