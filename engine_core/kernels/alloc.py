"""Layer-3 integerisation and selection laws (layer3 L3.4), numba kernels.

* ``LRR(N, x, tb)`` — largest remainder, ties by ``tb`` ascending (a uniform or a key).
* ``CAPPED_MULTINOMIAL(N, w, cap, floors, base_one)`` — floors, base-one, four alias tries
  per unit, then water-filling LRR over the owners that still have room.
* ``EXACT_SUBSET(k, w)`` — Efraimidis–Spirakis: the k largest ``ln(u)/w``, ties by ordinal.
* ``ALIAS(w)`` — the integer Walker/Vose table of :mod:`engine_core.rng.alias`.

Kernels return a status instead of raising (numba cannot raise typed errors across
threads); the Python wrappers turn a status into the ``EngineError`` of L3.8. Only IEEE
basic operations and :mod:`engine_core.rng.detmath` enter results, so bytes are identical
on every machine.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from engine_core.errors import EngineError
from engine_core.rng.alias import alias_build_nb, alias_pick_nb, quotas_nb
from engine_core.rng.detmath import nb_log
from engine_core.rng.philox import ctr_add_nb, philox_nb
from engine_core.rng.uniform import uniform01_nb

OK = 0
EMPTY_WEIGHTS = 1  # ALLOC_EMPTY_WEIGHTS
INFEASIBLE = 2  # CAPACITY_INFEASIBLE
BAD_QUOTAS = 3  # float quotas inconsistent (non-finite or negative weights)

_CODES = {
    EMPTY_WEIGHTS: "ALLOC_EMPTY_WEIGHTS",
    INFEASIBLE: "CAPACITY_INFEASIBLE",
    BAD_QUOTAS: "ALLOC_EMPTY_WEIGHTS",
}


def raise_status(status: int, state: str, where: str) -> None:
    """Turn a kernel status into the typed error naming the cell."""
    if status == OK:
        return
    what = {
        EMPTY_WEIGHTS: "units to place but every weight is 0",
        INFEASIBLE: "units left exceed the room of owners with weight > 0",
        BAD_QUOTAS: "weights are negative or not finite",
    }[status]
    raise EngineError(_CODES[status], state, f"{where}: {what}")


@njit(nogil=True, cache=True)
def lrr_tb_nb(total, x, tb):
    """LRR with ties of equal remainder ordered by ``tb`` ascending. Returns
    ``(counts int64[n], status)``; Σ counts = total on OK."""
    n = x.shape[0]
    out = np.zeros(n, dtype=np.int64)
    if total == 0:
        return out, OK
    tot = 0.0
    for i in range(n):
        if not (x[i] >= 0.0) or not np.isfinite(x[i]):
            return out, BAD_QUOTAS
        tot += x[i]
    if tot <= 0.0:
        return out, EMPTY_WEIGHTS
    fl, rem, r = quotas_nb(total, x)
    if r < 0 or r > n:
        return out, BAD_QUOTAS
    idx = np.argsort(tb, kind="mergesort")
    idx = idx[np.argsort(-rem[idx], kind="mergesort")]
    for t in range(r):
        fl[idx[t]] += 1
    return fl, OK


@njit(nogil=True, cache=True, inline="always")
def block_words_nb(key, hi, lo, block):
    """Both words of block ``block`` of the stream ``(key, hi, lo)``."""
    h, l_, _ = ctr_add_nb(hi, lo, np.uint64(block))
    return philox_nb(l_, h, key)


@njit(nogil=True, cache=True)
def subset_order_nb(w, u):
    """Efraimidis–Spirakis order: indices by ``ln(u)/w`` descending, ties by index;
    owners with ``w = 0`` last (they are never chosen while a positive weight remains)."""
    n = w.shape[0]
    key = np.empty(n, dtype=np.float64)
    for i in range(n):
        key[i] = nb_log(u[i]) / w[i] if w[i] > 0.0 else -np.inf
    return np.argsort(-key, kind="mergesort"), key


@njit(nogil=True, cache=True)
def exact_subset_nb(k, w, u):
    """The k chosen indices in key order, or status INFEASIBLE if fewer than k
    candidates have ``w > 0``."""
    order, key = subset_order_nb(w, u)
    if k > 0 and (k > w.shape[0] or key[order[k - 1]] == -np.inf):
        return order[:0], INFEASIBLE
    return order[:k], OK


@njit(nogil=True, cache=True)
def capped_multinomial_nb(total, w, cap, floors, base_one, key, hi, lo):
    """CAPPED_MULTINOMIAL over owners ``0..n−1`` (canonical order) on one stream.

    Counter layout, N = total after the floor raise: unit t owns blocks [2t, 2t+2) (its four
    alias words), owner j owns block 2N + j (word 0 overflow tie-break, word 1 subset key).
    Returns ``(counts, N, status, owner_of_unit)``; trace draws = 4·N + 2·n. Units placed by
    floors and base-one come first (owner order), alias-placed units keep their index t,
    overflow units take the water-filling shares in owner order.
    """
    n = w.shape[0]
    cnt = np.zeros(n, dtype=np.int64)
    big0 = max(np.int64(total), np.int64(floors.sum()))
    assign = np.full(big0, -1, dtype=np.int64)
    sfl = np.int64(0)
    for j in range(n):
        if floors[j] > cap[j]:
            return cnt, total, INFEASIBLE, assign
        for _ in range(floors[j]):
            assign[sfl] = j
            sfl += 1
        cnt[j] = floors[j]
    big_n = big0
    placed = sfl
    if placed == big_n:
        return cnt, big_n, OK, assign
    wpos = 0.0
    for j in range(n):
        if w[j] > 0.0:
            wpos += w[j]
    if wpos <= 0.0:
        return cnt, big_n, EMPTY_WEIGHTS, assign
    tie = np.empty(n, dtype=np.float64)
    sub = np.empty(n, dtype=np.float64)
    for j in range(n):
        o0, o1 = block_words_nb(key, hi, lo, 2 * big_n + j)
        tie[j] = uniform01_nb(o0)
        sub[j] = uniform01_nb(o1)
    if base_one:
        order, _ = subset_order_nb(w, sub)
        for t in range(n):
            if placed == big_n:
                break
            j = order[t]
            if w[j] <= 0.0:
                break
            if cnt[j] == 0 and cap[j] > 0:
                cnt[j] = 1
                assign[placed] = j
                placed += 1
    q, alias, ok = alias_build_nb(w)
    if not ok:
        return cnt, big_n, BAD_QUOTAS, assign
    left = np.int64(0)
    for t in range(placed, big_n):
        done = False
        for b in range(2):
            o0, o1 = block_words_nb(key, hi, lo, 2 * t + b)
            for x in (o0, o1):
                if not done:
                    j = alias_pick_nb(x, q, alias)
                    if cnt[j] < cap[j]:
                        cnt[j] += 1
                        assign[t] = j
                        done = True
        if not done:
            left += 1
    # water-filling: LRR over owners with room and weight, shares clamped to their room
    wo = np.empty(n, dtype=np.float64)
    while left > 0:
        room = np.int64(0)
        for j in range(n):
            r = cap[j] - cnt[j]
            if w[j] > 0.0 and r > 0:
                wo[j] = w[j]
                room += r
            else:
                wo[j] = 0.0
        if room < left:
            return cnt, big_n, INFEASIBLE, assign
        share, st = lrr_tb_nb(left, wo, tie)
        if st != OK:
            return cnt, big_n, st, assign
        t = 0
        for j in range(n):
            s = min(share[j], cap[j] - cnt[j])
            cnt[j] += s
            left -= s
            for _ in range(s):  # the next unplaced units, in unit order
                while assign[t] >= 0:
                    t += 1
                assign[t] = j
    return cnt, big_n, OK, assign


def capped_multinomial(
    total,
    w,
    cap,
    floors=None,
    base_one=False,
    stream=(0, 0, 0),
    *,
    state="ENGINE",
    where="cell",
    units=False,
):
    """Python entry: arrays in, ``(counts, N)`` out (``(counts, N, owner_of_unit)`` with
    ``units``), typed error on failure."""
    w = np.ascontiguousarray(w, dtype=np.float64)
    cap = np.ascontiguousarray(cap, dtype=np.int64)
    floors = np.zeros(w.shape[0], np.int64) if floors is None else np.asarray(floors, np.int64)
    k, h, l_ = (np.uint64(v) for v in stream)
    cnt, big_n, st, assign = capped_multinomial_nb(
        np.int64(total), w, cap, floors, bool(base_one), k, h, l_
    )
    raise_status(int(st), state, where)
    return (cnt, int(big_n), assign) if units else (cnt, int(big_n))


def round_half_even(x: float) -> int:
    """The integerisation of every planned count (L3.4): nearest, ties to even."""
    return int(np.round(x))  # numpy rounds half to even


def lrr(total, x, tb, *, state="ENGINE", where="cell") -> np.ndarray:
    counts, st = lrr_tb_nb(
        np.int64(total), np.ascontiguousarray(x, np.float64), np.ascontiguousarray(tb, np.float64)
    )
    raise_status(int(st), state, where)
    return counts


def exact_subset(k, w, u, *, state="ENGINE", where="cell") -> np.ndarray:
    idx, st = exact_subset_nb(
        np.int64(k), np.ascontiguousarray(w, np.float64), np.ascontiguousarray(u, np.float64)
    )
    raise_status(int(st), state, where)
    return idx


def lrr_capped(total, x, cap, tb, *, state="ENGINE", where="cells") -> np.ndarray:
    """LRR with per-item caps: items over their cap are clamped and the excess is
    re-distributed by LRR over the items with room (water-filling; each round fills ≥ 1
    item). CAPACITY_INFEASIBLE if the room of items with x > 0 is below ``total``."""
    x = np.ascontiguousarray(x, np.float64)
    cap = np.asarray(cap, np.int64)
    if total > int(cap[x > 0].sum()):
        raise_status(INFEASIBLE, state, where)
    counts = lrr(total, x, tb, state=state, where=where)
    while (counts > cap).any():
        excess = int(np.maximum(counts - cap, 0).sum())
        counts = np.minimum(counts, cap)
        room = (counts < cap) & (x > 0)
        counts = counts + lrr(excess, x * room, tb, state=state, where=where)
    return counts


def sys_capped(total, x, cap, u: float, *, state="ENGINE", where="cells") -> np.ndarray:
    """SYS (layer1 §0.5: floors, then systematic sampling of the leftover units with one
    uniform start) with per-item caps, excess water-filled the same way. Unlike LRR, each
    item's expected count equals its quota even when most quotas are below 1 (LRR would
    hand every leftover unit to the largest quotas)."""
    from engine_core.kernels.integerise import sys_integerise

    x = np.ascontiguousarray(x, np.float64)
    cap = np.asarray(cap, np.int64)
    if total > int(cap[x > 0].sum()):
        raise_status(INFEASIBLE, state, where)
    if total == 0:
        return np.zeros(x.size, np.int64)
    counts = sys_integerise(total, x, u, state=state)
    while (counts > cap).any():
        excess = int(np.maximum(counts - cap, 0).sum())
        counts = np.minimum(counts, cap)
        room = (counts < cap) & (x > 0)
        counts = counts + sys_integerise(excess, x * room, u, state=state)
    return counts


@njit(nogil=True, cache=True)
def _cm_cells_nb(c0, c1, totals, w, cap, floors, bounds, active, base_one, streams, cnt, big_n, st):
    for c in range(c0, c1):
        if not active[c]:
            continue
        a, b = bounds[c], bounds[c + 1]
        k, n_c, s, _ = capped_multinomial_nb(
            totals[c], w[a:b], cap[a:b], floors[a:b], base_one,
            streams[c, 0], streams[c, 1], streams[c, 2],
        )  # fmt: skip
        cnt[a:b] = k
        big_n[c] = n_c
        st[c] = s


def capped_multinomial_cells(
    totals, w, cap, floors, bounds, active, base_one, streams, *, workers=1, state, where
):
    """CAPPED_MULTINOMIAL for many cells at once: cell ``c`` owns rows
    ``bounds[c]:bounds[c+1]`` of ``w``/``cap``/``floors`` and its stream ``streams[c]``
    (key, hi, lo); inactive cells place nothing. Cells are independent, so they run on
    ``workers`` threads (the kernel releases the GIL) with bytes independent of the count.
    Returns (counts per row, N per cell); the first failing cell (cell order) raises,
    named by ``where[c]``."""
    n_cells = len(totals)
    totals = np.ascontiguousarray(totals, np.int64)
    w = np.ascontiguousarray(w, np.float64)
    cap = np.ascontiguousarray(cap, np.int64)
    floors = np.ascontiguousarray(floors, np.int64)
    bounds = np.ascontiguousarray(bounds, np.int64)
    active = np.ascontiguousarray(active, np.bool_)
    streams = np.ascontiguousarray(streams, np.uint64).reshape(n_cells, 3)
    cnt = np.zeros(w.shape[0], np.int64)
    big_n = np.zeros(n_cells, np.int64)
    st = np.zeros(n_cells, np.int64)
    args = (totals, w, cap, floors, bounds, active, bool(base_one), streams, cnt, big_n, st)
    _on_cell_ranges(_cm_cells_nb, bounds, workers, args)
    bad = np.flatnonzero(st != OK)
    if bad.size:
        raise_status(int(st[bad[0]]), state, where[int(bad[0])])
    return cnt, big_n


@njit(nogil=True, cache=True)
def _es_cells_nb(c0, c1, ks, w, u, bounds, offs, out, st):
    for c in range(c0, c1):
        if ks[c] == 0:
            continue
        a, b = bounds[c], bounds[c + 1]
        idx, s = exact_subset_nb(ks[c], w[a:b], u[a:b])
        st[c] = s
        if s == OK:
            out[offs[c] : offs[c] + ks[c]] = idx + a


def exact_subset_cells(ks, w, u, bounds, *, workers=1):
    """EXACT_SUBSET for many cells at once: cell ``c`` picks ``ks[c]`` of the rows
    ``bounds[c]:bounds[c+1]`` of ``w``/``u``. Returns (picked row positions, cell-major,
    each cell's in key order; status per cell). Cells are independent and run on
    ``workers`` threads with results independent of the count."""
    n_cells = len(ks)
    ks = np.ascontiguousarray(ks, np.int64)
    bounds = np.ascontiguousarray(bounds, np.int64)
    offs = np.r_[0, np.cumsum(ks)].astype(np.int64)
    out = np.full(int(offs[-1]), -1, np.int64)
    st = np.zeros(n_cells, np.int64)
    args = (
        ks,
        np.ascontiguousarray(w, np.float64),
        np.ascontiguousarray(u, np.float64),
        bounds,
        offs,
        out,
        st,
    )
    _on_cell_ranges(_es_cells_nb, bounds, workers, args)
    return out, st


def _on_cell_ranges(kernel, bounds, workers, args):
    """``kernel(c0, c1, *args)`` over contiguous cell ranges of about equal row counts,
    one per thread (kernels release the GIL; cells are independent)."""
    n_cells = bounds.size - 1
    cuts = np.searchsorted(bounds, np.linspace(0, bounds[-1], max(1, workers) + 1)[1:-1])
    edges = [0, *sorted({int(x) for x in cuts.tolist()}), n_cells]
    ranges = [(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]
    if len(ranges) <= 1:
        kernel(0, n_cells, *args)
        return
    with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
        for f in [pool.submit(kernel, a, b, *args) for a, b in ranges]:
            f.result()
