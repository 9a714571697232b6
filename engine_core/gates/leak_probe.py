"""The id leak probe (layer3 6A-R14, 6B-R11): can an entity's role be predicted from its id?

A logistic model on the one-hot top-4 and bottom-4 bits of the id, fitted on ids with bit
32 = 0 and scored on bit 32 = 1 (AUC), plus the KS distance of ``id / 2^64`` between role
members and the rest. Ids from a keyed permutation give AUC ≈ 0.5 and small D; sequential
ids with the role's ordinals last do not. The sample is RNG-free (bottom 16 bits below a
threshold, a multiple of 16 so the bottom-4 features stay uniform), ≤ 10^6 rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_ROWS = 1_000_000


@dataclass(frozen=True)
class ProbeResult:
    auc: float
    auc_max: float
    ks: float
    ks_max: float
    n_pos: int
    n_neg: int

    @property
    def passed(self) -> bool:
        return self.auc <= self.auc_max and self.ks <= self.ks_max


def features(ids: np.ndarray) -> np.ndarray:
    top = (ids >> np.uint64(60)).astype(np.int64)
    low = (ids & np.uint64(15)).astype(np.int64)
    x = np.zeros((ids.size, 33))
    x[:, 0] = 1.0
    x[np.arange(ids.size), 1 + top] = 1.0
    x[np.arange(ids.size), 17 + low] = 1.0
    return x


def fit_logistic(x: np.ndarray, y: np.ndarray, iters: int = 25, ridge: float = 1e-3):
    """Newton–IRLS with a small ridge (the one-hot blocks are collinear with the intercept)."""
    beta = np.zeros(x.shape[1])
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(x @ beta)))
        w = p * (1 - p)
        g = x.T @ (y - p) - ridge * beta
        h = (x * w[:, None]).T @ x + ridge * np.eye(x.shape[1])
        step = np.linalg.solve(h, g)
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    return beta


def auc(score: np.ndarray, y: np.ndarray) -> float:
    """Mann–Whitney AUC with average ranks for ties."""
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    ranks = np.empty(s.size)
    start = np.r_[0, np.flatnonzero(s[1:] != s[:-1]) + 1]
    end = np.r_[start[1:], s.size]
    avg = (start + end - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, end - start)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return 0.5
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.sort(a), np.sort(b)
    grid = np.r_[a, b]
    fa = np.searchsorted(a, grid, side="right") / max(a.size, 1)
    fb = np.searchsorted(b, grid, side="right") / max(b.size, 1)
    return float(np.abs(fa - fb).max()) if grid.size else 0.0


def probe(ids: np.ndarray, positive: np.ndarray) -> ProbeResult:
    ids = np.asarray(ids, np.uint64)
    y = np.asarray(positive, bool)
    if ids.size > MAX_ROWS:
        t = max(16, (65536 * MAX_ROWS // ids.size) // 16 * 16)
        keep = (ids & np.uint64(0xFFFF)) < np.uint64(t)
        ids, y = ids[keep], y[keep]
    half = ((ids >> np.uint64(32)) & np.uint64(1)).astype(bool)
    x = features(ids)
    beta = fit_logistic(x[~half], y[~half].astype(np.float64))
    scored = x[half] @ beta
    ys = y[half]
    n_pos, n_neg = int(ys.sum()), int((~ys).sum())
    a = auc(scored, ys.astype(np.int64))
    a_max = 0.5 + max(0.03, 3.1 * np.sqrt((n_pos + n_neg + 1) / (12.0 * max(n_pos * n_neg, 1))))
    u = (ids >> np.uint64(11)).astype(np.float64) / 2.0**53
    p_all, n_all = int(y.sum()), int((~y).sum())
    d = ks_distance(u[y], u[~y])
    d_max = max(0.05, 1.95 * np.sqrt((p_all + n_all) / max(p_all * n_all, 1)))
    return ProbeResult(a, float(a_max), d, float(d_max), n_pos, n_neg)
