"""Counter-addressed units (layer3 L3.3): one stream per (family, domain key); unit ``j`` of
a stream with stride ``B`` owns blocks ``[j·B, j·B + B)`` and its uniform slot ``s`` is word
``s mod 2`` of block ``j·B + ⌊s/2⌋``. Draws never depend on chunking or on other units.

Accounting is one aggregated event per (family, domain key) — a planning cell — carrying
its reserved blocks and consumed draws (closed formulas of output counts, per family)."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine_core.rng.ledger import RngLedger
from engine_core.rng.philox import ctr_add_nb, fill_blocks_nb, philox_nb
from engine_core.rng.streams import StreamPrefix, ctr_add


@njit(nogil=True, cache=True)
def unit_words_nb(key, hi, lo, first_unit, n_units, stride):
    """``out[j, s]`` = slot s of unit ``first_unit + j`` (2·stride slots per unit)."""
    nb = n_units * stride
    o0 = np.empty(nb, dtype=np.uint64)
    o1 = np.empty(nb, dtype=np.uint64)
    fill_blocks_nb(key, hi, lo, np.uint64(first_unit * stride), o0, o1)
    out = np.empty((n_units, 2 * stride), dtype=np.uint64)
    for j in range(n_units):
        for b in range(stride):
            out[j, 2 * b] = o0[j * stride + b]
            out[j, 2 * b + 1] = o1[j * stride + b]
    return out


@njit(nogil=True, cache=True)
def cells_words_nb(keys, his, los, counts, stride):
    """Units of many cells at once: rows ``offsets[c] … offsets[c+1]`` are cell c's units
    0…counts[c]−1 (the concatenation of ``unit_words_nb`` per cell, in cell order)."""
    total = 0
    for c in range(counts.shape[0]):
        total += counts[c]
    out = np.empty((total, 2 * stride), dtype=np.uint64)
    row = 0
    for c in range(counts.shape[0]):
        n = counts[c]
        if n == 0:
            continue
        o0 = np.empty(n * stride, dtype=np.uint64)
        o1 = np.empty(n * stride, dtype=np.uint64)
        fill_blocks_nb(keys[c], his[c], los[c], np.uint64(0), o0, o1)
        for j in range(n):
            for b in range(stride):
                out[row + j, 2 * b] = o0[j * stride + b]
                out[row + j, 2 * b + 1] = o1[j * stride + b]
        row += n
    return out


class Family:
    """One family of a state: streams per domain key, traced into the state's ledger."""

    def __init__(self, ledger: RngLedger, family_id: str, ctx, *, scenario_id: str = ""):
        self.ledger = ledger
        self.family_id = family_id
        self.state = ledger.state
        self.prefix = StreamPrefix(
            ledger.domain_sep, family_id, ctx.mf, ctx.ph, ctx.seed, scenario_id
        )

    def stream(self, domain_key: str) -> tuple[int, int, int]:
        return self.prefix.derive(domain_key)

    def trace(self, stream, *, blocks: int, draws: int, part: int = 0) -> None:
        """Record one cell's event: ``blocks`` reserved from counter 0, ``draws`` consumed."""
        key, hi, lo = stream
        if blocks <= 0:
            self.ledger.record(
                self.family_id,
                part,
                events=1,
                draws=0,
                blocks=0,
                first=(key, hi, lo),
                last=(key, hi, lo),
            )
            return
        lh, ll = ctr_add(hi, lo, blocks - 1, self.state)  # RNG_COUNTER_WRAP before use
        self.ledger.record(
            self.family_id,
            part,
            events=1,
            draws=draws,
            blocks=blocks,
            first=(key, hi, lo),
            last=(key, lh, ll),
        )

    def units(self, domain_key: str, n_units: int, stride: int, *, trace: bool = True):
        """Words ``(n_units, 2·stride)`` of a cell whose units are all drawn (fixed-law
        families: the whole reservation counts as drawn)."""
        stream = self.stream(domain_key)
        if trace:
            self.trace(stream, blocks=n_units * stride, draws=2 * n_units * stride)
        return self.words(stream, 0, n_units, stride)

    def cells(self, domain_keys, counts, stride: int, *, draws_per_unit=None, part=0, trace=True):
        """Words ``(Σcounts, 2·stride)`` of many cells (one stream each), traced as one
        event per cell with ≥ 1 unit; ``draws_per_unit`` defaults to the reservation."""
        counts = np.asarray(counts, np.int64)
        keep = counts > 0
        keys = [k for k, m in zip(domain_keys, keep, strict=True) if m]
        if not keys:
            return np.empty((0, 2 * stride), np.uint64)
        kk, hh, ll = self.prefix.derive_many(keys)
        cnt = counts[keep]
        per = 2 * stride if draws_per_unit is None else draws_per_unit
        for i in range(len(keys) if trace else 0):
            self.trace(
                (int(kk[i]), int(hh[i]), int(ll[i])),
                blocks=int(cnt[i]) * stride,
                draws=int(cnt[i]) * per,
                part=part,
            )
        return cells_words_nb(kk, hh, ll, cnt, stride)

    def words(self, stream, first_unit: int, n_units: int, stride: int) -> np.ndarray:
        """Words of units ``first_unit …`` of one stream (no trace: the caller's cell event
        covers them)."""
        key, hi, lo = stream
        if n_units == 0:
            return np.empty((0, 2 * stride), np.uint64)
        ctr_add(hi, lo, (first_unit + n_units) * stride - 1, self.state)
        return unit_words_nb(
            np.uint64(key), np.uint64(hi), np.uint64(lo), first_unit, n_units, stride
        )


class StateRng:
    """A state's families (from its segment's family table, checked against ``rng_<SEG>``
    by the segment's S0) and the one ledger they trace into. A family whose row says
    ``scenario: false`` is keyed with scenario id "" (the same stream in every scenario)."""

    def __init__(self, ctx, state: str, families, domain_sep: str):
        short = state.split(".")[1]
        self.table = {f.family_id: f for f in families}
        self.ids = tuple(f.family_id for f in families if f.state == short)
        self.ledger = RngLedger(state, domain_sep, self.ids)
        self._ctx = ctx
        self.stride = {f.family_id: f.stride for f in families}

    @property
    def workers(self) -> int:  # threads for cell-parallel kernels (never enters the data)
        return self._ctx.workers

    def family(self, name: str) -> Family:
        segment = self.ledger.state.split(".")[0]
        fid = name if name.startswith(f"{segment}.") else f"{self.ledger.state}.{name}"
        scoped = self.table[fid].scenario
        scenario = (self._ctx.scenario_id or "") if scoped else ""
        return Family(self.ledger, fid, self._ctx, scenario_id=scenario)


@njit(nogil=True, cache=True)
def slot_words_nb(keys, his, los, stream, unit, slot, stride):
    """Slot ``slot[i]`` of unit ``unit[i]`` of stream ``stream[i]`` (L3.3 layout: word
    ``s mod 2`` of block ``unit·B + ⌊s/2⌋``), for sparse reads of wide units."""
    out = np.empty(unit.shape[0], dtype=np.uint64)
    for i in range(unit.shape[0]):
        s = stream[i]
        block = np.uint64(unit[i]) * np.uint64(stride) + np.uint64(slot[i] >> 1)
        hi, lo, _ = ctr_add_nb(his[s], los[s], block)
        x0, x1 = philox_nb(lo, hi, keys[s])
        out[i] = x0 if (slot[i] & 1) == 0 else x1
    return out
