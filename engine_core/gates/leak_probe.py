"""The id leak probe (layer3 6A-R14, 6B-R11): can an entity's role be predicted from its id?

A logistic model on the one-hot top-4 and bottom-4 bits of the id, fitted on ids with bit
32 = 0 and scored on bit 32 = 1 (AUC), plus the KS distance of ``id / 2^64`` between role
members and the rest. Ids from a keyed permutation give AUC ≈ 0.5 and small D;
sequential ids with the role's ordinals last do not. The features take 256 values, so the
fit and the AUC run on per-cell counts of every entity (no sample: layer3 §3.10's 10^6-row
sample only bounded the cost, and grouped rows have the same likelihood)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


N_CELLS = 256  # (top 4 bits, bottom 4 bits): the one-hot features depend on nothing else


def cell_of(ids: np.ndarray) -> np.ndarray:
    return ((ids >> np.uint64(60)) * np.uint64(16) + (ids & np.uint64(15))).astype(np.int64)


def features(cells: np.ndarray) -> np.ndarray:
    """Intercept + one-hot top-4 + one-hot bottom-4 bits, per feature cell."""
    x = np.zeros((cells.size, 33))
    x[:, 0] = 1.0
    x[np.arange(cells.size), 1 + cells // 16] = 1.0
    x[np.arange(cells.size), 17 + cells % 16] = 1.0
    return x


def fit_logistic(
    x: np.ndarray, pos: np.ndarray, n: np.ndarray, iters: int = 25, ridge: float = 1e-3
):
    """Newton–IRLS with a small ridge (the one-hot blocks are collinear with the intercept)
    on binomial rows: ``pos`` of ``n`` entities share the feature row ``x`` — the likelihood
    of the per-entity model grouped by its 256 distinct feature rows, so every entity counts
    and the cost does not grow with the table."""
    beta = np.zeros(x.shape[1])
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(x @ beta)))
        w = n * p * (1 - p)
        g = x.T @ (pos - n * p) - ridge * beta
        h = (x * w[:, None]).T @ x + ridge * np.eye(x.shape[1])
        step = np.linalg.solve(h, g)
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    return beta


def grouped_auc(score: np.ndarray, pos: np.ndarray, neg: np.ndarray) -> float:
    """Mann–Whitney AUC (ties count one half) of groups sharing a score."""
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    if n_pos == 0 or n_neg == 0:
        return 0.5
    us, inv = np.unique(score, return_inverse=True)
    p = np.bincount(inv, pos, minlength=us.size)
    q = np.bincount(inv, neg, minlength=us.size)
    below = np.cumsum(q) - q
    return float((p * (below + 0.5 * q)).sum() / (n_pos * n_neg))


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.sort(a), np.sort(b)
    grid = np.r_[a, b]
    fa = np.searchsorted(a, grid, side="right") / max(a.size, 1)
    fb = np.searchsorted(b, grid, side="right") / max(b.size, 1)
    return float(np.abs(fa - fb).max()) if grid.size else 0.0


def ks_labelled(u: np.ndarray, y: np.ndarray) -> float:
    """``ks_distance(u[y], u[~y])`` in one pass over ``u`` sorted (published ids already
    are): both empirical CDFs by cumulative counts, read at the end of each run of ties."""
    if u.size > 1 and (u[1:] < u[:-1]).any():
        o = np.argsort(u, kind="stable")
        u, y = u[o], y[o]
    n_a, n_b = int(y.sum()), int(y.size - y.sum())
    if u.size == 0:
        return 0.0
    last = np.r_[u[1:] != u[:-1], True]
    ca = np.cumsum(y)[last]
    cb = (np.arange(1, y.size + 1) - np.cumsum(y))[last]
    return float(np.abs(ca / max(n_a, 1) - cb / max(n_b, 1)).max())


def probe(ids: np.ndarray, positive: np.ndarray) -> ProbeResult:
    """Every entity enters: the fit and the AUC run on per-cell counts (full data, no
    sample), the KS distance on every id."""
    ids = np.asarray(ids, np.uint64)
    y = np.asarray(positive, bool)
    half = ((ids >> np.uint64(32)) & np.uint64(1)).astype(np.int64)
    key = cell_of(ids) * 2 + half  # (feature cell, half)
    tot = np.bincount(key, minlength=2 * N_CELLS).reshape(N_CELLS, 2).astype(np.float64)
    pos = np.bincount(key[y], minlength=2 * N_CELLS).reshape(N_CELLS, 2).astype(np.float64)
    x = features(np.arange(N_CELLS))
    beta = fit_logistic(x, pos[:, 0], tot[:, 0])
    scored = x @ beta
    p1, q1 = pos[:, 1], tot[:, 1] - pos[:, 1]
    n_pos, n_neg = int(p1.sum()), int(q1.sum())
    a = grouped_auc(scored, p1, q1)
    a_max = 0.5 + max(0.03, 3.1 * np.sqrt((n_pos + n_neg + 1) / (12.0 * max(n_pos * n_neg, 1))))
    u = (ids >> np.uint64(11)).astype(np.float64) / 2.0**53
    p_all, n_all = int(y.sum()), int((~y).sum())
    d = ks_labelled(u, y)
    d_max = max(0.05, 1.95 * np.sqrt((p_all + n_all) / max(p_all * n_all, 1)))
    return ProbeResult(a, float(a_max), d, float(d_max), n_pos, n_neg)
