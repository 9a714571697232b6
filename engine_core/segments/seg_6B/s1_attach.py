"""6B.S1 arrival kernel (layer3 §4.2 step 3): one numba pass binds every 5B arrival of a chunk
to a payer, instrument, device, IP (CNP) or terminal (CP), prices and authorises it and
decides its refund and verification children.

Family ``6B.S1.attach``: stream per merchant, unit = ``arrival_seq``, 10 blocks = 20 slots,
all drawn (trace 20·A). Where one slot both decides and picks (slots 6 and 8), the pick uses
the slot's uniform rescaled to the chosen branch and turned back into a word, so each branch
is an exact conditional pick and the slot budget stays fixed.

Routes: CP rows TRAVELLER with ``p_T = b·T/(b·T + R)``, else LOCAL with ``p_local``, else
DOMESTIC (an empty LOCAL cell falls back to DOMESTIC, an empty DOMESTIC table to the other
party type: counted); CNP rows DOMESTIC with ``p_cnp_domestic[region]``, else CROSS_BORDER
(origin country by ALIAS, then the payer among the origin's CNP-carded parties)."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine_core.rng.alias import alias_pick_csr_nb
from engine_core.rng.detmath import nb_exp, nb_log
from engine_core.rng.philox import ctr_add_nb, philox_nb
from engine_core.rng.samplers import as241_nb
from engine_core.rng.uniform import uniform01_nb

STRIDE = 10
SLOTS = 20
# routes
LOCAL, DOMESTIC, TRAVELLER, CNP_DOMESTIC, CROSS_BORDER = range(5)
ROUTES = ("LOCAL", "DOMESTIC", "TRAVELLER", "CNP_DOMESTIC", "CROSS_BORDER")
# fallback counters
FB_LOCAL_EMPTY, FB_TYPE, FB_ROSTER_EMPTY = range(3)
# entry modes / auth methods (TXN vocabularies of layer3 §4.0)
ENTRY = ("CHIP", "CONTACTLESS", "MAGSTRIPE", "MANUAL_KEYED", "ECOM", "ECOM_TOKEN", "NOT_APPLICABLE")
AUTH = ("NOT_APPLICABLE", "NONE", "THREE_DS_FRICTIONLESS", "THREE_DS_CHALLENGE", "TOKEN_CRYPTOGRAM")
ERR_NO_PARTY, ERR_NO_TERMINAL, ERR_NO_INSTRUMENT = 1, 2, 3
DAY_US = 86_400_000_000
# scalar parameter slots (s1_params.Params.scalars, in this order)
SCALARS = (
    "p_local",
    "boost",
    "p_device_data",
    "p_ip_data",
    "p_cof",
    "p_trip_ip",
    "clip_min",
    "clip_max",
    "travel_shift",
    "b_xb",
    "b_prepaid",
    "b_amount",
    "ln_refund_delay",
    "p_refund_full",
    "p_refund_unlinked",
    "p_verify_zero",
)


@njit(nogil=True, cache=True, inline="always")
def _word(v):
    """A uniform in (0, 1) back to a word whose uniform is ``v`` (52 bits)."""
    return np.uint64(v * 4503599627370496.0) << np.uint64(12)


@njit(nogil=True, cache=True, inline="always")
def _cdf_pick(u, cdf):
    for k in range(cdf.shape[0]):
        if u < cdf[k]:
            return k
    return cdf.shape[0] - 1


@njit(nogil=True, cache=True, inline="always")
def _alias(x, ptr, items, q, alias, g):
    lo, hi = ptr[g], ptr[g + 1]
    if hi == lo:
        return -1
    return items[alias_pick_csr_nb(x, q, alias, lo, hi)]


@njit(nogil=True, cache=True)
def payer_nb(w, virt, party, ts, site, ic_ptr, ic_it, ic_q, ic_a, in_ptr, in_it, in_q, in_a,
             i_type, i_bound, cof_ptr, cof_it, wallet, pd_ptr, pd_it, pd_q, pd_a, di_ptr, di_it,
             di_q, di_a, tp_ptr, tp_it, tp_q, tp_a, tr_ptr, tr_start, tr_end, tr_dest, t_ptr,
             t_items, sc):  # fmt: skip
    """Slots 4–8 of an arrival for a given payer: instrument, reported and used device, IP
    (CNP) or terminal (CP; −2: the site has none). Shared with the 6B.S2 rebind replay."""
    dev, used, ip, term = -1, -1, -1, -1
    if virt:
        inst = _alias(w[4], in_ptr, in_it, in_q, in_a, party)
    else:
        inst = _alias(w[4], ic_ptr, ic_it, ic_q, ic_a, party)
    if inst < 0:
        return inst, dev, used, ip, term
    is_wallet = i_type[inst] == wallet
    if virt:  # --- device (slots 5, 6) and IP (slots 7, 8)
        d = -1
        if is_wallet:
            d = i_bound[inst]
        else:
            u6 = uniform01_nb(w[6])
            n_cof = cof_ptr[inst + 1] - cof_ptr[inst]
            if n_cof > 0 and u6 < sc[4]:
                k = np.int64(u6 / sc[4] * n_cof)
                d = cof_it[cof_ptr[inst] + min(k, n_cof - 1)]
            else:
                v = (u6 - sc[4]) / (1.0 - sc[4]) if n_cof > 0 else u6
                d = _alias(_word(v), pd_ptr, pd_it, pd_q, pd_a, party)
        used = d
        if d >= 0 and uniform01_nb(w[5]) < sc[2]:
            dev = d
        dest = -1
        for k in range(tr_ptr[party], tr_ptr[party + 1]):
            if tr_start[k] <= ts < tr_end[k]:
                dest = tr_dest[k]
                break
        p = -1
        u8 = uniform01_nb(w[8])
        if dest >= 0 and u8 < sc[5]:
            p = _alias(_word(u8 / sc[5]), tp_ptr, tp_it, tp_q, tp_a, dest)
        elif d >= 0:
            v = (u8 - sc[5]) / (1.0 - sc[5]) if dest >= 0 else u8
            p = _alias(_word(v), di_ptr, di_it, di_q, di_a, d)
        if p >= 0 and uniform01_nb(w[7]) < sc[3]:
            ip = p
    else:  # --- terminal (slot 6); a wallet pays contactless from its bound device
        nt = t_ptr[site + 1] - t_ptr[site]
        if nt == 0:
            return inst, dev, used, ip, -2
        k = np.int64(uniform01_nb(w[6]) * nt)
        term = t_items[t_ptr[site] + min(k, nt - 1)]
        if is_wallet:
            dev = i_bound[inst]
            used = i_bound[inst]
    return inst, dev, used, ip, term


@njit(nogil=True, cache=True)
def attach_nb(  # fmt: skip
    a_m,
    a_seq,
    a_ts,
    a_virt,
    a_site,  # arrivals of the chunk
    m_key,
    m_hi,
    m_lo,
    m_grp,
    m_country,
    m_region,
    m_tau,
    m_quasi,  # merchants
    s_country,
    s_region,
    s_local0,
    s_local1,
    t_ptr,
    t_items,  # sites, LOCAL groups, terminals
    lc_ptr,
    lc_it,
    lc_q,
    lc_a,  # LOCAL tables
    dc_ptr,
    dc_it,
    dc_q,
    dc_a,  # DOMESTIC CP tables (country·2 + type)
    dn_ptr,
    dn_it,
    dn_q,
    dn_a,  # CNP tables (country·2 + type)
    xb_ptr,
    xb_it,
    xb_q,
    xb_a,  # cross-border origins (region·2 + type)
    ro_ptr,
    ro_it,
    ro_q,
    ro_a,
    ro_mass,
    residents,
    h0,
    n_days,  # rosters (country·D + day)·2 + type
    p_country,
    p_seg,
    tr_ptr,
    tr_start,
    tr_end,
    tr_dest,  # parties, their trips
    ic_ptr,
    ic_it,
    ic_q,
    ic_a,
    in_ptr,
    in_it,
    in_q,
    in_a,  # party -> CP / CNP instruments
    i_type,
    i_bound,
    cof_ptr,
    cof_it,
    wallet,
    prepaid,  # instruments
    pd_ptr,
    pd_it,
    pd_q,
    pd_a,
    di_ptr,
    di_it,
    di_q,
    di_a,
    tp_ptr,
    tp_it,
    tp_q,
    tp_a,  # devices, IPs
    business_share,
    ln_med,
    sigma,
    seg_shift,
    seg_beta,
    beta0,
    code_cdf,
    entry_cdf,
    auth_cdf,
    p_cnp_dom,
    p_refund,
    p_verify,
    sc,
    h_end,  # parameters
):
    n = a_m.shape[0]
    o_type = np.empty(n, np.int8)
    o_route = np.empty(n, np.int8)
    o_party = np.empty(n, np.int64)
    o_inst = np.empty(n, np.int64)
    o_dev = np.full(n, -1, np.int64)
    o_used = np.full(n, -1, np.int64)  # the device used (o_dev: as reported, null if unseen)
    o_ip = np.full(n, -1, np.int64)
    o_term = np.full(n, -1, np.int64)
    o_amt = np.empty(n, np.float64)
    o_ok = np.empty(n, np.bool_)
    o_code = np.zeros(n, np.int8)
    o_entry = np.empty(n, np.int8)
    o_auth = np.empty(n, np.int8)
    o_xb = np.empty(n, np.bool_)
    o_ref_ts = np.full(n, -1, np.int64)
    o_ref_amt = np.zeros(n, np.float64)
    o_ref_linked = np.zeros(n, np.bool_)
    o_ver_ts = np.full(n, -1, np.int64)
    o_ver_one = np.zeros(n, np.bool_)
    fallbacks = np.zeros(3, np.int64)
    err = np.zeros(2, np.int64)
    w = np.empty(SLOTS, np.uint64)
    for i in range(n):
        m = a_m[i]
        base = np.uint64(a_seq[i]) * np.uint64(STRIDE)
        for b in range(STRIDE):
            hi, lo, _ = ctr_add_nb(m_hi[m], m_lo[m], base + np.uint64(b))
            w[2 * b], w[2 * b + 1] = philox_nb(lo, hi, m_key[m])
        g = m_grp[m]
        t = 1 if uniform01_nb(w[0]) < business_share[g] else 0
        ts = a_ts[i]
        virt = a_virt[i]
        route = DOMESTIC
        party = -1
        if not virt:  # --- card present: the site's country and home cell
            s = a_site[i]
            c = s_country[s]
            d = (ts - h0) // DAY_US
            rg = (c * n_days + d) * 2 + t
            bt = sc[1] * ro_mass[rg] if 0 <= d < n_days else 0.0
            r = residents[c * 2 + t]
            p_t = bt / (bt + r) if bt + r > 0 else 0.0
            u1 = uniform01_nb(w[1])
            if u1 < p_t:
                route = TRAVELLER
                party = _alias(w[2], ro_ptr, ro_it, ro_q, ro_a, rg)
                if party < 0:
                    fallbacks[FB_ROSTER_EMPTY] += 1
                    route = LOCAL
            elif u1 < p_t + (1.0 - p_t) * sc[0]:
                route = LOCAL
            if route == LOCAL:
                lg = s_local0[s] if t == 0 else s_local1[s]
                party = _alias(w[3], lc_ptr, lc_it, lc_q, lc_a, lg) if lg >= 0 else -1
                if party < 0:
                    fallbacks[FB_LOCAL_EMPTY] += 1
                    route = DOMESTIC
            if route == DOMESTIC:
                party = _alias(w[3], dc_ptr, dc_it, dc_q, dc_a, c * 2 + t)
                if party < 0:
                    fallbacks[FB_TYPE] += 1
                    t = 1 - t
                    party = _alias(w[3], dc_ptr, dc_it, dc_q, dc_a, c * 2 + t)
            merchant_country = c
            region = s_region[s]
        else:  # --- card not present: the merchant's home country and region
            c = m_country[m]
            region = m_region[m]
            origin = c
            if uniform01_nb(w[1]) < p_cnp_dom[region]:
                route = CNP_DOMESTIC
            else:
                route = CROSS_BORDER
                origin = _alias(w[2], xb_ptr, xb_it, xb_q, xb_a, region * 2 + t)
                if origin < 0:
                    origin = c
            party = _alias(w[3], dn_ptr, dn_it, dn_q, dn_a, origin * 2 + t)
            if party < 0:
                fallbacks[FB_TYPE] += 1
                t = 1 - t
                party = _alias(w[3], dn_ptr, dn_it, dn_q, dn_a, origin * 2 + t)
            merchant_country = c
        if party < 0:
            err[0], err[1] = ERR_NO_PARTY, c
            break
        o_type[i], o_route[i], o_party[i] = t, route, party
        # --- instrument (slot 4), device (5, 6) and IP (7, 8) / terminal (6)
        inst, dev, used, ip, term = payer_nb(
            w, virt, party, ts, a_site[i], ic_ptr, ic_it, ic_q, ic_a, in_ptr, in_it, in_q,
            in_a, i_type, i_bound, cof_ptr, cof_it, wallet, pd_ptr, pd_it, pd_q, pd_a, di_ptr,
            di_it, di_q, di_a, tp_ptr, tp_it, tp_q, tp_a, tr_ptr, tr_start, tr_end, tr_dest,
            t_ptr, t_items, sc,
        )  # fmt: skip
        if inst < 0:  # the route tables hold carded parties only: a broken table
            err[0], err[1] = ERR_NO_INSTRUMENT, i
            break
        if term == -2:
            err[0], err[1] = ERR_NO_TERMINAL, i
            break
        o_inst[i], o_dev[i], o_used[i], o_ip[i], o_term[i] = inst, dev, used, ip, term
        is_wallet = i_type[inst] == wallet
        xb = merchant_country != p_country[party]
        o_xb[i] = xb
        # --- amount (slot 9) and authorisation (slots 10, 11)
        z = as241_nb(uniform01_nb(w[9]))
        ln_a = ln_med[g] + sigma[g] * z + m_tau[m] + seg_shift[p_seg[party]]
        if route == TRAVELLER:
            ln_a += sc[8]
        amt = min(max(nb_exp(ln_a), sc[6]), sc[7])
        o_amt[i] = amt
        ch = 1 if virt else 0
        x = beta0[ch] + sc[11] * (nb_log(amt) - ln_med[g]) + seg_beta[p_seg[party]]
        if xb:
            x += sc[9]
        if i_type[inst] == prepaid:
            x += sc[10]
        ok = uniform01_nb(w[10]) >= 1.0 / (1.0 + nb_exp(-x))
        o_ok[i] = ok
        if not ok:
            o_code[i] = _cdf_pick(uniform01_nb(w[11]), code_cdf[ch])
        # --- entry mode (slot 12), CNP authentication (slot 13)
        if virt:
            o_entry[i] = 5 if is_wallet else 4
            o_auth[i] = 4 if is_wallet else 1 + _cdf_pick(uniform01_nb(w[13]), auth_cdf[region])
        else:
            o_entry[i] = 1 if is_wallet else _cdf_pick(uniform01_nb(w[12]), entry_cdf[region])
            o_auth[i] = 0
        # --- refund (slots 14-16) of an approved purchase; verification (17-19) before CNP
        if ok and not m_quasi[m]:
            u14 = uniform01_nb(w[14])
            if u14 < p_refund[g]:
                delay = nb_exp(sc[12] + 0.8 * as241_nb(uniform01_nb(w[15])))
                t_ref = ts + np.int64(delay * DAY_US)
                if t_ref < h_end:
                    o_ref_ts[i] = t_ref
                    o_ref_linked[i] = u14 >= p_refund[g] * sc[14]
                    u16 = uniform01_nb(w[16])
                    frac = 1.0 if u16 < sc[13] else 0.1 + 0.8 * (u16 - sc[13]) / (1.0 - sc[13])
                    o_ref_amt[i] = amt * frac
        if virt and uniform01_nb(w[17]) < p_verify[g]:
            t_ver = ts - np.int64((5.0 + 595.0 * uniform01_nb(w[18])) * 1_000_000)
            if t_ver >= h0:
                o_ver_ts[i] = t_ver
                o_ver_one[i] = uniform01_nb(w[19]) >= sc[15]
    return (
        o_type, o_route, o_party, o_inst, o_dev, o_ip, o_term, o_amt, o_ok, o_code, o_entry,
        o_auth, o_xb, o_ref_ts, o_ref_amt, o_ref_linked, o_ver_ts, o_ver_one, fallbacks, err,
        o_used,
    )  # fmt: skip
