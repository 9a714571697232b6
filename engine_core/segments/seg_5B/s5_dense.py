"""5B.S5 dense pass: one S2/S3 part (with its 5A λ part) at a time, read in full. Each part
replays λ_realised and the counts with the production kernels (R2), sums the T9a/T9b/T14
moments, bins the expected physical mass per (tz, UTC bucket) for T3/T8 and records the S3
RNG trace it should have logged (R1). A part yields a ``DensePartial``; partials are folded
left in part order with ``merge``, so every float sum is taken in the same order whatever
the thread count."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from engine_core.segments.parts import part_files, read_part
from engine_core.segments.seg_5B import constants as K
from engine_core.segments.seg_5B.base import n_parts
from engine_core.segments.seg_5B.s5_context import DENSE, STATE, Context5


@dataclass
class DensePartial:
    """Dense-pass numbers of a run of consecutive parts (one part, or a fold of several)."""

    exp_tb: np.ndarray  # expected physical mass per (tz, UTC bucket), tz-major
    replay_lambda: bool = True
    replay_counts: bool = True
    t9a: np.ndarray = field(default_factory=lambda: np.zeros(3))  # n, Σz, Σz²
    t9b: np.ndarray = field(default_factory=lambda: np.zeros(2))  # Σ((n−λ)²−λ), Σλ²
    mass: np.ndarray = field(default_factory=lambda: np.zeros(2))  # Σλ_target, Σλ_realised
    arrivals: int = 0
    trace_s3: list = field(default_factory=list)  # (part, streams, first, last) per part

    @classmethod
    def empty(cls, c: Context5) -> DensePartial:
        """The fold's start: zero sums (adding to +0.0 keeps each part's value exactly)."""
        return cls(exp_tb=np.zeros(c.z * c.hz.h))

    def merge(self, other: DensePartial) -> DensePartial:
        """``self`` followed by ``other`` (the later parts)."""
        return DensePartial(
            exp_tb=self.exp_tb + other.exp_tb,
            replay_lambda=self.replay_lambda & other.replay_lambda,
            replay_counts=self.replay_counts & other.replay_counts,
            t9a=self.t9a + other.t9a,
            t9b=self.t9b + other.t9b,
            mass=self.mass + other.mass,
            arrivals=self.arrivals + other.arrivals,
            trace_s3=self.trace_s3 + other.trace_s3,
        )

    def values(self) -> dict:
        """The ``Measures.values["dense"]`` mapping the checks read."""
        return {
            "replay_lambda": self.replay_lambda,
            "replay_counts": self.replay_counts,
            "t9a": self.t9a,
            "t9b": self.t9b,
            "mass": self.mass,
            "arrivals": self.arrivals,
            "exp_tb": self.exp_tb,
            "trace_s3": self.trace_s3,
        }


class DenseWorker:
    """``worker(p)`` measures dense part ``p``; safe to call from several threads at once."""

    def __init__(self, c: Context5, xi: np.ndarray):
        self.c, self.xi = c, xi
        d = c.dom.height
        self.parts: Sequence[int] = range(n_parts(d)) if d else []
        self.s5a = part_files(c.ctx, "merchant_zone_scenario_utc_5A", STATE, n_parts(d))
        self.s2 = part_files(c.ctx, DENSE[0], STATE, n_parts(d))
        self.s3 = part_files(c.ctx, DENSE[1], STATE, n_parts(d))

    def __call__(self, p: int) -> DensePartial:
        c, h = self.c, self.c.hz.h
        a, b = p * K.PART_ROWS, min(c.dom.height, (p + 1) * K.PART_ROWS)
        keys = c.router.keys.slice(a, b)
        t2, t3 = read_part(self.s2[p]), read_part(self.s3[p])
        t5a = read_part(self.s5a[p], ["lambda_utc"])
        keys.verify(t2, where=f"{DENSE[0]} part {p}", code="INPUT_MISALIGNED", state=STATE)
        keys.verify(t3, where=f"{DENSE[1]} part {p}", code="INPUT_MISALIGNED", state=STATE)
        lt = t2.column("lambda_target").to_numpy()
        lr = t2.column("lambda_realised").to_numpy()
        cnt = t3.column("count_n").to_numpy().astype(np.int64)
        # R2 (S2, S3): every λ_realised and every count recomputed with the production kernels
        replay_l = np.array_equal(lt, t5a.column("lambda_utc").to_numpy()) and np.array_equal(
            lr, c.s2.realise(a, b, lt, self.xi)
        )
        counts, nz, (key, hi, lo) = c.s3.draw(a, lr, STATE)
        replay_c = np.array_equal(counts.astype(np.int64), cnt)
        # T9a / T9b / T14 partials
        m = lr >= 1.0
        kap = np.repeat(c.s3.kappa_dom[a:b], h)[m] if c.s3.law == 1 else np.inf
        z = (cnt[m] - lr[m]) / np.sqrt(lr[m] * (1.0 + lr[m] / kap))
        m5 = lt >= 5.0
        t9b = float(((cnt[m5] - lt[m5]) ** 2 - lt[m5]).sum()), float((lt[m5] ** 2).sum())
        # expected physical mass per (tz, UTC bucket) for T3/T8
        w = (lr.reshape(b - a, h) * c.phys_share[a:b, None]).reshape(-1)
        flat = np.repeat(c.row_tz[a:b] * h, h) + np.tile(np.arange(h), b - a)
        trace = (
            p,
            int(nz.shape[0]),
            (int(key[0]), int(hi[0]), int(lo[0])) if nz.size else None,
            (int(key[-1]), int(hi[-1]), int(lo[-1])) if nz.size else None,
        )
        return DensePartial(
            exp_tb=np.bincount(flat, weights=w, minlength=c.z * h),
            replay_lambda=replay_l,
            replay_counts=replay_c,
            # the tuples as the serial fold added them (an int count becomes float64)
            t9a=np.array((int(m.sum()), float(z.sum()), float((z * z).sum()))),
            t9b=np.array(t9b),
            mass=np.array((float(lt.sum()), float(lr.sum()))),
            arrivals=int(cnt.sum()),
            trace_s3=[trace],
        )
