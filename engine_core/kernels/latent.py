"""The 5B.S2 latent factor matrix (layer2 §3.3): one stream per group, block t for bucket t,
Box–Muller cosine branch (both words), OU or iid log-Gaussian, mean-one transform, clipping.
Deterministic libm (detmath) so every machine produces the same bits."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine_core.rng.detmath import nb_exp
from engine_core.rng.philox import ctr_add_nb, philox_nb
from engine_core.rng.samplers import box_muller_nb

MODEL_OU, MODEL_IID, MODEL_NONE = 0, 1, 2


@njit(nogil=True, cache=True)
def latent_nb(key, hi, lo, sigma, length_h, h, model, clip_min, clip_max, z_out, xi_out, clipped):
    """Fill ``z_out``/``xi_out``/``clipped`` (G×H). Streams never wrap (checked by the caller)."""
    for g in range(key.shape[0]):
        s = sigma[g]
        phi = nb_exp(-1.0 / length_h[g])  # d / (3600·L) with d = 3600 s
        innov = s * np.sqrt(1.0 - phi * phi)
        z = 0.0
        for t in range(h):
            if model == MODEL_NONE:
                z_out[g, t] = 0.0
                xi_out[g, t] = 1.0
                clipped[g, t] = False
                continue
            ch, cl, _ = ctr_add_nb(hi[g], lo[g], np.uint64(t))
            x0, x1 = philox_nb(cl, ch, key[g])
            n = box_muller_nb(x0, x1)
            if model == MODEL_IID or t == 0:
                z = s * n
            else:
                z = phi * z + innov * n
            xi = nb_exp(z - 0.5 * s * s)
            c = False
            if xi < clip_min:
                xi = clip_min
                c = True
            elif xi > clip_max:
                xi = clip_max
                c = True
            z_out[g, t] = z
            xi_out[g, t] = xi
            clipped[g, t] = c


@njit(nogil=True, cache=True)
def realise_nb(lam, group, xi, gamma, day_of_bucket, out):
    """λ_realised[r, b] = λ_target[r, b]·ξ[group[r], b]·γ[r, day(b)] for a part's rows."""
    h = day_of_bucket.shape[0]
    for r in range(group.shape[0]):
        g = group[r]
        for b in range(h):
            out[r * h + b] = lam[r * h + b] * xi[g, b] * gamma[r, day_of_bucket[b]]
