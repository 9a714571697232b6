"""Platform-independent transcendental functions (bit-identical on every machine).

Why: IEEE-754 guarantees correctly rounded ``+ - * /`` and ``sqrt``, but *not*
``exp``/``log``/``sin``/... -- libm, numpy's SIMD loops and numba's LLVM intrinsics all
differ between platforms and versions in the last bit.  Data paths of the engine must be
byte-identical everywhere, so they use the functions here, which are built only from
IEEE basic operations, comparisons, float<->int conversion and exact bit manipulation.

Algorithms are ports of FreeBSD msun (fdlibm, Sun Microsystems): e_exp.c, e_log.c,
s_log1p.c, s_expm1.c, k_sin.c, k_cos.c and the "medium" 3-part Cody-Waite reduction of
e_rem_pio2.c.  Shared arithmetic kernels live in :mod:`._detmath_kernels`.

Each function exists twice and both give identical bits for every float64 input:

* ``nb_exp, nb_log, nb_log1p, nb_expm1, nb_sin, nb_cos, nb_cos2pi, nb_sin2pi`` --
  numba scalar functions (``njit(nogil=True, cache=True)``, no fastmath, so LLVM never
  contracts into FMA or reassociates), callable from other numba kernels;
* ``exp, log, log1p, expm1, sin, cos, cos2pi, sin2pi`` -- vectorised numpy twins taking
  array-likes and returning float64 ndarrays of the same shape.  They evaluate every
  branch on sanitised inputs and select with ``np.where``; masked lanes never leak.

Semantics: exp/log/log1p/expm1 cover the whole double domain with IEEE special cases.
sin/cos take radians and are defined for |x| <= 2**20 * pi/2 (~1.6e6); beyond that they
return nan (the exact Payne-Hanek reduction is deliberately omitted: no data path needs
such arguments).  cos2pi(u) = cos(2*pi*u), sin2pi(u) = sin(2*pi*u) take the angle in
turns, are reduced exactly in turns and are correct for every finite u.
Accuracy: < 1 ulp in practice (fdlibm's bound); the test-suite asserts <= 2 ulp vs mpmath.

Caveat: numba's on-disk cache is keyed on the defining file only, so after editing
``_detmath_kernels.py`` also touch this file (or clear ``__pycache__``); otherwise stale
machine code would break the numpy/numba bit identity (which the tests would flag).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine_core.rng import _detmath_kernels as K

__all__ = [
    "cos",
    "cos2pi",
    "exp",
    "expm1",
    "log",
    "log1p",
    "nb_cos",
    "nb_cos2pi",
    "nb_exp",
    "nb_expm1",
    "nb_log",
    "nb_log1p",
    "nb_sin",
    "nb_sin2pi",
    "sin",
    "sin2pi",
]

_INF, _NAN = K.INF, K.NAN
_exp_kernel, _log_kernel, _log1p_kernel = K.exp_kernel.nb, K.log_kernel.nb, K.log1p_kernel.nb
_expm1_kernel, _k_sin, _k_cos = K.expm1_kernel.nb, K.k_sin.nb, K.k_cos.nb
_rem_round1, _rem_round, _turns_to_rad = K.rem_round1.nb, K.rem_round.nb, K.turns_to_rad.nb


# ------------------------------------------------------------------ numba helpers


@njit(nogil=True, cache=True)
def _nb_bits(x):
    return np.float64(x).view(np.int64)


@njit(nogil=True, cache=True)
def _nb_from_bits(b):
    return np.int64(b).view(np.float64)


@njit(nogil=True, cache=True)
def _nb_pow2(k):
    """2**k for integer -1022 <= k <= 1023, built from the exponent field (exact)."""
    return _nb_from_bits((k + np.int64(1023)) << np.int64(52))


@njit(nogil=True, cache=True)
def _nb_expo(x):
    return (_nb_bits(x) >> np.int64(52)) & np.int64(0x7FF)


@njit(nogil=True, cache=True)
def _nb_round_k(x):
    """Integer nearest x/ln2, half away from zero as in fdlibm's (int)(x*invln2 +- 0.5)."""
    return int(x * K.INVLN2 + (0.5 if x > 0.0 else -0.5))


# ------------------------------------------------------------------ numba scalars


