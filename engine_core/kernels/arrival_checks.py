"""5B.S5's per-arrival pass over one arrival part, compiled (nogil, so worker threads scale):
T4 conservation against the S3 rows of the part, T5 routing integrity with the T15 cell
counts, T16 HYBRID coin sums, T6 tzid counts and the T3/T8 observed (tz, local hour) grid.
Everything is recomputed from the published columns and the sealed inputs — this kernel
shares no code with the S4 arrival kernel (T1 stays with numpy's searchsorted, §5.2)."""

from __future__ import annotations

from numba import njit

from engine_core.kernels.lookup import _find

T4_KEYS, T4_BUCKET, T4_SEQ, T4_ORDER = 0, 1, 2, 3
T5_PHYS, T5_VIRT, T5_MODE = 0, 1, 2


@njit(nogil=True, cache=True)
def arrival_part_nb(
    row_dom, row_bucket, row_count, row_seq,
    key_mer, key_tz, key_ch, row_merchant,
    m_mode, m_p_virtual, m_settle,
    mer, tz, ch, bucket, seq, ts, virt, site, edge, tz_p, tz_o, tz_s, loc_p,
    start_us, bucket_us, hour_base, n_hours,
    s_a, s_b, s_row, s_tz_w, s_tz_s, s_weight, e_a, e_b, e_row, e_tz,
    t4, t5, t16, tz_counts, obs_hours, site_cells, edge_cells,
):  # fmt: skip
    i = 0
    for r in range(row_count.shape[0]):
        d = row_dom[r]
        b = row_bucket[r]
        m = row_merchant[d]
        mode = m_mode[m]
        p = m_p_virtual[m]
        lo = start_us + b * bucket_us
        for q in range(row_count[r]):
            # T4: the arrival belongs to this S3 row, inside its bucket, seq from the counts
            if mer[i] != key_mer[d] or tz[i] != key_tz[d] or ch[i] != key_ch[d] or bucket[i] != b:
                t4[T4_KEYS] += 1
            if ts[i] < lo or ts[i] >= lo + bucket_us:
                t4[T4_BUCKET] += 1
            if seq[i] != row_seq[r] + q:
                t4[T4_SEQ] += 1
            if q > 0 and ts[i] < ts[i - 1]:
                t4[T4_ORDER] += 1
            if i > 0:  # within the part: +1 inside a merchant, 0 on a new merchant
                if mer[i] == mer[i - 1]:
                    if seq[i] != seq[i - 1] + 1:
                        t4[T4_SEQ] += 1
                elif seq[i] != 0:
                    t4[T4_SEQ] += 1
            v = virt[i]
            tz_counts[tz_p[i]] += 1
            if mode == 1:
                t16[0] += 1.0
                t16[1] += 1.0 if v else 0.0
                t16[2] += p
                t16[3] += p * (1.0 - p)
            if (mode == 0 and v) or (mode == 2 and not v):
                t5[T5_MODE] += 1
            if v:
                j = _find(e_a, e_b, mer[i], edge[i])
                if j < 0:
                    t5[T5_VIRT] += 1
                else:
                    row = e_row[j]
                    edge_cells[row] += 1
                    if e_tz[row] != tz_o[i] or tz_p[i] != tz_o[i] or tz_s[i] != m_settle[m]:
                        t5[T5_VIRT] += 1
            else:
                h = (loc_p[i] // 3_600_000_000) - hour_base
                if 0 <= h < n_hours:
                    obs_hours[tz[i] * n_hours + h] += 1
                j = _find(s_a, s_b, mer[i], site[i])
                if j < 0:
                    t5[T5_PHYS] += 1
                else:
                    row = s_row[j]
                    site_cells[row] += 1
                    z = tz[i]
                    if (
                        s_weight[row] <= 0.0
                        or s_tz_w[row] != z
                        or s_tz_s[row] != z
                        or tz_p[i] != z
                        or tz_o[i] != z
                        or tz_s[i] != z
                    ):
                        t5[T5_PHYS] += 1
            i += 1
