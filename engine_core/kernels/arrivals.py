"""The 5B.S4 arrival/routing kernel (layer2 §4.3, §4.5): expands bucket-row counts into
arrivals — exact micro-time by ``scale53``, HYBRID coin on its own block, physical site via the
2B alias table of the row's (merchant, tzid), virtual edge via the 3B table of the merchant —
sorts each row's arrivals by (t, k) and writes civil times from the flattened tz cache.
No Python objects, callbacks or threads inside; ``nogil`` so worker threads run it in parallel.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from engine_core.rng.alias import alias_pick_csr_nb
from engine_core.rng.philox import ctr_add_nb, philox_nb
from engine_core.rng.uniform import scale53_nb, uniform01_nb

MODE_NON_VIRTUAL, MODE_HYBRID, MODE_VIRTUAL_ONLY = 0, 1, 2
ERR_COVERAGE, ERR_WRAP, ERR_SITE_TABLE, ERR_EDGE_TABLE, ERR_SETTLE_TZ = 1, 2, 3, 4, 5
ERR_NAMES = {
    ERR_COVERAGE: "TZ_LOOKUP_OUT_OF_COVERAGE",
    ERR_WRAP: "RNG_COUNTER_WRAP",
    ERR_SITE_TABLE: "SITE_TABLE_MISSING",
    ERR_EDGE_TABLE: "EDGE_TABLE_MISSING",
    ERR_SETTLE_TZ: "SETTLEMENT_TZ_MISSING",
}


@njit(nogil=True, cache=True)
def tz_offset_us(tz, t, tz_start, tz_initial_s, trans_us, off_s):
    """Offset (µs) of zone ``tz`` at UTC µs ``t``: the last transition ≤ t, else initial."""
    lo = tz_start[tz]
    hi = tz_start[tz + 1]
    if hi == lo or t < trans_us[lo]:
        return np.int64(tz_initial_s[tz]) * 1_000_000
    a, b = lo, hi  # invariant: trans_us[a] ≤ t, answer in [a, b)
    while b - a > 1:
        m = (a + b) >> 1
        if trans_us[m] <= t:
            a = m
        else:
            b = m
    return np.int64(off_s[a]) * 1_000_000


@njit(nogil=True, cache=True)
def _sort_row(ts, idx, n):
    """Stable order of ``ts[:n]`` (ties by draw index): insertion sort for n ≤ 32."""
    if n <= 32:
        for k in range(n):
            idx[k] = k
        for i in range(1, n):
            v = idx[i]
            j = i - 1
            while j >= 0 and ts[idx[j]] > ts[v]:
                idx[j + 1] = idx[j]
                j -= 1
            idx[j + 1] = v
    else:
        o = np.argsort(ts[:n], kind="mergesort")
        for k in range(n):
            idx[k] = o[k]


@njit(nogil=True, cache=True)
def expand_arrivals(
    row_merchant_idx, row_zone_tz, row_site_table, row_bucket_start_us,
    row_count, row_out_offset, row_seq_start,
    row_key, row_ctr_hi, row_ctr_lo,
    m_mode, m_p_virtual, m_edge_table, m_settle_tz,
    st_off, st_q, st_alias, st_site_id,
    et_off, et_q, et_alias, et_edge_id, et_tz,
    tz_start, tz_initial_s, trans_us, off_s, coverage_end_us,
    bucket_us,
    o_ts_utc, o_seq, o_is_virtual, o_site, o_edge,
    o_tz_primary, o_loc_primary, o_tz_oper, o_loc_oper, o_tz_settle, o_loc_settle,
    r_n_virtual, scratch_ts, scratch_idx, scratch_a1, scratch_v,
):  # fmt: skip
    """Returns −1 on success, else ``(row << 8) | error_code``."""
    for r in range(row_count.shape[0]):
        n = np.int64(row_count[r])
        m = row_merchant_idx[r]
        mode = m_mode[m]
        stride = 2 if mode == MODE_HYBRID else 1
        key = row_key[r]
        chi = row_ctr_hi[r]
        clo = row_ctr_lo[r]
        _, _, wrapped = ctr_add_nb(chi, clo, np.uint64(stride * n - 1))
        if wrapped:
            return (np.int64(r) << 8) | ERR_WRAP
        start = row_bucket_start_us[r]
        if start + bucket_us > coverage_end_us:
            return (np.int64(r) << 8) | ERR_COVERAGE
        nv = 0
        for k in range(n):
            h, l_, _ = ctr_add_nb(chi, clo, np.uint64(stride * k))
            a0, a1 = philox_nb(l_, h, key)
            off, _f = scale53_nb(a0, np.uint64(bucket_us))
            scratch_ts[k] = start + np.int64(off)
            scratch_a1[k] = a1
            if mode == MODE_VIRTUAL_ONLY:
                v = True
            elif mode == MODE_HYBRID:
                h2, l2, _ = ctr_add_nb(chi, clo, np.uint64(2 * k + 1))
                b0, _b1 = philox_nb(l2, h2, key)
                v = uniform01_nb(b0) < m_p_virtual[m]
            else:
                v = False
            scratch_v[k] = v
            if v:
                nv += 1
        r_n_virtual[r] = nv
        _sort_row(scratch_ts, scratch_idx, n)
        base = row_out_offset[r]
        zone = row_zone_tz[r]
        for q in range(n):
            k = scratch_idx[q]
            i = base + q
            t = scratch_ts[k]
            o_ts_utc[i] = t
            o_seq[i] = row_seq_start[r] + q
            if scratch_v[k]:
                e = m_edge_table[m]
                if e < 0:
                    return (np.int64(r) << 8) | ERR_EDGE_TABLE
                st = m_settle_tz[m]
                if st < 0:
                    return (np.int64(r) << 8) | ERR_SETTLE_TZ
                j = alias_pick_csr_nb(scratch_a1[k], et_q, et_alias, et_off[e], et_off[e + 1])
                tz = et_tz[j]
                o_is_virtual[i] = True
                o_edge[i] = et_edge_id[j]
                o_site[i] = 0
                loc = t + tz_offset_us(tz, t, tz_start, tz_initial_s, trans_us, off_s)
                o_tz_primary[i] = tz
                o_tz_oper[i] = tz
                o_loc_primary[i] = loc
                o_loc_oper[i] = loc
                o_tz_settle[i] = st
                o_loc_settle[i] = t + tz_offset_us(st, t, tz_start, tz_initial_s, trans_us, off_s)
            else:
                s = row_site_table[r]
                if s < 0:
                    return (np.int64(r) << 8) | ERR_SITE_TABLE
                j = alias_pick_csr_nb(scratch_a1[k], st_q, st_alias, st_off[s], st_off[s + 1])
                o_is_virtual[i] = False
                o_site[i] = st_site_id[j]
                o_edge[i] = 0
                loc = t + tz_offset_us(zone, t, tz_start, tz_initial_s, trans_us, off_s)
                o_tz_primary[i] = zone
                o_tz_oper[i] = zone
                o_tz_settle[i] = zone
                o_loc_primary[i] = loc
                o_loc_oper[i] = loc
                o_loc_settle[i] = loc
    return np.int64(-1)