@njit(nogil=True, cache=True)
def nb_exp(x):
    """exp(x); e_exp.c."""
    if x != x:
        return x
    if x > K.O_THRESHOLD:
        return _INF
    if x < K.U_THRESHOLD:
        return 0.0
    k = _nb_round_k(x)
    y = _exp_kernel(x, float(k))
    if k < -1021:  # subnormal result: scale in two steps so there is one rounding only
        return y * _nb_pow2(k + 1000) * K.TWOM1000
    if k == 1024:
        return y * K.TWO1023 * 2.0
    return y * _nb_pow2(k)


@njit(nogil=True, cache=True)
def nb_log(x):
    """log(x); e_log.c."""
    if x != x:
        return x
    if x <= 0.0:
        return -_INF if x == 0.0 else _NAN
    if x == _INF:
        return x
    k = np.int64(0)
    if x < K.DBL_MIN:  # subnormal: scale up exactly
        x = x * K.TWO54
        k = np.int64(-54)
    bits = _nb_bits(x)
    hx = bits >> np.int64(32)
    k += (hx >> np.int64(20)) - np.int64(1023)
    hx &= np.int64(0xFFFFF)
    # normalise the mantissa into [sqrt(2)/2, sqrt(2)) by choosing exponent 0 or -1
    i = (hx + np.int64(0x95F64)) & np.int64(0x100000)
    bits = ((hx | (i ^ np.int64(0x3FF00000))) << np.int64(32)) | (bits & K.LOW32)
    k += i >> np.int64(20)
    a, b = _log_kernel(_nb_from_bits(bits) - 1.0, float(k))
    if ((hx - np.int64(0x6147A)) | (np.int64(0x6B851) - hx)) > 0:
        return a
    return b


@njit(nogil=True, cache=True)
def nb_log1p(x):
    """log(1 + x); s_log1p.c."""
    if x != x:
        return x
    if x <= -1.0:
        return -_INF if x == -1.0 else _NAN
    if x == _INF:
        return x
    ax = abs(x)
    if ax < K.TWO_M54:
        return x
    if ax < K.TWO_M29:
        return x - x * x * 0.5
    hx = _nb_bits(x) >> np.int64(32)
    if hx < np.int64(0x3FDA827A) and (hx > 0 or hx <= K.HX_LOG1P_NEG):
        return _log1p_kernel(x, 0.0, 0.0)  # sqrt(2)/2 <= 1+x < sqrt(2): f = x exactly
    if hx < np.int64(0x43400000):
        u = 1.0 + x
        k = (_nb_bits(u) >> np.int64(52)) - np.int64(1023)
        c = (1.0 - (u - x)) if k > 0 else (x - (u - 1.0))  # rounding error of 1 + x
        c = c / u
    else:  # x >= 2**53: 1 + x == x
        u = x
        k = (_nb_bits(u) >> np.int64(52)) - np.int64(1023)
        c = 0.0
    ub = _nb_bits(u)
    hu = (ub >> np.int64(32)) & np.int64(0xFFFFF)
    ub &= K.LOW32
    if hu < np.int64(0x6A09E):
        ub |= (hu | np.int64(0x3FF00000)) << np.int64(32)
    else:
        k += 1
        ub |= (hu | np.int64(0x3FE00000)) << np.int64(32)
    return _log1p_kernel(_nb_from_bits(ub) - 1.0, float(k), c)


@njit(nogil=True, cache=True)
def nb_expm1(x):
    """exp(x) - 1; s_expm1.c."""
    if x != x:
        return x
    if x > K.O_THRESHOLD:
        return _INF
    if x <= -K.EXPM1_SAT:
        return -1.0
    ax = abs(x)
    if ax < K.TWO_M54:
        return x
    k = _nb_round_k(x) if ax >= K.EXPM1_RED else 0
    r, e, res0 = _expm1_kernel(x, float(k))
    if k == 0:
        return res0
    if k == -1:
        return 0.5 * (r - e) - 0.5
    if k == 1:
        if r < -0.25:
            return -2.0 * (e - (r + 0.5))
        return 1.0 + 2.0 * (r - e)
    if k <= -2 or k > 56:
        y = 1.0 - (e - r)
        if k == 1024:
            y = y * K.TWO1023 * 2.0
        else:
            y = y * _nb_pow2(k)
        return y - 1.0
    if k < 20:
        return ((1.0 - _nb_pow2(-k)) - (e - r)) * _nb_pow2(k)
    return ((r - (e + _nb_pow2(-k))) + 1.0) * _nb_pow2(k)


