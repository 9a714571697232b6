"""Exact vectorised lookup of (a, b) uint64 pairs in a table sorted lexicographically by
(a, b) — the membership tests of 5B.S5 (T5) without a hash join per part."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def _find_pairs(ta, tb, qa, qb, out):
    n = ta.shape[0]
    for i in range(qa.shape[0]):
        a, b = qa[i], qb[i]
        lo, hi = 0, n
        while lo < hi:  # first position with (ta, tb) ≥ (a, b)
            m = (lo + hi) >> 1
            if ta[m] < a or (ta[m] == a and tb[m] < b):
                lo = m + 1
            else:
                hi = m
        out[i] = lo if lo < n and ta[lo] == a and tb[lo] == b else -1


class PairIndex:
    """Row numbers of a table's (a, b) keys; ``find`` returns −1 for absent pairs."""

    def __init__(self, a: np.ndarray, b: np.ndarray):
        a = np.asarray(a, dtype=np.uint64)
        b = np.asarray(b, dtype=np.uint64)
        self.order = np.lexsort((b, a))
        self.a, self.b = a[self.order], b[self.order]

    def find(self, qa: np.ndarray, qb: np.ndarray) -> np.ndarray:
        pos = np.empty(qa.shape[0], dtype=np.int64)
        _find_pairs(self.a, self.b, np.asarray(qa, np.uint64), np.asarray(qb, np.uint64), pos)
        return np.where(pos >= 0, self.order[np.maximum(pos, 0)], -1)
