"""Integer-exact Walker/Vose alias tables (layer1 §4.3 ``vose_integer_fifo``) and the
one-word pick (layer2 §1.7 ``alias_pick``).

Build: ``a = LRR(n·2^32, w)`` (Σa = n·2^32 exactly), FIFO queues small/large in slot order,
pair off, leftovers get q = 2^32 aliasing themselves. ``prob[j] = q_j / 2^32`` exactly.
Pick: ``(j, f) = scale53(x, n)``; keep j iff ``f < q_j·2^21`` else ``alias[j]`` — A§4's
``u·n − j < prob[j]`` evaluated without rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from engine_core.errors import EngineError
from engine_core.rng.uniform import scale53, scale53_nb

ONE32 = 1 << 32
MAX_SLOTS = 1 << 21  # n·2^32 must be exact in float64 for the LRR quotas


@njit(nogil=True, cache=True)
def quotas_nb(total_units, w):
    """The integerisation floors shared by LRR and SYS (layer1 §0.5): ``q_i = N·w_i/Σw`` with
    Σw summed sequentially, floors ``f_i``, remainders ``r_i`` and leftover units ``R``."""
    n = w.shape[0]
    tot = 0.0
    for i in range(n):  # sequential sum: same bits on every machine
        tot += w[i]
    fl = np.empty(n, dtype=np.int64)
    rem = np.empty(n, dtype=np.float64)
    s = np.int64(0)
    nf = np.float64(total_units)
    for i in range(n):
        q = nf * w[i] / tot
        f = np.floor(q)
        fl[i] = np.int64(f)
        rem[i] = q - f
        s += fl[i]
    return fl, rem, np.int64(total_units) - s


@njit(nogil=True, cache=True)
def lrr_nb(total_units, w):
    """Largest-remainder integerisation (layer1 §0.5 LRR): floors of N·w/Σw plus one unit to
    each of the R largest remainders (ties: larger w, then lower index). Returns int64
    counts, or an array whose first entry is −1 if the float quotas are inconsistent."""
    n = w.shape[0]
    fl, rem, r = quotas_nb(total_units, w)
    if r < 0 or r > n:
        fl[0] = -1
        return fl
    # order by (−rem, −w, index): stable sorts from the least significant key up
    idx = np.argsort(-w, kind="mergesort")
    idx = idx[np.argsort(-rem[idx], kind="mergesort")]
    for t in range(r):
        fl[idx[t]] += 1
    return fl


@njit(nogil=True, cache=True)
def alias_build_nb(w):
    """Returns ``(q uint64[n], alias uint32[n], ok)`` for weights in slot order."""
    n = w.shape[0]
    one = np.int64(1) << 32
    a = lrr_nb(np.int64(n) * one, w)
    q = np.zeros(n, dtype=np.uint64)
    alias = np.zeros(n, dtype=np.uint32)
    if n > 0 and a[0] < 0:
        return q, alias, False
    small = np.empty(2 * n + 1, dtype=np.int64)
    large = np.empty(2 * n + 1, dtype=np.int64)
    sh = st = lh = lt = 0
    for i in range(n):
        if a[i] < one:
            small[st] = i
            st += 1
        else:
            large[lt] = i
            lt += 1
    while sh < st and lh < lt:
        s = small[sh]
        sh += 1
        g = large[lh]
        lh += 1
        q[s] = np.uint64(a[s])
        alias[s] = np.uint32(g)
        a[g] -= one - a[s]
        if a[g] < one:
            small[st] = g
            st += 1
        else:
            large[lt] = g
            lt += 1
    for t in range(sh, st):
        q[small[t]] = np.uint64(one)
        alias[small[t]] = np.uint32(small[t])
    for t in range(lh, lt):
        q[large[t]] = np.uint64(one)
        alias[large[t]] = np.uint32(large[t])
    return q, alias, True


@njit(nogil=True, cache=True, inline="always")
def alias_pick_nb(x, q, alias):
    """One word → slot index (layer2 §1.7), exact."""
    n = q.shape[0]
    j, f = scale53_nb(x, n)
    if f < q[j] << np.uint64(21):
        return np.int64(j)
    return np.int64(alias[j])


@njit(nogil=True, cache=True, inline="always")
def alias_pick_csr_nb(x, q, alias, lo, hi):
    """alias_pick on the slots ``lo:hi`` of flat (CSR) tables built by
    ``alias_build_batch_nb`` (table-local ``alias``); one word, exact."""
    j, f = scale53_nb(x, np.uint64(hi - lo))
    jj = lo + np.int64(j)
    if f < (q[jj] << np.uint64(21)):
        return jj
    return lo + np.int64(alias[jj])


@dataclass(frozen=True)
class AliasTable:
    """A built table. ``order`` maps slot → position in the caller's input arrays."""

    order: np.ndarray  # int64[n]
    q: np.ndarray  # uint64[n], exact numerators of prob
    alias: np.ndarray  # uint32[n]

    @property
    def n(self) -> int:
        return int(self.q.shape[0])

    @property
    def prob(self) -> np.ndarray:
        return self.q.astype(np.float64) / float(ONE32)

    def pick(self, x) -> np.ndarray:
        """Vectorised one-word picks → slot indices."""
        j, f = scale53(np.asarray(x, dtype=np.uint64), self.n)
        keep = f < (self.q[j.astype(np.int64)] << np.uint64(21))
        return np.where(keep, j.astype(np.int64), self.alias[j.astype(np.int64)].astype(np.int64))


def build_alias_table(sort_key, weights, state: str = "ENGINE") -> AliasTable:
    """Deterministic build: slots are the inputs stably sorted by ``sort_key`` (entity id or
    sequence index), so the table does not depend on the caller's input order."""
    w = np.ascontiguousarray(weights, dtype=np.float64)
    key = np.asarray(sort_key)
    n = w.shape[0]
    if n == 0 or n >= MAX_SLOTS or key.shape[0] != n:
        raise EngineError("CHECK_FAILED", state, f"alias table needs 1..{MAX_SLOTS - 1} slots")
    if not np.all(np.isfinite(w)) or (w < 0).any() or not (w > 0).any():
        raise EngineError("CHECK_FAILED", state, "alias weights must be finite, ≥ 0, not all 0")
    order = np.argsort(key, kind="stable").astype(np.int64)
    q, alias, ok = alias_build_nb(w[order])
    if not ok:
        raise EngineError("CHECK_FAILED", state, "alias LRR quotas inconsistent")
    return AliasTable(order=order, q=q, alias=alias)


@njit(nogil=True, cache=True)
def alias_build_batch_nb(weights, offsets):
    """Tables for many segments of ``weights`` (slot order within each segment).
    Returns flat ``q``, table-local ``alias`` and a per-table ok flag."""
    n = weights.shape[0]
    q = np.zeros(n, dtype=np.uint64)
    alias = np.zeros(n, dtype=np.uint32)
    ok = np.ones(offsets.shape[0] - 1, dtype=np.bool_)
    for t in range(offsets.shape[0] - 1):
        a, b = offsets[t], offsets[t + 1]
        qt, at, good = alias_build_nb(weights[a:b])
        q[a:b] = qt
        alias[a:b] = at
        ok[t] = good
    return q, alias, ok
