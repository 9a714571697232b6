"""Exact vectorised lookup of (a, b) uint64 pairs in a table sorted lexicographically by
(a, b) — the membership tests of 5B.S5 (T5) without a hash join per part."""

from __future__ import annotations

import numpy as np
from numba import njit


class PairIndex:
    """A table's (a, b) keys sorted lexicographically (``order`` maps back to its rows);
    ``find`` returns the row of each query pair or −1."""

    def __init__(self, a: np.ndarray, b: np.ndarray):
        a = np.asarray(a, dtype=np.uint64)
        b = np.asarray(b, dtype=np.uint64)
        self.order = np.lexsort((b, a))
        self.a, self.b = a[self.order], b[self.order]

    def find(self, qa: np.ndarray, qb: np.ndarray) -> np.ndarray:
        pos = np.empty(qa.shape[0], dtype=np.int64)
        _find_many(self.a, self.b, np.asarray(qa, np.uint64), np.asarray(qb, np.uint64), pos)
        return np.where(pos >= 0, self.order[np.maximum(pos, 0)], -1)


@njit(nogil=True, cache=True)
def _find_many(ta, tb, qa, qb, out):
    for i in range(qa.shape[0]):
        out[i] = _find(ta, tb, qa[i], qb[i])


@njit(nogil=True, cache=True, inline="always")
def _find(ta, tb, a, b):
    lo, hi = 0, ta.shape[0]
    while lo < hi:
        m = (lo + hi) >> 1
        if ta[m] < a or (ta[m] == a and tb[m] < b):
            lo = m + 1
        else:
            hi = m
    return lo if lo < ta.shape[0] and ta[lo] == a and tb[lo] == b else -1
