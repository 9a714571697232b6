"""Positional key verification of a dense part (layer2 §1.3) without materialising the
expected repeated key columns: row i must be (domain row i div H, bucket i mod H)."""

from __future__ import annotations

from numba import njit


@njit(nogil=True, cache=True)
def dense_keys_ok(mer, tz, ch, bucket, e_mer, e_tz, e_ch, h):
    n = e_mer.shape[0]
    if mer.shape[0] != n * h or tz.shape[0] != n * h or ch.shape[0] != n * h:
        return False
    i = 0
    for r in range(n):
        m, z, c = e_mer[r], e_tz[r], e_ch[r]
        for b in range(h):
            if mer[i] != m or tz[i] != z or ch[i] != c or bucket[i] != b:
                return False
            i += 1
    return True
