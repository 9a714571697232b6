"""Philox2x64-10 (Random123), vectorised numpy and numba — bit-identical (ARCHITECTURE §4).

Word order follows Random123: counter word ``v[0]`` (= ``ctr_lo`` of a stream) is the word
multiplied in each round, ``v[1]`` (= ``ctr_hi``). A block yields ``(out0, out1)``.
The 64×64→128 product is computed from 32-bit halves so both twins use only uint64
arithmetic (numba has no 128-bit integer type).
"""

from __future__ import annotations

import numpy as np
from numba import njit

PHILOX_M = 0xD2B74407B1CE6E93
PHILOX_W = 0x9E3779B97F4A7C15
ROUNDS = 10
_M32 = 0xFFFFFFFF
_MASK64 = (1 << 64) - 1
_CHUNK = 1 << 14


def _as_u64(a) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype != np.uint64:
        if arr.dtype.kind in "iu":
            if arr.size and (arr < 0).any():
                raise ValueError("Philox words must be non-negative")
            arr = arr.astype(np.uint64)
        elif arr.dtype == object:  # Python ints above 2^63
            arr = np.array([int(v) & _MASK64 for v in arr.ravel()], dtype=np.uint64).reshape(
                arr.shape
            )
        else:
            raise TypeError(f"Philox words must be integers, got {arr.dtype}")
    return arr


