"""Samplers with fixed draw budgets (ARCHITECTURE §4, layer2 §3.4).

Every sampler is a numba scalar (``*_nb``, callable from kernels) plus an array wrapper.
Transcendentals come from :mod:`engine_core.rng.detmath`, never libm, so the bits are the
same on every machine. Draw budgets (what RNG accounting relies on):

===================  =====================================  ==========
law                  policy name                            words
===================  =====================================  ==========
normal, one uniform  ``as241_v1``                           1
normal, Box–Muller   ``box_muller_cos_v1``                  2
gamma (WH)           ``wilson_hilferty_as241_v1``           1
Poisson              ``poisson_inversion_v1``               1
NB2                  ``nb2_wh_poisson_v1``                  2
===================  =====================================  ==========
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine_core.rng.detmath import nb_cos2pi, nb_exp, nb_log, nb_log1p
from engine_core.rng.uniform import uniform01_nb

LAWS = {
    "normal_one_uniform": "as241_v1",
    "normal_two_uniforms": "box_muller_cos_v1",
    "gamma": "wilson_hilferty_as241_v1",
    "poisson": "poisson_inversion_v1",
    "nb2": "nb2_wh_poisson_v1",
    "alias": "vose_integer_fifo_v1",
    "uniform": "u01_shift12_v1",
}

POISSON_ZERO_MEAN = 1e-9  # μ ≤ this → 0, no draw consumed by the caller's law


# --- inverse normal CDF, Wichura AS241 (PPND16, ~1e-16 relative) -------------------------
@njit(nogil=True, cache=True)
def as241_nb(p):
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = (
            (
                (
                    (
                        (
                            (2.5090809287301226727e3 * r + 3.3430575583588128105e4) * r
                            + 6.7265770927008700853e4
                        )
                        * r
                        + 4.5921953931549871457e4
                    )
                    * r
                    + 1.3731693765509461125e4
                )
                * r
                + 1.9715909503065514427e3
            )
            * r
            + 1.3314166789178437745e2
        ) * r + 3.3871328727963666080e0
        den = (
            (
                (
                    (
                        (
                            (5.2264952788528545610e3 * r + 2.8729085735721942674e4) * r
                            + 3.9307895800092710610e4
                        )
                        * r
                        + 2.1213794301586595867e4
                    )
                    * r
                    + 5.3941960214247511077e3
                )
                * r
                + 6.8718700749205790830e2
            )
            * r
            + 4.2313330701600911252e1
        ) * r + 1.0
        return q * num / den
    r = p if q < 0.0 else 1.0 - p
    r = np.sqrt(-nb_log(r))
    if r <= 5.0:
        r = r - 1.6
        num = (
            (
                (
                    (
                        (
                            (7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r
                            + 2.41780725177450611770e-1
                        )
                        * r
                        + 1.27045825245236838258e0
                    )
                    * r
                    + 3.64784832476320460504e0
                )
                * r
                + 5.76949722146069140550e0
            )
            * r
            + 4.63033784615654529590e0
        ) * r + 1.42343711074968357734e0
        den = (
            (
                (
                    (
                        (
                            (1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r
                            + 1.51986665636164571966e-2
                        )
                        * r
                        + 1.48103976427480074590e-1
                    )
                    * r
                    + 6.89767334985100004550e-1
                )
                * r
                + 1.67638483018380384940e0
            )
            * r
            + 2.05319162663775882187e0
        ) * r + 1.0
    else:
        r = r - 5.0
        num = (
            (
                (
                    (
                        (
                            (2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
                            + 1.24266094738807843860e-3
                        )
                        * r
                        + 2.65321895265761230930e-2
                    )
                    * r
                    + 2.96560571828504891230e-1
                )
                * r
                + 1.78482653991729133580e0
            )
            * r
            + 5.46378491116411436990e0
        ) * r + 6.65790464350110377720e0
        den = (
            (
                (
                    (
                        (
                            (2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r
                            + 1.84631831751005468180e-5
                        )
                        * r
                        + 7.86869131145613259100e-4
                    )
                    * r
                    + 1.48753612908506148525e-2
                )
                * r
                + 1.36929880922735805310e-1
            )
            * r
            + 5.99832206555887937690e-1
        ) * r + 1.0
    val = num / den
    return -val if q < 0.0 else val


@njit(nogil=True, cache=True)
def box_muller_nb(x0, x1):
    """Standard normal from two words: sqrt(−2 ln u0)·cos(2π u1) (cosine branch kept)."""
    u0 = uniform01_nb(x0)
    u1 = uniform01_nb(x1)
    return np.sqrt(-2.0 * nb_log(u0)) * nb_cos2pi(u1)


@njit(nogil=True, cache=True)
def wh_gamma_nb(k, u):
    """Gamma(k, 1) from one uniform: k·max(0, 1 − 1/(9k) + z/(3√k))³, z = AS241(u)."""
    z = as241_nb(u)
    t = 1.0 - 1.0 / (9.0 * k) + z / (3.0 * np.sqrt(k))
    if t <= 0.0:
        return 0.0
    return k * t * t * t


# --- Poisson by exact inversion from one uniform (layer2 §3.4) ---------------------------
@njit(nogil=True, cache=True)
def poisson_window_nb(mu):
    """Scratch length the inversion at mean ``mu`` needs (2w + 1)."""
    w = np.int64(np.ceil(12.0 * np.sqrt(mu))) + 12
    return 2 * w + 1


@njit(nogil=True, cache=True)
def poisson_inv_nb(u, mu, scratch):
    """Smallest k with F(k; mu) ≥ u, each tail evaluated to relative precision.

    ``scratch`` is a float64 buffer of length ≥ :func:`poisson_window_nb` (reused by callers).
    """
    if mu <= POISSON_ZERO_MEAN:
        return np.int64(0)
    v = 1.0 - u  # exact: u is a multiple of 2^-53
    m = np.int64(np.floor(mu))
    w = np.int64(np.ceil(12.0 * np.sqrt(mu))) + 12
    hi = m + w
    if mu < 30.0:
        lo = np.int64(0)
        scratch[0] = nb_exp(-mu)
        for j in range(0, m):
            scratch[j + 1] = scratch[j] * mu / (j + 1)
    else:
        lo = max(np.int64(0), m - w)
        f = mu - m
        mf = np.float64(m)
        m2 = mf * mf
        s = (
            1.0 / (12.0 * mf)
            - 1.0 / (360.0 * mf * m2)
            + 1.0 / (1260.0 * mf * m2 * m2)
            - 1.0 / (1680.0 * mf * m2 * m2 * m2)
        )
        scratch[m - lo] = nb_exp(mf * nb_log1p(f / mf) - f - s) / np.sqrt(6.283185307179586 * mf)
        for j in range(m, lo, -1):
            scratch[j - 1 - lo] = scratch[j - lo] * j / mu
    # lower tail: L(k) accumulated upward from lo
    acc = 0.0
    for k in range(lo, m + 1):
        acc += scratch[k - lo]
        if acc >= u:
            return np.int64(k)
    # upper tail: R(k) = Σ_{j>k} p_j accumulated downward from R(hi) = 0, against v = 1 − u
    for j in range(m, hi):
        scratch[j + 1 - lo] = scratch[j - lo] * mu / (j + 1)
    acc = 0.0
    k = hi
    while k > m:
        nxt = acc + scratch[k - lo]  # R(k − 1)
        if nxt > v:
            break
        acc = nxt
        k -= 1
    return np.int64(k)


@njit(nogil=True, cache=True)
def nb2_lambda_nb(x0, mu, kappa):
    """Gamma mixing mean of NB2 (layer2 §3.4): Λ = μ·max(0, 1 − 1/(9κ) + z/(3√κ))³."""
    z = as241_nb(uniform01_nb(x0))
    t = 1.0 - 1.0 / (9.0 * kappa) + z / (3.0 * np.sqrt(kappa))
    if t <= 0.0:
        return 0.0
    return mu * (t * t * t)


@njit(nogil=True, cache=True)
def nb2_nb(x0, x1, mu, kappa, scratch):
    """NB2(mean mu, dispersion kappa) from two words: Λ from x0, then Poisson(Λ) from x1."""
    lam = nb2_lambda_nb(x0, mu, kappa)
    if lam <= POISSON_ZERO_MEAN:
        return np.int64(0)
    return poisson_inv_nb(uniform01_nb(x1), lam, scratch)


# --- array wrappers -----------------------------------------------------------------------
@njit(nogil=True, cache=True)
def _as241_array(u):
    out = np.empty(u.shape[0], dtype=np.float64)
    for i in range(u.shape[0]):
        out[i] = as241_nb(u[i])
    return out


@njit(nogil=True, cache=True)
def _box_muller_array(x0, x1):
    out = np.empty(x0.shape[0], dtype=np.float64)
    for i in range(x0.shape[0]):
        out[i] = box_muller_nb(x0[i], x1[i])
    return out


@njit(nogil=True, cache=True)
def _poisson_array(u, mu):
    n = u.shape[0]
    out = np.empty(n, dtype=np.int64)
    size = 1
    for i in range(n):
        if mu[i] > POISSON_ZERO_MEAN:
            size = max(size, poisson_window_nb(mu[i]))
    scratch = np.empty(size, dtype=np.float64)
    for i in range(n):
        out[i] = poisson_inv_nb(u[i], mu[i], scratch)
    return out


@njit(nogil=True, cache=True)
def _nb2_array(x0, x1, mu, kappa):
    n = x0.shape[0]
    out = np.empty(n, dtype=np.int64)
    scratch = np.empty(16, dtype=np.float64)
    for i in range(n):
        lam = nb2_lambda_nb(x0[i], mu[i], kappa[i])
        if lam > POISSON_ZERO_MEAN and poisson_window_nb(lam) > scratch.shape[0]:
            scratch = np.empty(poisson_window_nb(lam) * 2, dtype=np.float64)
        out[i] = nb2_nb(x0[i], x1[i], mu[i], kappa[i], scratch)
    return out


@njit(nogil=True, cache=True)
def _wh_gamma_array(k, u):
    out = np.empty(u.shape[0], dtype=np.float64)
    for i in range(u.shape[0]):
        out[i] = wh_gamma_nb(k[i], u[i])
    return out


def wh_gamma(k, u) -> np.ndarray:
    """Gamma(k, 1) from one uniform each (Wilson–Hilferty on AS241)."""
    u = _f64(np.atleast_1d(u))
    return _wh_gamma_array(_f64(k, u.shape[0]), u)


def _f64(a, n=None) -> np.ndarray:
    """float64 1-d array; a scalar is broadcast to length ``n``; lengths must agree."""
    arr = np.asarray(a, dtype=np.float64)
    if n is not None:
        if arr.ndim == 0:
            return np.full(n, float(arr))
        if arr.shape != (n,):
            raise ValueError(f"expected {n} values, got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def as241(u) -> np.ndarray:
    """Inverse standard-normal CDF of uniforms in (0, 1)."""
    return _as241_array(_f64(np.atleast_1d(u)))


def box_muller(x0, x1) -> np.ndarray:
    return _box_muller_array(
        np.ascontiguousarray(x0, dtype=np.uint64), np.ascontiguousarray(x1, dtype=np.uint64)
    )


def poisson_inv(u, mu) -> np.ndarray:
    u = _f64(np.atleast_1d(u))
    return _poisson_array(u, _f64(mu, u.shape[0]))


def nb2(x0, x1, mu, kappa) -> np.ndarray:
    x0 = np.ascontiguousarray(x0, dtype=np.uint64)
    x1 = np.ascontiguousarray(x1, dtype=np.uint64)
    n = x0.shape[0]
    return _nb2_array(x0, x1, _f64(mu, n), _f64(kappa, n))