@njit(nogil=True, cache=True)
def _nb_rem_pio2(x):
    """(n, y0, y1) with x = n*pi/2 + y0 + y1, |x| <= SINCOS_MAX (e_rem_pio2.c medium)."""
    fn = (x * K.INVPIO2 + K.TOINT) - K.TOINT
    j = _nb_expo(x)
    r, w, y0 = _rem_round1(x, fn)
    if j - _nb_expo(y0) > 16:  # cancellation: take 33 more bits of pi/2
        r, w, y0 = _rem_round(r, fn, K.PIO2_2, K.PIO2_2T)
        if j - _nb_expo(y0) > 49:
            r, w, y0 = _rem_round(r, fn, K.PIO2_3, K.PIO2_3T)
    return int(fn), y0, (r - y0) - w


@njit(nogil=True, cache=True)
def _nb_quadrant(q, y0, y1):
    """sin of n*pi/2 + (y0 + y1) given q = n mod 4 (cos uses q + 1)."""
    q &= 3
    if q == 0:
        return _k_sin(y0, y1)
    if q == 1:
        return _k_cos(y0, y1)
    if q == 2:
        return -_k_sin(y0, y1)
    return -_k_cos(y0, y1)


@njit(nogil=True, cache=True)
def nb_sin(x):
    """sin(x), x in radians, |x| <= 2**20*pi/2 (nan beyond)."""
    ax = abs(x)
    if not ax <= K.SINCOS_MAX:
        return _NAN
    if ax < K.TWO_M26:
        return x
    n, y0, y1 = _nb_rem_pio2(x)
    return _nb_quadrant(n, y0, y1)


@njit(nogil=True, cache=True)
def nb_cos(x):
    """cos(x), x in radians, |x| <= 2**20*pi/2 (nan beyond)."""
    if not abs(x) <= K.SINCOS_MAX:
        return _NAN
    n, y0, y1 = _nb_rem_pio2(x)
    return _nb_quadrant(n + 1, y0, y1)


@njit(nogil=True, cache=True)
def _nb_turns(u):
    """(m, x, y): 2*pi*u = m*pi/2 + x + y (mod 2*pi), |x| <= pi/4, reduced exactly in turns."""
    if abs(u) >= K.TWO52:  # u is an integer: a whole number of turns
        u = 0.0
    c = K.TWO52 if u >= 0.0 else -K.TWO52
    r = u - ((u + c) - c)  # u - rint(u): exact, |r| <= 1/2
    v = 4.0 * r  # exact, |v| <= 2
    m = (v + K.TOINT) - K.TOINT
    x, y = _turns_to_rad(v - m)  # v - m exact, |v - m| <= 1/2
    return int(m), x, y


@njit(nogil=True, cache=True)
def nb_cos2pi(u):
    """cos(2*pi*u), u in turns; any finite u."""
    if not abs(u) < _INF:
        return _NAN
    m, x, y = _nb_turns(u)
    return _nb_quadrant(m + 1, x, y)


@njit(nogil=True, cache=True)
def nb_sin2pi(u):
    """sin(2*pi*u), u in turns; any finite u (keeps the sign of a zero u)."""
    if not abs(u) < _INF:
        return _NAN
    if u == 0.0:
        return u
    m, x, y = _nb_turns(u)
    return _nb_quadrant(m, x, y)


# ------------------------------------------------------------------ numpy twins
# Each twin runs the same kernels on whole arrays.  Lanes that a scalar version would
# leave early (nan, inf, out of range) are replaced by a harmless value first so that
# float->int conversions stay defined, then overwritten with np.where at the end.


def _prep(a):
    x = np.asarray(a, dtype=np.float64)
    return np.ascontiguousarray(x.reshape(-1)), x.shape


def _bits(x):
    return np.ascontiguousarray(x, dtype=np.float64).view(np.int64)


def _from_bits(b):
    return np.ascontiguousarray(b, dtype=np.int64).view(np.float64)


def _pow2(k):
    return _from_bits((k + 1023) << 52)