def _mulhilo_np(b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m32 = np.uint64(_M32)
    s32 = np.uint64(32)
    a_lo = np.uint64(PHILOX_M & _M32)
    a_hi = np.uint64(PHILOX_M >> 32)
    b_lo = b & m32
    b_hi = b >> s32
    p_ll = a_lo * b_lo
    p_lh = a_lo * b_hi
    p_hl = a_hi * b_lo
    p_hh = a_hi * b_hi
    mid = (p_ll >> s32) + (p_lh & m32) + (p_hl & m32)
    hi = p_hh + (p_lh >> s32) + (p_hl >> s32) + (mid >> s32)
    lo = (mid << s32) | (p_ll & m32)
    return hi, lo


def philox2x64_10(ctr0, ctr1, key) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised Philox2x64-10: arrays (broadcast) of uint64 → ``(out0, out1)``."""
    c0, c1, kk = np.broadcast_arrays(_as_u64(ctr0), _as_u64(ctr1), _as_u64(key))
    shape = c0.shape
    c0, c1, kk = (np.ascontiguousarray(a).reshape(-1) for a in (c0, c1, kk))
    out0 = np.empty(c0.shape[0], dtype=np.uint64)
    out1 = np.empty(c0.shape[0], dtype=np.uint64)
    w = np.uint64(PHILOX_W)
    # cache-sized chunks: ~20 temporaries per round stay in L2 instead of streaming RAM
    for s in range(0, c0.shape[0], _CHUNK):
        v0, v1, k = c0[s : s + _CHUNK], c1[s : s + _CHUNK], kk[s : s + _CHUNK].copy()
        for r in range(ROUNDS):
            if r:
                k += w
            hi, lo = _mulhilo_np(v0)
            v0 = hi ^ k ^ v1
            v1 = lo
        out0[s : s + _CHUNK] = v0
        out1[s : s + _CHUNK] = v1
    return out0.reshape(shape), out1.reshape(shape)


@njit(nogil=True, cache=True, inline="always")
def _mulhilo_nb(b):
    m32 = np.uint64(0xFFFFFFFF)
    s32 = np.uint64(32)
    a_lo = np.uint64(0xB1CE6E93)
    a_hi = np.uint64(0xD2B74407)
    b_lo = b & m32
    b_hi = b >> s32
    p_ll = a_lo * b_lo
    p_lh = a_lo * b_hi
    p_hl = a_hi * b_lo
    p_hh = a_hi * b_hi
    mid = (p_ll >> s32) + (p_lh & m32) + (p_hl & m32)
    hi = p_hh + (p_lh >> s32) + (p_hl >> s32) + (mid >> s32)
    lo = (mid << s32) | (p_ll & m32)
    return hi, lo


@njit(nogil=True, cache=True, inline="always")
def philox_nb(ctr0, ctr1, key):
    """Scalar numba Philox2x64-10 on uint64 words; returns ``(out0, out1)``."""
    w = np.uint64(0x9E3779B97F4A7C15)
    v0 = np.uint64(ctr0)
    v1 = np.uint64(ctr1)
    k = np.uint64(key)
    for r in range(10):
        if r > 0:
            k = k + w
        hi, lo = _mulhilo_nb(v0)
        v0 = hi ^ k ^ v1
        v1 = lo
    return v0, v1


@njit(nogil=True, cache=True, inline="always")
def ctr_add_nb(ctr_hi, ctr_lo, i):
    """128-bit ``(ctr_hi, ctr_lo) + i``; returns ``(hi, lo, wrapped)``."""
    lo = ctr_lo + i
    carry = np.uint64(1) if lo < ctr_lo else np.uint64(0)
    hi = ctr_hi + carry
    wrapped = carry == 1 and hi == 0
    return hi, lo, wrapped


@njit(nogil=True, cache=True)
def philox_array_nb(ctr0, ctr1, key):
    """Numba twin of :func:`philox2x64_10` over equal-length uint64 arrays."""
    n = ctr0.shape[0]
    out0 = np.empty(n, dtype=np.uint64)
    out1 = np.empty(n, dtype=np.uint64)
    for i in range(n):
        out0[i], out1[i] = philox_nb(ctr0[i], ctr1[i], key[i])
    return out0, out1


@njit(nogil=True, cache=True, error_model="numpy")
def _blocks_nocarry_nb(key, ctr_hi, lo0, out0, out1):
    # Counters lo0 + b never carry inside this range, so the loop is branch-free and
    # LLVM vectorises it (the split multiply maps to vpmuludq).
    w = np.uint64(0x9E3779B97F4A7C15)
    for b in range(out0.shape[0]):
        v0 = lo0 + np.uint64(b)
        v1 = ctr_hi
        k = key
        for _ in range(10):
            hi, lo = _mulhilo_nb(v0)
            v0 = hi ^ k ^ v1
            v1 = lo
            k = k + w
        out0[b] = v0
        out1[b] = v1


@njit(nogil=True, cache=True)
def fill_blocks_nb(key, ctr_hi, ctr_lo, first_block, out0, out1):
    """Blocks ``first_block … first_block + n − 1`` of one stream into ``out0``/``out1``.
    The caller has checked the 128-bit range for wrap; a carry of the low word inside the
    range is handled by splitting the range there."""
    n = out0.shape[0]
    if n == 0:
        return
    hi0, lo0, _ = ctr_add_nb(ctr_hi, ctr_lo, first_block)
    room = np.uint64(0xFFFFFFFFFFFFFFFF) - lo0  # blocks before the low word carries
    if np.uint64(n - 1) <= room:
        _blocks_nocarry_nb(key, hi0, lo0, out0, out1)
    else:
        m = np.int64(room) + 1
        _blocks_nocarry_nb(key, hi0, lo0, out0[:m], out1[:m])
        _blocks_nocarry_nb(key, hi0 + np.uint64(1), np.uint64(0), out0[m:], out1[m:])


def fill_words(key: int, ctr_hi: int, ctr_lo: int, first_block: int, n: int) -> np.ndarray:
    """``n`` words of one stream from block ``first_block``: word j = word (j mod 2) of
    block first_block + ⌊j/2⌋ (layer1 §0.4)."""
    nb = (n + 1) // 2
    out = np.empty((nb, 2), dtype=np.uint64)
    # column views are strided; the kernel writes contiguous buffers then we interleave
    o0 = np.empty(nb, dtype=np.uint64)
    o1 = np.empty(nb, dtype=np.uint64)
    fill_blocks_nb(
        np.uint64(key), np.uint64(ctr_hi), np.uint64(ctr_lo), np.uint64(first_block), o0, o1
    )
    out[:, 0] = o0
    out[:, 1] = o1
    return out.reshape(-1)[:n]
