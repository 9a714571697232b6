"""The 5B.S3 count kernel (layer2 §3.4): one stream per non-zero bucket row; Poisson by exact
inversion from word 0, or NB2 (Wilson–Hilferty Λ from word 0, Poisson(Λ) from word 1)."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine_core.rng.philox import philox_nb
from engine_core.rng.samplers import nb2_lambda_nb, poisson_inv_nb, poisson_window_nb
from engine_core.rng.uniform import uniform01_nb

LAW_POISSON, LAW_NB2 = 0, 1


@njit(nogil=True, cache=True)
def counts_nb(mu, kappa, key, hi, lo, law, cap, out):
    """``out[i]`` for rows with μ > eps (one Philox block each). Returns −1, or the first row
    whose count exceeds ``cap``."""
    scratch = np.empty(64, dtype=np.float64)
    for i in range(mu.shape[0]):
        x0, x1 = philox_nb(lo[i], hi[i], key[i])
        m = mu[i]
        if law == LAW_NB2:
            m = nb2_lambda_nb(x0, m, kappa[i])
            x0 = x1
        if m <= 1e-9:
            out[i] = 0
            continue
        need = poisson_window_nb(m)
        if need > scratch.shape[0]:
            scratch = np.empty(need, dtype=np.float64)
        k = poisson_inv_nb(uniform01_nb(x0), m, scratch)
        if k > cap:
            return i
        out[i] = k
    return -1
