"""6A.S5 fraud rings and their operator infrastructure (layer3 §3.6 step 7).

Rings per region by LRR on mule counts; ring sizes one mule each plus an LRR of the rest on
lognormal weights; mules cut into consecutive rings in a uniform key order. Each ring gets
operator devices (observable as ordinary devices: their ordinals continue S4's), 2–40
distinct FRAUDSTER_IPs by alias over popularity, ACCOUNT_ACCESS to its mule accounts,
TYPICAL_DEVICE_IP / PROXY_EXIT edges.
"""

from __future__ import annotations

import numpy as np

from engine_core.errors import EngineError
from engine_core.kernels.alloc import lrr_capped
from engine_core.rng.alias import build_alias_table
from engine_core.rng.samplers import as241
from engine_core.rng.uniform import uniform01
from engine_core.segments.seg_6A import base
from engine_core.segments.seg_6A.base import ln1, round_half_even

STATE = "6A.S5"
RING_BLOCKS = 21  # per ring: size z + ≤ 40 IP picks


def form_rings(rng, pol, mules, mule_region, regions, expect):
    """Ring index per mule (−1: lone mule) in the global ring order (region, ring), the
    ring's region and its ring-family words (IP picks)."""
    rp = pol["rings"]
    m_r = np.bincount(mule_region, minlength=len(regions)).astype(np.int64)
    n_rings = max(1, round_half_even(mules.size / rp["mules_per_ring_mean"]))
    n_rings = min(n_rings, int(mules.size))
    per_region = (
        lrr_capped(
            n_rings,
            m_r.astype(np.float64),
            m_r,
            np.arange(m_r.size, dtype=float),
            state=STATE,
            where="rings per region",
        )
        if mules.size
        else m_r * 0
    )
    ring_of = np.full(mules.size, -1, np.int64)
    ring_region, ring_words = [], []
    fam = rng.family("ring")
    next_ring = 0
    for r in range(len(regions)):
        rows = np.flatnonzero(mule_region == r)  # mules of the region in canonical order
        k = int(per_region[r])
        if rows.size == 0:
            continue
        stream = fam.stream(regions[r])
        blocks = rows.size + RING_BLOCKS * k
        words = fam.words(stream, 0, blocks, 1)
        fam.trace(stream, blocks=blocks, draws=2 * rows.size + 2 * RING_BLOCKS * k)
        base.count(expect, "6A.S5.ring", 1, 2 * rows.size + 2 * RING_BLOCKS * k)
        if k == 0:
            continue
        rw = words[rows.size :].reshape(k, 2 * RING_BLOCKS)
        w = ln1(rp["ring_size_sigma"], as241(uniform01(rw[:, 0])))
        # base-one: a ring is at least one mule, the rest by LRR on the weights. Plain LRR
        # empties every ring whose quota rounds to 0 — at reference (243 rings of mean 12,
        # σ = 0.8) the lightest weights give quotas < 0.5, so RING_EMPTY would be the norm
        sizes = 1 + lrr_capped(
            rows.size - k,
            w,
            np.full(k, rp["ring_size_max"] - 1),
            np.arange(k, dtype=float),
            state=STATE,
            where=f"ring sizes {regions[r]}",
        )
        if (sizes == 0).any():
            raise EngineError(
                "RING_EMPTY",
                STATE,
                f"{regions[r]}: a ring got no mule ({rows.size} mules over {k} rings)",
            )
        order = rows[np.argsort(uniform01(words[: rows.size, 0]), kind="stable")]
        ring_of[order] = next_ring + np.repeat(np.arange(k), sizes)
        ring_region += [r] * k
        ring_words.append(rw)
        next_ring += k
    words = np.concatenate(ring_words) if ring_words else np.zeros((0, 2 * RING_BLOCKS), np.uint64)
    return ring_of, np.array(ring_region, np.int64), words


