"""Constants and branch-free arithmetic kernels shared by :mod:`engine_core.rng.detmath`.

Every kernel here is a plain Python function that uses only ``+ - * /`` on its
arguments, so the *same source* runs on numpy float64 arrays (the vectorised twins)
and, compiled with numba, on scalars (the ``nb_*`` functions).  Sharing the source is
what guarantees the two evaluate in exactly the same operation order and therefore
produce identical bits; only the branch selection (``if`` vs ``np.where``) and the
integer/bit handling differ between the two front ends in ``detmath.py``.

All polynomial coefficients and split constants are the FreeBSD msun / fdlibm ones
(Sun Microsystems, freely redistributable), given here by their exact IEEE-754 bit
patterns, as quoted in the fdlibm sources, so no decimal-to-binary conversion is involved.
"""

from __future__ import annotations

import struct

import numpy as np
from numba import njit


def _f(bits: int) -> float:
    """The double whose IEEE-754 bit pattern is ``bits`` (exact by construction)."""
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


INF = float("inf")
NAN = float("nan")
TWO54 = _f(0x4350000000000000)  # 2**54: lifts subnormals to the normal range (e_log.c)
TWO52 = _f(0x4330000000000000)  # 2**52: u + 2**52 - 2**52 == rint(u) for 0 <= u < 2**52
TOINT = _f(0x4338000000000000)  # 1.5 * 2**52: rint trick for |v| < 2**51 (e_rem_pio2.c)
TWO1023 = _f(0x7FE0000000000000)
TWOM1000 = _f(0x0170000000000000)  # 2**-1000 (e_exp.c)
DBL_MIN = _f(0x0010000000000000)  # smallest normal double, 2**-1022
TWO_M26 = _f(0x3E50000000000000)
TWO_M29 = _f(0x3E20000000000000)
TWO_M54 = _f(0x3C90000000000000)

# Integer masks used by the numba front ends; wrapped so numba keeps them int64.
LOW32 = np.int64(0xFFFFFFFF)
HX_LOG1P_NEG = np.int64(0xBFD2BEC4 - (1 << 32))  # (int32_t)0xbfd2bec4 in s_log1p.c

# --- exp / expm1 (e_exp.c, s_expm1.c) -----------------------------------------------
O_THRESHOLD = _f(0x40862E42FEFA39EF)  # 709.78...: exp(x) overflows above
U_THRESHOLD = _f(0xC0874910D52D3051)  # -745.13...: exp(x) rounds to 0 below
LN2_HI = _f(0x3FE62E42FEE00000)  # ln2 high part; k*LN2_HI exact for |k| < 2**11
LN2_LO = _f(0x3DEA39EF35793C76)
INVLN2 = _f(0x3FF71547652B82FE)
P1 = _f(0x3FC555555555553E)
P2 = _f(0xBF66C16C16BEBD93)
P3 = _f(0x3F11566AAF25DE2C)
P4 = _f(0xBEBBBD41C5D26BF1)
P5 = _f(0x3E66376972BEA4D0)
EXPM1_SAT = _f(0x4043687A00000000)  # ~56*ln2: expm1(x) == -1.0 for x <= -EXPM1_SAT
EXPM1_RED = _f(0x3FD62E4300000000)  # ~0.5*ln2: no argument reduction below this |x|
Q1 = _f(0xBFA11111111110F4)
Q2 = _f(0x3F5A01A019FE5585)
Q3 = _f(0xBF14CE199EAADBB7)
Q4 = _f(0x3ED0CFCA86E65239)
Q5 = _f(0xBE8AFDB76E09C32D)

# --- log / log1p (e_log.c, s_log1p.c; Lp_i == Lg_i) ----------------------------------
LG1 = _f(0x3FE5555555555593)
LG2 = _f(0x3FD999999997FA04)
LG3 = _f(0x3FD2492494229359)
LG4 = _f(0x3FCC71C51D8E78AF)
LG5 = _f(0x3FC7466496CB03DE)
LG6 = _f(0x3FC39A09D078C69F)
LG7 = _f(0x3FC2F112DF3E5244)

# --- sin / cos (k_sin.c, k_cos.c, e_rem_pio2.c "medium" Cody-Waite) ------------------
S1 = _f(0xBFC5555555555549)
S2 = _f(0x3F8111111110F8A6)
S3 = _f(0xBF2A01A019C161D5)
S4 = _f(0x3EC71DE357B1FE7D)
S5 = _f(0xBE5AE5E68A2B9CEB)
S6 = _f(0x3DE5D93A5ACFD57C)
C1 = _f(0x3FA555555555554C)
C2 = _f(0xBF56C16C16C15177)
C3 = _f(0x3EFA01A019CB1590)
C4 = _f(0xBE927E4F809C52AD)
C5 = _f(0x3E21EE9EBDB4B1C4)
C6 = _f(0xBDA8FAE9BE8838D4)
INVPIO2 = _f(0x3FE45F306DC9C883)
PIO2_1 = _f(0x3FF921FB54400000)  # first 33 bits of pi/2: fn*PIO2_1 exact for fn <= 2**20
PIO2_1T = _f(0x3DD0B4611A626331)
PIO2_2 = _f(0x3DD0B4611A600000)  # second 33 bits
PIO2_2T = _f(0x3BA3198A2E037073)
PIO2_3 = _f(0x3BA3198A2E000000)  # third 33 bits
PIO2_3T = _f(0x397B839A252049C1)
# Largest |x| accepted by sin/cos: 2**20 * pi/2 keeps |fn| <= 2**20, so the 3-part
# Cody-Waite reduction above stays exact (e_rem_pio2.c "medium" range).
SINCOS_MAX = 1048576.0 * _f(0x3FF921FB54442D18)

