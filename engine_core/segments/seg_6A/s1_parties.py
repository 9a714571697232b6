"""6A.S1 — parties and households (layer3 §3.2).

Country weights from outlets and baseline weekly arrivals, the world size with its one
lognormal scale draw, LRR country counts, one joint LRR over each country's (type, segment)
cells, home 1°-cells by alias over site density, traits per party, and households walked
over a shuffle of each home cell's retail parties. Python touches countries and cells only.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
from numba import njit

from engine_core.errors import EngineError
from engine_core.kernels.alloc import lrr
from engine_core.rng.alias import build_alias_table
from engine_core.rng.detmath import exp
from engine_core.rng.samplers import as241
from engine_core.rng.uniform import uniform01
from engine_core.segments.seg_6A import base
from engine_core.segments.seg_6A.api import cell_of
from engine_core.segments.seg_6A.base import PARTY_TYPES, ln1, power, round_half_even
from engine_core.segments.seg_6A.checks_integrity import i01_ids, i03_counts, i05_regions, i07_trace
from engine_core.segments.state_io import open_state

STATE = "6A.S1"
TENURE_BANDS = ("LT1Y", "Y1_3", "Y3_10", "GT10Y")


def cell_plan(seg: dict, region: str) -> tuple[list[tuple[str, str]], np.ndarray]:
    """The (type, segment) cells of a region in canonical order and their weights
    β_t(r)·μ_{t,s}(r) (by-region mixes are partial overrides, renormalised per type)."""
    share = seg["business_share"].get(region, seg["business_share"]["default"])
    mix = dict(seg["segment_mix"]["default"])
    mix.update(seg["segment_mix"].get("by_region", {}).get(region, {}))
    cells, w = [], []
    for t in seg["party_types"]:
        segs = seg["segments"][t]
        tot = sum(mix[s] for s in segs)
        beta = share if t == "BUSINESS" else 1.0 - share
        for s in segs:
            cells.append((t, s))
            w.append(beta * mix[s] / tot)
    return cells, np.array(w)


def country_weights(pop: dict, outlets: np.ndarray, volume: np.ndarray) -> np.ndarray:
    cw = pop["country_weight"]
    w = power(outlets + cw["outlet_offset"], cw["outlet_exponent"])
    if pop["mode"] == "arrivals_based_v1":
        w = w * power(volume + cw["arrival_offset"], cw["arrival_exponent"])
    pi = w / w.sum()
    pi = np.maximum(pi, cw["floor_share"])
    return pi / pi.sum()


@njit(nogil=True, cache=True)
def households_nb(offsets, shuffle_u, size_u, cdf):
    """Walk each home cell's retail parties in shuffle order (ties: rank), each household
    start drawing its size from ``cdf`` (capped by the parties left). Returns the cell-local
    household number and the household size of every party (inputs in rank order)."""
    n = shuffle_u.shape[0]
    hh = np.empty(n, dtype=np.int64)
    size = np.empty(n, dtype=np.int64)
    count = np.zeros(offsets.shape[0] - 1, dtype=np.int64)
    for c in range(offsets.shape[0] - 1):
        a, b = offsets[c], offsets[c + 1]
        order = np.argsort(shuffle_u[a:b], kind="mergesort") + a
        pos = 0
        h = 0
        m = b - a
        while pos < m:
            u = size_u[order[pos]]
            k = 0
            while k < cdf.shape[0] - 1 and u >= cdf[k]:
                k += 1
            s = min(k + 1, m - pos)
            for t in range(pos, pos + s):
                hh[order[t]] = h
                size[order[t]] = s
            pos += s
            h += 1
        count[c] = h
    return hh, size, count


def home_cells(lat, lon, tz_codes, grid: float):
    """Site cells ``(⌊lat/g⌋+90/g)·(360/g) + ⌊lon/g⌋+180/g``, their site counts and modal
    tzid code (ties: lexicographically smallest, codes being sorted tzids)."""
    cell = cell_of(lat, lon, grid)
    cells, inv, counts = np.unique(cell, return_inverse=True, return_counts=True)
    pair = inv.astype(np.int64) * (int(tz_codes.max()) + 1 if tz_codes.size else 1) + tz_codes
    pairs, pc = np.unique(pair, return_counts=True)
    pcell = pairs // (int(tz_codes.max()) + 1 if tz_codes.size else 1)
    ptz = pairs % (int(tz_codes.max()) + 1 if tz_codes.size else 1)
    order = np.lexsort((ptz, -pc, pcell))  # per cell: most sites first, then smallest tzid
    first = order[np.r_[True, pcell[order][1:] != pcell[order][:-1]]]
    return cells, counts, ptz[first]


def run(ctx):
    io = open_state(ctx, STATE)
    pop = io.policy("population_6A")
    seg = io.policy("segmentation_6A")
    reference_date = dt.date.fromisoformat(io.read_json("s0_gate_receipt_6A")["reference_date"])
    ref_day = base.day_number(reference_date)

    outlets = io.read_table("outlet_catalogue", ["legal_country_iso"]).column(0)
    sites = io.read_table("site_locations", ["site_id", "legal_country_iso", "lat_deg", "lon_deg"])
    tz = io.read_table("site_timezones", ["site_id", "tzid"])
    mzp = io.read_table("merchant_zone_profile_5A", ["legal_country_iso", "weekly_volume"])
    world = sorted(set(outlets.unique().to_pylist()))
    if not world:
        raise EngineError("NO_OUTLETS", STATE, "outlet_catalogue has no outlet")
    region = base.regions_of(io.policy("countries_6A"), io.policy("region_map_6A"), world, STATE)

    o_c = np.bincount(base.codes_of(outlets, world), minlength=len(world)).astype(np.float64)
    v_codes = base.codes_of(mzp.column(0), world, missing=-1)
    vol = mzp.column(1).to_numpy()
    v_c = np.bincount(v_codes[v_codes >= 0], vol[v_codes >= 0], minlength=len(world))
    pi = country_weights(pop, o_c, v_c)

    rng = base.StateRng(ctx, STATE)
    ws = pop["world_size"]
    if pop["mode"] == "arrivals_based_v1":
        n_star = float(v_c.sum()) / (
            ws["arrivals_per_active_party_per_week"] * ws["active_fraction"]
        )
    else:
        n_star = float(o_c.sum()) * ws["parties_per_outlet"]
    if not np.isfinite(n_star) or n_star <= 0:
        raise EngineError("WORLD_SIZE_INVALID", STATE, f"N* = {n_star}: no demand to size from")
    z = float(as241(uniform01(rng.family("world_scale").units("world", 1, 1)[:, 0]))[0])
    scaled = n_star * pop["scale_factor"] * float(ln1(ws["world_scale_sigma"], [z])[0])
    n_world = min(max(round_half_even(scaled), pop["n_world"]["min"]), pop["n_world"]["max"])
    n_c = lrr(n_world, pi, np.arange(len(world), dtype=np.float64), state=STATE, where="N_c")

    # (type, segment) cells per country: one joint LRR each, tb = one uniform per cell
    plans = [cell_plan(seg, region[c]) for c in world]
    tb = rng.family("split_tb").cells(world, [len(p[0]) for p in plans], 1)
    seg_vocab = [s for t in seg["party_types"] for s in seg["segments"][t]]
    cell_country, cell_type, cell_seg, cell_n, cell_share, off = [], [], [], [], [], 0
    for i, c in enumerate(world):
        cells, w = plans[i]
        n_ts = lrr(
            int(n_c[i]),
            w,
            uniform01(tb[off : off + len(cells), 0]),
            state=STATE,
            where=f"{c} party type × segment",
        )
        off += len(cells)
        for (t, s_), n, share in zip(cells, n_ts, w / w.sum(), strict=True):
            cell_country.append(i)
            cell_type.append(PARTY_TYPES.index(t))
            cell_seg.append(seg_vocab.index(s_))
            cell_n.append(int(n))
            cell_share.append(float(pi[i] * share))
    cell_n = np.array(cell_n, np.int64)
    cell_keys = [
        f"{world[c]}|{PARTY_TYPES[t]}|{seg_vocab[s_]}"
        for c, t, s_ in zip(cell_country, cell_type, cell_seg, strict=True)
    ]
    words = rng.family("party_attr").cells(cell_keys, cell_n, 3)
    u = uniform01(words)
    country = np.repeat(np.array(cell_country, np.int64), cell_n)
    ptype = np.repeat(np.array(cell_type, np.int64), cell_n)
    pseg = np.repeat(np.array(cell_seg, np.int64), cell_n)
    n = int(cell_n.sum())

    cell_id, tzid_code, tz_vocab = _home_cells(pop, world, country, words[:, 0], sites, tz)
    attrs = _traits(pop, seg, seg_vocab, pseg, u, ref_day)
    hh_id, hh_size, groups, n_hh = _households(ctx, rng, pop, world, country, ptype, cell_id)

    party_id = base.mint(ctx, "party", 0, n)
    regions = sorted(set(region.values()))
    reg_code = np.array([regions.index(region[c]) for c in world], np.int64)[country]
    table = pa.table(
        {
            "party_id": party_id,
            "party_type": base.coded(ptype, list(PARTY_TYPES)),
            "segment_id": base.coded(pseg, seg_vocab),
            "country_iso": base.coded(country, world, dictionary=False),
            "region_id": base.coded(reg_code, regions),
            "home_cell_id": pa.array(cell_id.astype(np.uint32)),
            "home_tzid": base.coded(tzid_code, tz_vocab),
            "household_id": base.nullable_u64(hh_id, ptype == 0),
            "household_size": pa.array(hh_size.astype(np.uint8)),
            "customer_since": base.dates(attrs["customer_since"]),
            "tenure_band": base.coded(attrs["tenure_band"], list(TENURE_BANDS)),
            "activity_cp": pa.array(attrs["activity_cp"].astype(np.float32)),
            "activity_cnp": pa.array(attrs["activity_cnp"].astype(np.float32)),
            "travel_propensity": pa.array(attrs["travel"].astype(np.float32)),
        }
    )

    # integrity, before anything is published (a failure publishes nothing)
    i01_ids(STATE, "s1_party_base_6A", party_id)
    plan = np.array(cell_n)
    realised = np.bincount(np.repeat(np.arange(cell_n.size), cell_n), minlength=cell_n.size)
    i03_counts(STATE, "parties per (country, type, segment)", realised, plan)
    i05_regions(
        STATE,
        "s1_party_base_6A",
        world,
        region,
        io.policy("countries_6A"),
        io.policy("region_map_6A"),
    )
    i07_trace(
        STATE,
        rng.ledger,
        {
            "6A.S1.world_scale": (1, 2),
            "6A.S1.split_tb": (len(world), 2 * sum(len(p[0]) for p in plans)),
            "6A.S1.party_attr": (int((cell_n > 0).sum()), 6 * n),
            "6A.S1.household": (groups, 2 * int((ptype == 0).sum())),
        },
    )

    base.write_sorted(io, "s1_party_base_6A", table, party_id)
    order = sorted(
        range(cell_n.size),
        key=lambda k: (world[cell_country[k]], PARTY_TYPES[cell_type[k]], seg_vocab[cell_seg[k]]),
    )  # ≤ 2 000 cells
    io.write(
        "s1_party_summary_6A",
        [
            pa.table(
                {
                    "country_iso": [world[cell_country[k]] for k in order],
                    "region_id": [region[world[cell_country[k]]] for k in order],
                    "party_type": [PARTY_TYPES[cell_type[k]] for k in order],
                    "segment_id": [seg_vocab[cell_seg[k]] for k in order],
                    "n_parties": pa.array([int(cell_n[k]) for k in order], pa.uint32()),
                    "target_share": [cell_share[k] for k in order],
                }
            )
        ],
    )
    io.write_json(
        "s1_world_plan_6A",
        {
            "N_star": n_star,
            "N": int(n_world),
            "world_scale_z": z,
            "countries": {
                c: {"weight": float(pi[i]), "N_c": int(n_c[i])} for i, c in enumerate(world)
            },
        },
    )
    io.publish_ledger(rng.ledger)
    return io.result(
        rows=n,
        metadata={
            "parties": n,
            "households": n_hh,
            "countries": len(world),
        },
    )


def _home_cells(pop, world, country, pick_words, sites, tz):
    """Each party's home cell (alias over its country's cell weights) and the cell's modal
    tzid. HOME_CELL_EMPTY names a country with parties but no geolocated site."""
    hc = pop["home_cell"]
    tz_sorted = tz.sort_by("site_id")
    sid = sites.column("site_id").to_numpy()
    tz_ids = tz_sorted.column("site_id").to_numpy()
    pos = np.searchsorted(tz_ids, sid)
    if (
        sid.size
        and (pos >= tz_ids.size).any()
        or sid.size
        and (tz_ids[np.minimum(pos, tz_ids.size - 1)] != sid).any()
    ):
        raise EngineError(
            "SITE_UNLOCATED", STATE, "a site of site_locations has no site_timezones row"
        )
    tz_vocab = sorted(set(tz_sorted.column("tzid").unique().to_pylist()))
    tz_code_all = base.codes_of(tz_sorted.column("tzid"), tz_vocab)[pos]
    s_country = base.codes_of(sites.column("legal_country_iso"), world, missing=-1)
    lat = sites.column("lat_deg").to_numpy()
    lon = sites.column("lon_deg").to_numpy()
    cell_id = np.zeros(country.size, np.int64)
    tz_code = np.zeros(country.size, np.int64)
    starts = np.searchsorted(country, np.arange(len(world) + 1))
    for i, c in enumerate(world):
        a, b = starts[i], starts[i + 1]
        if a == b:
            continue
        m = s_country == i
        if not m.any():
            raise EngineError("HOME_CELL_EMPTY", STATE, f"{c}: {b - a} parties, no geolocated site")
        cells, cnt, modal = home_cells(lat[m], lon[m], tz_code_all[m], hc["grid_deg"])
        table = build_alias_table(cells, power(cnt + hc["smoothing"], hc["site_exponent"]), STATE)
        slot = table.order[table.pick(pick_words[a:b])]
        cell_id[a:b] = cells[slot]
        tz_code[a:b] = modal[slot]
    return cell_id, tz_code, tz_vocab


def _traits(pop, seg, seg_vocab, pseg, u, ref_day):
    prof = np.array([seg["profiles"][s] for s in seg_vocab], np.float64)  # years, cp, cnp, travel
    ten, act = pop["tenure"], pop["activity"]
    z_ten, z_a, z_c, z_tr = (as241(u[:, k]) for k in (1, 2, 3, 4))
    days = 365.0 * prof[pseg, 0] * exp(ten["sigma"] * z_ten)
    days = np.clip(np.floor(days), 1, 365 * ten["max_years"]).astype(np.int64)
    years = days / 365.0
    band = np.searchsorted(np.array([1.0, 3.0, 10.0]), years, side="right")
    sa, rho = act["sigma"], act["rho_cp_cnp"]
    return {
        "customer_since": ref_day - days,
        "tenure_band": band,
        "activity_cp": prof[pseg, 1] * ln1(sa, z_a),
        "activity_cnp": prof[pseg, 2]
        * exp(sa * (rho * z_a + np.sqrt(1 - rho * rho) * z_c) - 0.5 * sa * sa),
        "travel": prof[pseg, 3] * ln1(act["travel_sigma"], z_tr),
    }


def _households(ctx, rng, pop, world, country, ptype, cell_id):
    """Household ordinals in creation order (country, home cell, walk position)."""
    n = country.size
    hh = np.full(n, -1, np.int64)
    size = np.zeros(n, np.int64)
    retail = np.flatnonzero(ptype == 0)
    if retail.size == 0:
        return hh, size, 0, 0
    order = retail[np.lexsort((retail, cell_id[retail], country[retail]))]
    g_country, g_cell = country[order], cell_id[order]
    new = np.r_[True, (g_country[1:] != g_country[:-1]) | (g_cell[1:] != g_cell[:-1])]
    starts = np.flatnonzero(new)
    offsets = np.r_[starts, order.size].astype(np.int64)
    keys = [
        f"{world[c]}|{k}"
        for c, k in zip(g_country[starts].tolist(), g_cell[starts].tolist(), strict=True)
    ]
    w = uniform01(rng.family("household").cells(keys, np.diff(offsets), 1))
    pmf = np.asarray(pop["households"]["size_pmf"], np.float64)
    cdf = np.cumsum(pmf) / pmf.sum()
    local, sz, count = households_nb(offsets, w[:, 0], w[:, 1], cdf)
    first = np.r_[0, np.cumsum(count)[:-1]]
    group = np.repeat(np.arange(starts.size), np.diff(offsets))
    hh[order] = first[group] + local
    size[order] = sz
    n_households = int(count.sum())
    ids = base.mint(ctx, "household", 0, max(n_households, 1))[np.maximum(hh, 0)]
    return np.where(hh >= 0, ids, 0), size, int(starts.size), n_households
