"""The one uniform map (ARCHITECTURE §4): u = ((x >> 12) + 0.5) · 2^-52.

52 random bits; every value is an exact multiple of 2^-53 strictly inside (0, 1)
(min 2^-53, max 1 − 2^-53), so no sampler ever needs to clamp.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_TWO_M52 = 2.0**-52


def uniform01(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.uint64)
    return ((x >> np.uint64(12)).astype(np.float64) + 0.5) * _TWO_M52


@njit(nogil=True, cache=True, inline="always")
def uniform01_nb(x):
    return (np.float64(x >> np.uint64(12)) + 0.5) * 2.220446049250313e-16


@njit(nogil=True, cache=True, inline="always")
def scale53_nb(x, n):
    """Exact ``(j, f)`` with ``j = floor(U(x)·n)`` and ``f`` its fraction in units of 2^-53
    (layer2 §1.7). Requires ``n < 2^32``; only uint64 arithmetic (numba has no 128-bit)."""
    m = (x >> np.uint64(12)) * np.uint64(2) + np.uint64(1)  # U(x) = m / 2^53
    nn = np.uint64(n)
    m1 = m >> np.uint64(21)
    m0 = m & np.uint64(0x1FFFFF)
    s = m1 * nn + ((m0 * nn) >> np.uint64(21))
    j = s >> np.uint64(32)
    f = ((s & np.uint64(0xFFFFFFFF)) << np.uint64(21)) + ((m0 * nn) & np.uint64(0x1FFFFF))
    return j, f


def scale53(x, n) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised numpy twin of :func:`scale53_nb` (``n`` scalar or array, each < 2^32)."""
    x = np.asarray(x, dtype=np.uint64)
    nn = np.asarray(n, dtype=np.uint64)
    if nn.size and int(nn.max()) >= 1 << 32:
        raise ValueError("scale53 requires n < 2^32")
    m = (x >> np.uint64(12)) * np.uint64(2) + np.uint64(1)
    m1 = m >> np.uint64(21)
    m0 = m & np.uint64(0x1FFFFF)
    s = m1 * nn + ((m0 * nn) >> np.uint64(21))
    j = s >> np.uint64(32)
    f = ((s & np.uint64(0xFFFFFFFF)) << np.uint64(21)) + ((m0 * nn) & np.uint64(0x1FFFFF))
    return j, f