def _round_k(x):
    return (x * K.INVLN2 + np.where(x > 0.0, 0.5, -0.5)).astype(np.int64)


def exp(a):
    """Vectorised twin of :func:`nb_exp`."""
    x, shape = _prep(a)
    with np.errstate(all="ignore"):
        ok = (x >= K.U_THRESHOLD) & (x <= K.O_THRESHOLD)
        xs = np.where(ok, x, 0.0)
        k = _round_k(xs)
        y = K.exp_kernel(xs, k.astype(np.float64))
        tiny = k < -1021
        kk = np.where(tiny, k + 1000, np.where(k == 1024, 0, k))
        out = np.where(tiny, y * _pow2(kk) * K.TWOM1000, y * _pow2(kk))
        out = np.where(k == 1024, y * K.TWO1023 * 2.0, out)
        out = np.where(x > K.O_THRESHOLD, _INF, np.where(x < K.U_THRESHOLD, 0.0, out))
        out = np.where(x != x, x, out)
    return out.reshape(shape)


def log(a):
    """Vectorised twin of :func:`nb_log`."""
    x, shape = _prep(a)
    with np.errstate(all="ignore"):
        xs = np.where((x > 0.0) & (x < _INF), x, 1.0)
        sub = xs < K.DBL_MIN
        xs = np.where(sub, xs * K.TWO54, xs)
        bits = _bits(xs)
        hx = bits >> 32
        k = np.where(sub, -54, 0).astype(np.int64) + ((hx >> 20) - 1023)
        hx = hx & 0xFFFFF
        i = (hx + 0x95F64) & 0x100000
        bits = ((hx | (i ^ 0x3FF00000)) << 32) | (bits & 0xFFFFFFFF)
        k = k + (i >> 20)
        a_, b_ = K.log_kernel(_from_bits(bits) - 1.0, k.astype(np.float64))
        out = np.where(((hx - 0x6147A) | (0x6B851 - hx)) > 0, a_, b_)
        out = np.where(x == 0.0, -_INF, np.where(x < 0.0, _NAN, out))
        out = np.where(x == _INF, x, out)
        out = np.where(x != x, x, out)
    return out.reshape(shape)


def log1p(a):
    """Vectorised twin of :func:`nb_log1p`."""
    x, shape = _prep(a)
    with np.errstate(all="ignore"):
        xs = np.where((x > -1.0) & (x < _INF), x, 0.5)
        hx = _bits(xs) >> 32
        central = (hx < 0x3FDA827A) & ((hx > 0) | (hx <= int(K.HX_LOG1P_NEG)))
        big = hx >= 0x43400000
        u = np.where(big, xs, 1.0 + xs)
        k = (_bits(u) >> 52) - 1023
        c = np.where(k > 0, 1.0 - (u - xs), xs - (u - 1.0))
        c = np.where(big, 0.0, c / u)
        ub = _bits(u)
        hu = (ub >> 32) & 0xFFFFF
        low = hu < 0x6A09E
        k = np.where(low, k, k + 1)
        ub = (ub & 0xFFFFFFFF) | (np.where(low, hu | 0x3FF00000, hu | 0x3FE00000) << 32)
        f = np.where(central, xs, _from_bits(ub) - 1.0)
        dk = np.where(central, 0.0, k.astype(np.float64))
        out = K.log1p_kernel(f, dk, np.where(central, 0.0, c))
        ax = np.abs(x)
        out = np.where(ax < K.TWO_M29, x - x * x * 0.5, out)
        out = np.where(ax < K.TWO_M54, x, out)
        out = np.where(x == -1.0, -_INF, np.where(x < -1.0, _NAN, out))
        out = np.where(x == _INF, x, out)
        out = np.where(x != x, x, out)
    return out.reshape(shape)


