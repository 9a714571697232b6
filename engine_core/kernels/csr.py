"""Grouped lookup tables for per-row kernels (layer3 §4.2 step 1): for every group (a party,
a device, a cell…) the list of its items, as CSR arrays, with a Walker/Vose alias table per
group where the pick is weighted (ARCH §4: one word per pick, exact).

Items inside a group are ordered by a caller key (an entity id), so a table never depends on
the order its rows arrived in. Zero-weight items are dropped from weighted tables."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from engine_core.errors import EngineError
from engine_core.kernels.sorting import lex_order
from engine_core.rng.alias import alias_build_batch_nb, alias_pick_csr_nb


@dataclass(frozen=True)
class Csr:
    """Group ``g`` owns ``items[ptr[g]:ptr[g+1]]``; ``q``/``alias`` (weighted tables only)
    are the per-group alias slots over the same range."""

    ptr: np.ndarray  # int64, n_groups + 1
    items: np.ndarray  # int64
    q: np.ndarray | None = None  # uint64
    alias: np.ndarray | None = None  # uint32, group-local

    @property
    def n_groups(self) -> int:
        return self.ptr.size - 1

    def sizes(self) -> np.ndarray:
        return np.diff(self.ptr)

    def weighted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(ptr, items, q, alias)`` for numba kernels (uniform tables get q = 1, self-alias)."""
        if self.q is None:
            q = np.full(self.items.size, np.uint64(1) << np.uint64(32), np.uint64)
            alias = (np.arange(self.items.size) - np.repeat(self.ptr[:-1], self.sizes())).astype(
                np.uint32
            )
            return self.ptr, self.items, q, alias
        return self.ptr, self.items, self.q, self.alias


def csr(group, n_groups: int, items, key=None, weights=None, *, state="ENGINE", what="table"):
    """Tables over ``n_groups`` groups from rows ``(group, item)``, items ordered by ``key``
    (default: the item) inside each group; with ``weights`` also the alias slots."""
    group = np.asarray(group, np.int64)
    items = np.asarray(items, np.int64)
    key = items if key is None else np.asarray(key)
    if weights is not None:
        w = np.asarray(weights, np.float64)
        if not np.all(np.isfinite(w)) or (w < 0).any():
            raise EngineError("CHECK_FAILED", state, f"{what}: weights must be finite and ≥ 0")
        keep = w > 0
        group, items, key, w = group[keep], items[keep], key[keep], w[keep]
    if group.size and (group.min() < 0 or group.max() >= n_groups):
        raise EngineError("CHECK_FAILED", state, f"{what}: group index out of range")
    order = lex_order(group, key)  # non-negative integer keys (ids, indices)
    g, it = group[order], items[order]
    ptr = np.zeros(n_groups + 1, np.int64)
    np.cumsum(np.bincount(g, minlength=n_groups), out=ptr[1:])
    if weights is None:
        return Csr(ptr, it)
    q, alias, ok = alias_build_batch_nb(np.ascontiguousarray(w[order]), ptr)
    if not ok.all():
        raise EngineError("CHECK_FAILED", state, f"{what}: alias quotas inconsistent")
    return Csr(ptr, it, q, alias)


@njit(nogil=True, cache=True)
def _pick_many(words, group, ptr, items, q, alias):
    out = np.empty(words.size, np.int64)
    for i in range(words.size):
        g = group[i]
        lo, hi = ptr[g], ptr[g + 1]
        out[i] = -1 if hi == lo else items[alias_pick_csr_nb(words[i], q, alias, lo, hi)]
    return out


def pick(table: Csr, group, words) -> np.ndarray:
    """One alias pick per row (``words`` uint64, one per row) in that row's group; −1 where
    the group is empty (the caller's fallback)."""
    ptr, items, q, alias = table.weighted()
    return _pick_many(
        np.ascontiguousarray(words, np.uint64),
        np.ascontiguousarray(group, np.int64),
        ptr,
        items,
        q,
        alias,
    )
