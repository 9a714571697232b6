"""Integerisation laws (layer1 §0.5): LRR (deterministic) and SYS (one uniform).

Both return int64 counts n with Σn = N and |n_i − q_i| < 1 for q_i = N·w_i/Σw; Σw is summed
sequentially so the quotas have the same bits on every machine.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine_core.errors import EngineError
from engine_core.rng.alias import lrr_nb, quotas_nb


@njit(nogil=True, cache=True)
def sys_nb(total, w, u):
    """SYS(N, w, u): floors of the quotas, then systematic sampling of the R leftover units
    along the cumulative remainders; ``k_last = R`` pinned. Returns counts or [-1] on
    inconsistent quotas."""
    n = w.shape[0]
    out, rem, r = quotas_nb(total, w)
    if r < 0 or r > n:
        out[0] = -1
        return out
    if r == 0:
        return out
    csum = 0.0
    for i in range(n):
        csum += rem[i]
    scale = np.float64(r) / csum
    # the last unit is pinned on the last item with a remainder: R − u can round to R − 1
    # in float64, and an item with no remainder (zero weight, integral quota) takes none
    last = n - 1
    while last > 0 and rem[last] <= 0.0:
        last -= 1
    c = 0.0
    k_prev = np.int64(0)
    for i in range(n):
        c += rem[i]
        if i >= last:
            k = r
        else:
            k = np.int64(np.ceil(c * scale - u))
            if k < k_prev:
                k = k_prev
            if k > r:
                k = r
        out[i] += k - k_prev
        k_prev = k
    return out


def sys_integerise(total: int, weights, u: float, *, state: str = "ENGINE") -> np.ndarray:
    w = np.ascontiguousarray(weights, dtype=np.float64)
    if w.size == 0 or not np.all(np.isfinite(w)) or (w < 0).any() or not (w > 0).any():
        raise EngineError("ALLOC_SUM_MISMATCH", state, "SYS needs finite weights ≥ 0, not all 0")
    out = sys_nb(np.int64(total), w, float(u))
    if out[0] < 0 or int(out.sum()) != total:
        raise EngineError("ALLOC_SUM_MISMATCH", state, f"SYS could not place {total} units")
    return out


def lrr_integerise(total: int, weights, *, state: str = "ENGINE") -> np.ndarray:
    w = np.ascontiguousarray(weights, dtype=np.float64)
    if w.size == 0 or not np.all(np.isfinite(w)) or (w < 0).any() or not (w > 0).any():
        raise EngineError("ALLOC_SUM_MISMATCH", state, "LRR needs finite weights ≥ 0, not all 0")
    out = lrr_nb(np.int64(total), w)
    if out[0] < 0 or int(out.sum()) != total:
        raise EngineError("ALLOC_SUM_MISMATCH", state, f"LRR could not place {total} units")
    return out


@njit(nogil=True, cache=True)
def sys_batch_nb(totals, weights, offsets, u):
    """SYS for many small problems: problem i integerises ``totals[i]`` over
    ``weights[offsets[i]:offsets[i+1]]`` with uniform ``u[i]``. Returns flat counts;
    a problem whose quotas are inconsistent gets −1 in its first slot."""
    out = np.empty(weights.shape[0], dtype=np.int64)
    for i in range(totals.shape[0]):
        a, b = offsets[i], offsets[i + 1]
        out[a:b] = sys_nb(totals[i], weights[a:b], u[i])
    return out


@njit(nogil=True, cache=True)
def segment_sums_nb(values, offsets):
    """Sequential per-segment sums (the same bits on every machine, unlike pairwise sums)."""
    out = np.zeros(offsets.shape[0] - 1, dtype=np.float64)
    for i in range(offsets.shape[0] - 1):
        acc = 0.0
        for j in range(offsets[i], offsets[i + 1]):
            acc += values[j]
        out[i] = acc
    return out