# pi/2 = PIO2_HI + PIO2_LO, and PIO2_HI = PIO2_HH + PIO2_HL split into two 26-bit
# halves (Veltkamp) for the exact Dekker product in turns_to_rad.
PIO2_HI = _f(0x3FF921FB54442D18)
PIO2_LO = _f(0x3C91A62633145C07)
SPLIT = 134217729.0  # 2**27 + 1
PIO2_HH = _f(0x3FF921FB58000000)
PIO2_HL = PIO2_HI - PIO2_HH  # exact (Sterbenz); 26 significant bits
assert PIO2_HL == _f(0xBE4DDE9740000000)


def _shared(fn):
    """Keep ``fn`` as the numpy kernel and attach its numba compilation as ``fn.nb``."""
    fn.nb = njit(nogil=True, cache=True)(fn)
    return fn


@_shared
def exp_kernel(x, kf):
    """exp(x) / 2**kf for integral kf ~ x/ln2 (e_exp.c after reduction).

    x - kf*LN2_HI is exact, LN2_LO carries the rest of ln2; exp(r) uses the
    Remez rational form 1 + r + r*c/(2-c).  With kf == 0 this reproduces e_exp.c's
    k == 0 formula exactly (0 - a == -a in IEEE arithmetic).
    """
    hi = x - kf * LN2_HI
    lo = kf * LN2_LO
    r = hi - lo
    t = r * r
    c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))))
    return 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)


@_shared
def log_kernel(f, dk):
    """log(2**dk * (1+f)) for sqrt(2)/2 <= 1+f < sqrt(2) (e_log.c).

    Returns both e_log.c evaluation forms; the caller picks one with the same
    mantissa test as e_log.c (the 'hfsq' form is more accurate for larger |f|).
    """
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (LG2 + w * (LG4 + w * LG6))
    t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)))
    r = t2 + t1
    hfsq = 0.5 * f * f
    a = dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f)
    b = dk * LN2_HI - ((s * (f - r) - dk * LN2_LO) - f)
    return a, b


@_shared
def log1p_kernel(f, dk, c):
    """log(2**dk * (1+f)) + c for sqrt(2)/2 <= 1+f < sqrt(2) (s_log1p.c).

    c is the rounding error of u = 1+x divided by u, 0 when f == x exactly.
    """
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    r = z * (LG1 + z * (LG2 + z * (LG3 + z * (LG4 + z * (LG5 + z * (LG6 + z * LG7))))))
    return dk * LN2_HI - ((hfsq - (s * (hfsq + r) + (dk * LN2_LO + c))) - f)


@_shared
def expm1_kernel(x, kf):
    """s_expm1.c core: x = kf*ln2 + r (+ correction c).

    Returns (r, e, res0): res0 is expm1(x) when kf == 0; for kf != 0 the caller
    combines r and the corrected error term e as in s_expm1.c step 3.
    """
    hi = x - kf * LN2_HI
    lo = kf * LN2_LO
    r = hi - lo
    c = (hi - r) - lo
    hfx = 0.5 * r
    hxs = r * hfx
    r1 = 1.0 + hxs * (Q1 + hxs * (Q2 + hxs * (Q3 + hxs * (Q4 + hxs * Q5))))
    t = 3.0 - r1 * hfx
    e = hxs * ((r1 - t) / (6.0 - r * t))
    res0 = r - (r * e - hxs)
    e = (r * (e - c) - c) - hxs
    return r, e, res0


@_shared
def rem_round1(x, fn):
    """First Cody-Waite step x - fn*pi/2 (e_rem_pio2.c): returns (r, w, y0 = r - w)."""
    r = x - fn * PIO2_1
    w = fn * PIO2_1T
    return r, w, r - w


@_shared
def rem_round(r, fn, p, pt):
    """Further Cody-Waite step with the next 33 bits p of pi/2 and tail pt."""
    t = r
    w = fn * p
    r = t - w
    w = fn * pt - ((t - r) - w)
    return r, w, r - w


@_shared
def k_sin(x, y):
    """sin(x + y) for |x| <= pi/4, y the tail of x (k_sin.c, iy == 1 form)."""
    z = x * x
    w = z * z
    r = (S2 + z * (S3 + z * S4)) + (z * w) * (S5 + z * S6)
    v = z * x
    return x - ((z * (0.5 * y - v * r) - y) - v * S1)


@_shared
def k_cos(x, y):
    """cos(x + y) for |x| <= pi/4, y the tail of x (k_cos.c)."""
    z = x * x
    w = z * z
    r = z * (C1 + z * (C2 + z * C3)) + (w * w) * (C4 + z * (C5 + z * C6))
    hz = 0.5 * z
    w = 1.0 - hz
    return w + (((1.0 - w) - hz) + (z * r - x * y))


@_shared
def turns_to_rad(f):
    """(x, y) with x + y = f*pi/2 to ~106 bits, for |f| <= 1/2.

    Dekker's exact product f*PIO2_HI (Veltkamp split, no FMA needed) plus f*PIO2_LO,
    renormalised with Fast2Sum, gives the kernels a tail y like e_rem_pio2.c does.
    """
    p = f * PIO2_HI
    cf = SPLIT * f
    fh = cf - (cf - f)
    fl = f - fh
    err = ((fh * PIO2_HH - p) + fh * PIO2_HL + fl * PIO2_HH) + fl * PIO2_HL
    e = err + f * PIO2_LO
    x = p + e
    return x, (p - x) + e
