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


BLOCK = 1 << 15  # rows per float64 block: bounds the working set for wide uint8 feature rows


def linear_score(x: np.ndarray, beta: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """``x @ beta`` in row blocks, so a compact (uint8 one-hot) ``x`` is never widened whole."""
    out = np.empty(x.shape[0])
    for s in range(0, x.shape[0], block):
        out[s : s + block] = np.asarray(x[s : s + block], np.float64) @ beta
    return out


def _objective(eta, beta, pos, n, pen) -> float:
    """The penalised binomial negative log-likelihood at linear predictor ``eta``."""
    return float((n * np.logaddexp(0.0, eta) - pos * eta).sum() + 0.5 * (pen * beta * beta).sum())


def fit_logistic(
    x: np.ndarray,
    pos: np.ndarray,
    n: np.ndarray,
    iters: int = 25,
    ridge: float = 1e-3,
    *,
    free: int = 0,
    tol: float = 1e-10,
    beta0: np.ndarray | None = None,
    halving: bool = False,
    block: int = BLOCK,
):
    """Newton–IRLS with a small ridge (the one-hot blocks are collinear with the intercept)
    on binomial rows: ``pos`` of ``n`` entities share the feature row ``x`` — the likelihood
    of the per-entity model grouped by its 256 distinct feature rows, so every entity counts
    and the cost does not grow with the table.

    Generalised for the 6B baselines (layer3 §4.6): ``ridge`` spares the first ``free``
    columns (an unpenalised intercept), ``x`` may be any real dtype and is read in float64
    row blocks, ``halving`` halves a step until the penalised objective does not rise (near
    separable rare classes), a singular Hessian falls back to least squares. The defaults
    are the 6A-R14 fit, operation for operation (its metrics are pinned by the golden)."""
    p = x.shape[1]
    pen = np.full(p, float(ridge))
    pen[:free] = 0.0
    beta = np.zeros(p) if beta0 is None else np.array(beta0, np.float64)
    eta = np.empty(x.shape[0])
    for _ in range(iters):
        g, h = -pen * beta, np.diag(pen)
        for s in range(0, x.shape[0], block):
            xb, sl = np.asarray(x[s : s + block], np.float64), slice(s, s + block)
            eta[sl] = xb @ beta
            pb = 1.0 / (1.0 + np.exp(-eta[sl]))
            g += xb.T @ (pos[sl] - n[sl] * pb)
            h += (xb * (n[sl] * pb * (1 - pb))[:, None]).T @ xb
        try:
            step = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(h, g, rcond=None)[0]
        if halving:
            d, t = linear_score(x, step, block), 1.0
            f0 = _objective(eta, beta, pos, n, pen)
            while t > 2.0**-30 and _objective(eta + t * d, beta + t * step, pos, n, pen) > f0:
                t *= 0.5
            step = t * step
        beta += step
        if np.abs(step).max() < tol:
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