def expm1(a):
    """Vectorised twin of :func:`nb_expm1`."""
    x, shape = _prep(a)
    with np.errstate(all="ignore"):
        xs = np.where((x > -K.EXPM1_SAT) & (x <= K.O_THRESHOLD), x, 0.0)
        k = np.where(np.abs(xs) >= K.EXPM1_RED, _round_k(xs), 0)
        r, e, res0 = K.expm1_kernel(xs, k.astype(np.float64))
        twopk, twomk = _pow2(k), _pow2(-k)
        y = 1.0 - (e - r)
        big = np.where(k == 1024, y * K.TWO1023 * 2.0, y * twopk) - 1.0
        mid = ((1.0 - twomk) - (e - r)) * twopk
        high = ((r - (e + twomk)) + 1.0) * twopk
        k1 = np.where(r < -0.25, -2.0 * (e - (r + 0.5)), 1.0 + 2.0 * (r - e))
        km1 = 0.5 * (r - e) - 0.5
        out = np.select(
            [k == 0, k == -1, k == 1, (k <= -2) | (k > 56), k < 20],
            [res0, km1, k1, big, mid],
            high,
        )
        out = np.where(np.abs(x) < K.TWO_M54, x, out)
        out = np.where(x > K.O_THRESHOLD, _INF, np.where(x <= -K.EXPM1_SAT, -1.0, out))
        out = np.where(x != x, x, out)
    return out.reshape(shape)


def _expo(x):
    return (_bits(x) >> 52) & 0x7FF


def _rem_pio2(x):
    """Vectorised :func:`_nb_rem_pio2`: all three rounds computed, the needed one kept."""
    fn = (x * K.INVPIO2 + K.TOINT) - K.TOINT
    j = _expo(x)
    r1, w1, y01 = K.rem_round1(x, fn)
    r2, w2, y02 = K.rem_round(r1, fn, K.PIO2_2, K.PIO2_2T)
    r3, w3, y03 = K.rem_round(r2, fn, K.PIO2_3, K.PIO2_3T)
    use2 = (j - _expo(y01)) > 16
    use3 = use2 & ((j - _expo(y02)) > 49)
    r = np.where(use3, r3, np.where(use2, r2, r1))
    w = np.where(use3, w3, np.where(use2, w2, w1))
    y0 = np.where(use3, y03, np.where(use2, y02, y01))
    return fn.astype(np.int64), y0, (r - y0) - w


def _quadrant(q, y0, y1):
    """Vectorised :func:`_nb_quadrant`."""
    q = q & 3
    ks, kc = K.k_sin(y0, y1), K.k_cos(y0, y1)
    return np.select([q == 0, q == 1, q == 2], [ks, kc, -ks], -kc)


def sin(a):
    """Vectorised twin of :func:`nb_sin`."""
    x, shape = _prep(a)
    with np.errstate(all="ignore"):
        ok = np.abs(x) <= K.SINCOS_MAX
        n, y0, y1 = _rem_pio2(np.where(ok, x, 0.0))
        out = np.where(np.abs(x) < K.TWO_M26, x, _quadrant(n, y0, y1))
        out = np.where(ok, out, _NAN)
    return out.reshape(shape)


def cos(a):
    """Vectorised twin of :func:`nb_cos`."""
    x, shape = _prep(a)
    with np.errstate(all="ignore"):
        ok = np.abs(x) <= K.SINCOS_MAX
        n, y0, y1 = _rem_pio2(np.where(ok, x, 0.0))
        out = np.where(ok, _quadrant(n + 1, y0, y1), _NAN)
    return out.reshape(shape)


def _turns(u):
    """Vectorised :func:`_nb_turns` (non-finite lanes already replaced by the caller)."""
    u = np.where(np.abs(u) >= K.TWO52, 0.0, u)
    c = np.where(u >= 0.0, K.TWO52, -K.TWO52)
    r = u - ((u + c) - c)
    v = 4.0 * r
    m = (v + K.TOINT) - K.TOINT
    x, y = K.turns_to_rad(v - m)
    return m.astype(np.int64), x, y


def cos2pi(a):
    """Vectorised twin of :func:`nb_cos2pi`."""
    u, shape = _prep(a)
    with np.errstate(all="ignore"):
        ok = np.abs(u) < _INF
        m, x, y = _turns(np.where(ok, u, 0.0))
        out = np.where(ok, _quadrant(m + 1, x, y), _NAN)
    return out.reshape(shape)


def sin2pi(a):
    """Vectorised twin of :func:`nb_sin2pi`."""
    u, shape = _prep(a)
    with np.errstate(all="ignore"):
        ok = np.abs(u) < _INF
        m, x, y = _turns(np.where(ok, u, 0.0))
        out = np.where(u == 0.0, u, _quadrant(m, x, y))
        out = np.where(ok, out, _NAN)
    return out.reshape(shape)
