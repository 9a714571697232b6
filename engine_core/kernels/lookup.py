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


@njit(nogil=True, cache=True)
def routing_integrity_nb(
    mer, virt, site, edge, tz, tz_p, tz_o, tz_s, mode, settle,
    s_a, s_b, s_row, s_tz_w, s_tz_s, s_weight,
    e_a, e_b, e_row, e_tz,
    site_cells, edge_cells,
):  # fmt: skip
    """T5 over one arrival part in a single pass: physical arrivals must hit a known
    (merchant, site) with weight > 0 whose zone is the row's zone and all three arrival tzids;
    virtual ones a known (merchant, edge) whose zone is tzid_operational = tzid_primary, with
    the merchant's settlement zone; modes must agree. Also counts arrivals per cell (T15).
    Returns (physical violations, virtual violations, mode violations)."""
    bad_p = 0
    bad_v = 0
    bad_m = 0
    for i in range(mer.shape[0]):
        if (mode[i] == 0 and virt[i]) or (mode[i] == 2 and not virt[i]):
            bad_m += 1
        if virt[i]:
            j = _find(e_a, e_b, mer[i], edge[i])
            if j < 0:
                bad_v += 1
                continue
            row = e_row[j]
            edge_cells[row] += 1
            if e_tz[row] != tz_o[i] or tz_p[i] != tz_o[i] or tz_s[i] != settle[i]:
                bad_v += 1
        else:
            j = _find(s_a, s_b, mer[i], site[i])
            if j < 0:
                bad_p += 1
                continue
            row = s_row[j]
            site_cells[row] += 1
            z = tz[i]
            if (
                s_weight[row] <= 0.0
                or s_tz_w[row] != z
                or s_tz_s[row] != z
                or tz_p[i] != z
                or tz_o[i] != z
                or tz_s[i] != z
            ):
                bad_p += 1
    return bad_p, bad_v, bad_m
