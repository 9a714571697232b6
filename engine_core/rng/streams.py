"""Stream derivation and block accounting (ARCHITECTURE §4).

msg = UER(domain_sep) ‖ UER(family_id) ‖ UER(mf) ‖ UER(ph) ‖ LE64(seed) ‖ UER(scenario_id)
      ‖ UER(domain_key);  h = SHA256(msg);
key = BE64(h[0:8]), ctr_hi = BE64(h[8:16]), ctr_lo = BE64(h[16:24]).
Block i of a stream uses counter (ctr_hi, ctr_lo) + i; a stream that would wrap 2^128
aborts with RNG_COUNTER_WRAP.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from engine_core.errors import EngineError
from engine_core.identity import le64, uer
from engine_core.rng.philox import ctr_add_nb, fill_words, philox_nb

_U64 = (1 << 64) - 1
_U128 = 1 << 128


class StreamPrefix:
    """The constant part of a family's message, hashed once; copied per domain key."""

    def __init__(
        self, domain_sep: str, family_id: str, mf: str, ph: str, seed: int, scenario_id: str = ""
    ) -> None:
        if not 0 <= int(seed) <= _U64:
            raise EngineError("USAGE", detail=f"seed {seed} is not a uint64")
        self.family_id = family_id
        h = hashlib.sha256()
        for part in (domain_sep, family_id, mf, ph):
            h.update(uer(part))
        h.update(le64(int(seed)))
        h.update(uer(scenario_id))
        self._h = h

    def derive(self, domain_key: str) -> tuple[int, int, int]:
        h = self._h.copy()
        h.update(uer(domain_key))
        d = h.digest()
        return (
            int.from_bytes(d[0:8], "big"),
            int.from_bytes(d[8:16], "big"),
            int.from_bytes(d[16:24], "big"),
        )

    def derive_many(self, domain_keys) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Vectors ``(key, ctr_hi, ctr_lo)`` for many keys. One hasher copy per key is
        the only per-key Python loop the law allows (layer1 §0.4)."""
        n = len(domain_keys)
        buf = bytearray(24 * n)
        for i, k in enumerate(domain_keys):
            h = self._h.copy()
            h.update(uer(k))
            buf[24 * i : 24 * i + 24] = h.digest()[:24]
        words = np.frombuffer(bytes(buf), dtype=">u8").reshape(n, 3).astype(np.uint64)
        return words[:, 0].copy(), words[:, 1].copy(), words[:, 2].copy()


def derive_stream(
    domain_sep: str,
    family_id: str,
    mf: str,
    ph: str,
    seed: int,
    scenario_id: str,
    domain_key: str,
) -> tuple[int, int, int]:
    """Public §10 interface: ``(key, ctr_hi, ctr_lo)`` as Python ints."""
    return StreamPrefix(domain_sep, family_id, mf, ph, seed, scenario_id).derive(domain_key)


def ctr_add(ctr_hi: int, ctr_lo: int, n: int, state: str = "ENGINE") -> tuple[int, int]:
    """128-bit counter + n; raises RNG_COUNTER_WRAP past 2^128 − 1."""
    c = (ctr_hi << 64) + ctr_lo + n
    if c >= _U128 or c < 0:
        raise EngineError(
            "RNG_COUNTER_WRAP", state, f"counter {ctr_hi:#x}:{ctr_lo:#x} + {n} wraps 2^128"
        )
    return c >> 64, c & _U64


@dataclass
class Stream:
    """A sequential consumer of one stream's blocks, with its accounting.

    ``words(n)`` consumes ⌈n/2⌉ fresh blocks (an event never shares a block with the next),
    and records draws = n, blocks = ⌈n/2⌉ for the RNG trace.
    """

    key: int
    ctr_hi: int
    ctr_lo: int
    state: str = "ENGINE"
    blocks_used: int = 0
    draws_used: int = 0
    events: int = 0
    first_counter: tuple[int, int] | None = field(default=None)
    last_counter: tuple[int, int] | None = field(default=None)

    def words(self, n: int) -> np.ndarray:
        nblocks = (n + 1) // 2
        if n == 0:
            return np.empty(0, dtype=np.uint64)
        # check the last counter this call touches before producing anything
        last = ctr_add(self.ctr_hi, self.ctr_lo, self.blocks_used + nblocks - 1, self.state)
        first = ctr_add(self.ctr_hi, self.ctr_lo, self.blocks_used, self.state)
        out = fill_words(self.key, self.ctr_hi, self.ctr_lo, self.blocks_used, n)
        if self.first_counter is None:
            self.first_counter = first
        self.last_counter = last
        self.blocks_used += nblocks
        self.draws_used += n
        self.events += 1
        return out

    def uniforms(self, n: int) -> np.ndarray:
        from engine_core.rng.uniform import uniform01

        return uniform01(self.words(n))


@njit(nogil=True, cache=True)
def _row_words_nb(key, hi, lo, n_words, out):
    nb = (n_words + 1) // 2
    for i in range(key.shape[0]):
        for b in range(nb):
            h, l_, _ = ctr_add_nb(hi[i], lo[i], np.uint64(b))
            o0, o1 = philox_nb(l_, h, key[i])
            out[i, 2 * b] = o0
            if 2 * b + 1 < n_words:
                out[i, 2 * b + 1] = o1


def row_words(
    key: np.ndarray, hi: np.ndarray, lo: np.ndarray, n_words: int, state: str = "ENGINE"
) -> np.ndarray:
    """The first ``n_words`` words of one stream per row: ``out[i, j]`` = word j of row i's
    stream (word j mod 2 of block ⌊j/2⌋). Raises RNG_COUNTER_WRAP if any stream would wrap."""
    nb = (n_words + 1) // 2
    top = np.uint64(_U64)
    if nb and np.any((hi == top) & (lo > top - np.uint64(nb - 1))):
        raise EngineError("RNG_COUNTER_WRAP", state, f"a stream cannot hold {nb} blocks")
    out = np.empty((key.shape[0], n_words), dtype=np.uint64)
    _row_words_nb(key, hi, lo, n_words, out)
    return out
