"""Per-party RNG units of 6B.S1 (layer3 §4.2: trips, p2p, credit): cells
``{country}|{party_type}``, unit = the party's rank in its cell in ``party_id`` order.
Units are wide (25–193 blocks) and mostly unused, so slots are computed on demand
(``slot_words_nb``) instead of materialising every unit."""

from __future__ import annotations

import numpy as np

from engine_core.kernels.sorting import lex_order
from engine_core.rng.units import slot_words_nb

PARTY_TYPES = ("RETAIL", "BUSINESS")


class PartyUnits:
    def __init__(self, fam, parties: dict, countries, stride: int):
        self.fam, self.stride = fam, stride
        country, ptype = parties["country"], parties["ptype"]
        n = country.size
        order = lex_order(country, ptype)
        cell = country[order] * 2 + ptype[order]
        starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]]) if n else np.zeros(0, int)
        self.counts = np.diff(np.r_[starts, n]).astype(np.int64)
        self.keys = [f"{countries[c // 2]}|{PARTY_TYPES[c % 2]}" for c in cell[starts].tolist()]
        self.streams = (
            fam.prefix.derive_many(self.keys) if self.keys else (np.zeros(0, np.uint64),) * 3
        )
        self.stream = np.empty(n, np.int64)
        self.unit = np.empty(n, np.int64)
        self.stream[order] = np.repeat(np.arange(self.counts.size), self.counts)
        self.unit[order] = np.arange(n) - np.repeat(starts, self.counts)

    def words(self, rows, slots) -> np.ndarray:
        """Slot ``slots[i]`` of party ``rows[i]``'s unit (uint64 words)."""
        rows = np.asarray(rows, np.int64)
        slots = np.broadcast_to(np.asarray(slots, np.int64), rows.shape)
        k, h, lo = self.streams
        return slot_words_nb(
            k, h, lo, self.stream[rows], self.unit[rows], np.ascontiguousarray(slots), self.stride
        )

    def trace(self, draws_per_party: np.ndarray) -> None:
        """One event per cell: its whole reservation, the draws its parties consumed."""
        k, h, lo = self.streams
        drawn = np.bincount(self.stream, weights=draws_per_party, minlength=self.counts.size)
        for i in range(self.counts.size):
            self.fam.trace(
                (int(k[i]), int(h[i]), int(lo[i])),
                blocks=int(self.counts[i]) * self.stride,
                draws=int(drawn[i]),
            )