def ring_ips(pol, ring_words, n_mules, fraud_ips, popularity):
    """``min(40, 2 + ⌊n_mules/4⌋)`` distinct IPs per ring by alias over the FRAUDSTER_IP
    pool's popularity (a repeated pick is dropped, no retry)."""
    if fraud_ips.size == 0:
        return [np.zeros(0, np.int64) for _ in n_mules]
    tab = build_alias_table(np.arange(fraud_ips.size), popularity, STATE)
    out = []
    for r, n in enumerate(n_mules.tolist()):
        k = min(40, 2 + n // 4)
        picks = fraud_ips[tab.order[tab.pick(ring_words[r, 1 : 1 + k])]]
        _, first = np.unique(picks, return_index=True)
        out.append(picks[np.sort(first)])
    return out


def operators(rng, dpol, pol, ring_region, n_mules, ips_of_ring, regions, ref_day, expect):
    """Operator devices per ring: type, os, os age, first seen (0–180 days back) and their
    TYPICAL_DEVICE_IP (1–3) / PROXY_EXIT (1–2) picks among the ring's IPs."""
    rp = pol["rings"]
    fam = rng.family("operator")
    mix = pol["operator_device_mix"]
    types = list(mix)
    tcdf = np.cumsum(list(mix.values()))
    acdf = np.cumsum(list(pol["operator_os_age_mix"].values()))
    ages = list(pol["operator_os_age_mix"])
    dev = {k: [] for k in ("ring", "type", "os", "age", "first_seen")}
    edges = {k: [] for k in ("dev", "ip", "role")}
    n_dev = 0
    for r in range(ring_region.size):
        n = min(rp["operator_devices_max"], 1 + int(np.floor(n_mules[r] * rp["devices_per_mule"])))
        u = uniform01(fam.units(f"ring|{r}", n, 6))
        base.count(expect, "6A.S5.operator", 1, 12 * n)
        t = np.minimum(np.searchsorted(tcdf / tcdf[-1], u[:, 0], side="right"), len(types) - 1)
        os_ = np.empty(n, object)
        for ti in np.unique(t).tolist():  # ≤ 3 operator device types
            om = dpol["os_mix"][types[ti]]
            shares = om.get(regions[ring_region[r]], om["default"])
            ocdf = np.cumsum(list(shares.values()))
            m = t == ti
            k = np.minimum(np.searchsorted(ocdf / ocdf[-1], u[m, 1], side="right"), len(shares) - 1)
            os_[m] = np.array(list(shares), object)[k]
        os_ = os_.tolist()
        dev["ring"].append(np.full(n, r))
        dev["type"] += [types[i] for i in t.tolist()]
        dev["os"] += os_
        dev["age"] += [
            ages[min(int(i), len(ages) - 1)]
            for i in np.searchsorted(acdf / acdf[-1], u[:, 2], side="right").tolist()
        ]
        dev["first_seen"].append(ref_day - np.floor(u[:, 3] * 181).astype(np.int64))
        ips = ips_of_ring[r]
        if ips.size:
            n_typ = 1 + np.floor(u[:, 4] * 3).astype(np.int64)
            n_prx = 1 + np.floor(u[:, 5] * 2).astype(np.int64)
            for j, role, cnt in (
                (6, 0, n_typ),
                (7, 0, n_typ),
                (8, 0, n_typ),
                (9, 2, n_prx),
                (10, 2, n_prx),
            ):
                k = j - 6 if role == 0 else j - 9
                take = k < cnt
                pick = ips[np.floor(u[:, j] * ips.size).astype(np.int64)]
                edges["dev"].append(n_dev + np.flatnonzero(take))
                edges["ip"].append(pick[take])
                edges["role"].append(np.full(int(take.sum()), role))
        n_dev += n
    cat = {
        k: (np.concatenate(v) if v and isinstance(v[0], np.ndarray) else np.array(v))
        for k, v in dev.items()
    }
    e = {k: np.concatenate(v) if v else np.zeros(0, np.int64) for k, v in edges.items()}
    # the first pick of a (device, ip) pair owns it (typical before proxy)
    if e["dev"].size:
        _, first = np.unique(e["dev"] * (1 << 32) + e["ip"], return_index=True)
        first = np.sort(first)
        e = {k: v[first] for k, v in e.items()}
    return cat, e


def operator_access(rng, pol, op_ring, ring_accounts, expect):
    """ACCOUNT_ACCESS from each operator device to each of its ring's mule accounts on an
    ``operator_access`` coin; one unit per candidate edge in (device, account) order."""
    fam = rng.family("operator_access")
    d_out, a_out = [], []
    for r, accs in enumerate(ring_accounts):
        devs = np.flatnonzero(op_ring == r)
        n = devs.size * accs.size
        if n == 0:
            continue
        u = uniform01(fam.units(f"ring|{r}", n, 1))[:, 0].reshape(devs.size, accs.size)
        base.count(expect, "6A.S5.operator_access", 1, 2 * n)
        hit = u < pol["rings"]["operator_access"]
        d_out.append(np.repeat(devs, accs.size)[hit.reshape(-1)])
        a_out.append(np.tile(accs, devs.size)[hit.reshape(-1)])
    if not d_out:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(d_out), np.concatenate(a_out)
