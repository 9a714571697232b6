"""6B.S1 world: every table the arrival kernel reads, built once per scenario (layer3 §4.2
step 1), and the call that runs the kernel on one chunk of 5B arrivals."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from engine_core.errors import EngineError
from engine_core.kernels.lookup import find_sorted
from engine_core.rng.samplers import as241
from engine_core.rng.uniform import uniform01
from engine_core.segments.columns import codes_of
from engine_core.segments.seg_6A.api import cell_of, regions_of
from engine_core.segments.seg_6B import s1_attach as K
from engine_core.segments.seg_6B import s1_tables as T
from engine_core.segments.seg_6B import s1_trips
from engine_core.segments.seg_6B.affinity import affinity_matrix
from engine_core.segments.seg_6B.s1_params import Params, group_of_mcc, params

STATE = "6B.S1"


@dataclass
class World:
    countries: list[str]
    regions: list[str]
    region_of: np.ndarray  # region code per country code
    segments: list[str]
    tzids: list[str]
    par: Params
    affinity: np.ndarray
    h0: int  # UTC µs
    h_end: int
    # merchants (rows in merchant_id order)
    m_id: np.ndarray
    m_mcc: np.ndarray
    m_grp: np.ndarray
    m_country: np.ndarray
    m_tau: np.ndarray
    m_quasi: np.ndarray
    m_stream: tuple[np.ndarray, np.ndarray, np.ndarray]
    # sites (rows in site_id order)
    s_id: np.ndarray
    s_country: np.ndarray
    s_local: np.ndarray  # (sites, 2) LOCAL group per party type
    parties: T.Parties
    inst: T.Instruments
    dev: T.Devices
    routes: T.Routes
    trips: s1_trips.Trips
    rosters: object
    roster_mass: np.ndarray
    n_days: int
    accounts: dict
    dests: object  # trip destinations / transfer corridors (Csr per home country)
    household: np.ndarray  # household row per party (−1: none)
    access_account: tuple[np.ndarray, np.ndarray]  # ACCOUNT_ACCESS (device row, account row)

    @cached_property
    def trip_ptr(self) -> np.ndarray:
        """Party row → its trips' range (trips are sorted by party)."""
        ptr = np.zeros(self.parties.id.size + 1, np.int64)
        np.cumsum(np.bincount(self.trips.party, minlength=self.parties.id.size), out=ptr[1:])
        return ptr


def _countries(io) -> list[str]:
    ref = io.read_table("s1_country_reference", ["country_iso"])
    return sorted(ref.column(0).to_pylist())


def build(io, ctx, rng, pols: dict, h0: int, h_end: int, tzids: list[str]) -> World:
    countries = _countries(io)
    cmap = regions_of(pols["countries_6A"], pols["region_map_6A"], countries, STATE)
    regions = sorted(set(cmap.values()))
    region_of = np.array([regions.index(cmap[c]) for c in countries], np.int64)
    seg_pol = pols["segmentation_6A"]
    segments = [s for t in seg_pol["party_types"] for s in seg_pol["segments"][t]]
    par = params(
        pols["attachment_6B"],
        pols["amounts_6B"],
        pols["auth_6B"],
        pols["legit_flows_6B"],
        regions,
        segments,
    )
    aff = affinity_matrix(pols["attachment_6B"], regions)
    # merchants and their price tilt τ_m (scenario-free stream: same in every scenario)
    mu = io.read_table("merchant_universe", ["merchant_id", "home_country_iso", "mcc"])
    m_id = mu.column("merchant_id").to_numpy()
    mcc = mu.column("mcc").to_numpy().astype(np.int64)
    keys = [str(int(x)) for x in m_id.tolist()]  # one key per merchant (the L3.3 domain key)
    tilt = rng.family("merchant_tilt").cells(keys, np.ones(m_id.size, np.int64), 1)
    tau = pols["amounts_6B"]["merchant_tilt_sigma"] * as241(uniform01(tilt[:, 0]))
    quasi = np.isin(mcc, [int(x) for x in pols["amounts_6B"]["quasi_cash_mcc"]])
    stream = rng.family("attach").prefix.derive_many(keys)
    # sites: legal country and 1° home cell (6A's grid)
    sl = io.read_table("site_locations", ["site_id", "legal_country_iso", "lat_deg", "lon_deg"])
    s_id = sl.column("site_id").to_numpy()
    order = np.argsort(s_id, kind="stable")
    s_id = s_id[order]
    s_country = codes_of(sl.column("legal_country_iso"), countries)[order]
    grid = float(pols["population_6A"]["home_cell"]["grid_deg"])
    s_cell = cell_of(
        sl.column("lat_deg").to_numpy()[order], sl.column("lon_deg").to_numpy()[order], grid
    )
    parties = T.parties(io, countries, segments, tzids)
    acc = io.read_table(
        "s2_account_base_6A", ["account_id", "owner_party_id", "currency", "is_primary"]
    )
    accounts = {
        "id": acc.column("account_id").to_numpy(),
        "owner": find_sorted(parties.id, acc.column("owner_party_id").to_numpy()),
        "currency": acc.column("currency"),
        "primary": acc.column("is_primary").to_numpy(zero_copy_only=False),
    }
    dev = T.devices(io, parties, pols["attachment_6B"], s_id, countries)
    inst = T.instruments(io, parties, par, dev.id, accounts["id"])
    routes = T.routes(parties, inst, region_of, aff, len(countries))
    s_local = T.local_group(routes, s_cell, s_country, len(countries))
    oc = io.read_table("outlet_catalogue", ["legal_country_iso"])
    outlets = np.bincount(codes_of(oc.column(0), countries), minlength=len(countries))
    dests = s1_trips.destinations(countries, region_of, outlets, aff)
    pdict = {"ptype": parties.ptype, "country": parties.country, "travel": parties.travel,
             "act_cp": parties.act_cp}  # fmt: skip
    trips = s1_trips.plan_trips(rng, pdict, pols["attachment_6B"], countries, dests, h0, h_end)
    rosters, mass, n_days = s1_trips.rosters(
        trips, pdict, len(countries), h0, h_end, can_pay=inst.cp.sizes() > 0
    )
    return World(
        countries, regions, region_of, segments, tzids, par, aff, h0, h_end,
        m_id, mcc, group_of_mcc(par, mcc), codes_of(mu.column("home_country_iso"), countries),
        tau, quasi, stream, s_id, s_country, s_local, parties, inst, dev, routes, trips,
        rosters, mass, n_days, accounts, dests, _households(io, parties),
        _access(io, dev.id, accounts["id"]),
    )  # fmt: skip


def _households(io, parties) -> np.ndarray:
    hh = io.read_table("s1_party_base_6A", ["household_id"]).column(0)
    ids = hh.fill_null(0).to_numpy()
    uniq, inv = np.unique(ids, return_inverse=True)
    return np.where(ids == 0, -1, inv.ravel() - (1 if uniq.size and uniq[0] == 0 else 0))


def _access(io, dev_ids, account_ids):
    t = io.read_table("s4_device_links_6A", ["device_id", "link_role", "account_id"])
    role = codes_of(t.column("link_role"), ["ACCOUNT_ACCESS"], missing=-1)
    keep = role == 0
    dev = find_sorted(dev_ids, t.column("device_id").to_numpy()[keep])
    acc = find_sorted(account_ids, t.column("account_id").fill_null(0).to_numpy()[keep])
    return dev, acc


def attach(w: World, merchant_row, seq, ts, virtual, site_row) -> dict:
    """Run the arrival kernel on one chunk (rows in 5B order); returns its output arrays."""
    p, inst, dev, rt = w.parties, w.inst, w.dev, w.routes
    out = K.attach_nb(
        np.ascontiguousarray(merchant_row, np.int64),
        np.ascontiguousarray(seq, np.int64),
        np.ascontiguousarray(ts, np.int64),
        np.ascontiguousarray(virtual, np.bool_),
        np.ascontiguousarray(site_row, np.int64),
        w.m_stream[0], w.m_stream[1], w.m_stream[2], w.m_grp, w.m_country,
        w.region_of[w.m_country], w.m_tau, w.m_quasi,
        w.s_country, w.region_of[w.s_country], w.s_local[:, 0].copy(), w.s_local[:, 1].copy(),
        dev.terminals.ptr, dev.terminals.items,
        *rt.local.weighted(), *rt.domestic_cp.weighted(), *rt.domestic_cnp.weighted(),
        *rt.cross_border.weighted(), *w.rosters.weighted(), w.roster_mass, rt.residents,
        np.int64(w.h0), np.int64(w.n_days),
        p.country, p.seg, w.trip_ptr, w.trips.start, w.trips.end, w.trips.dest,
        *inst.cp.weighted(), *inst.cnp.weighted(),
        inst.type, inst.bound, inst.cof.ptr, inst.cof.items,
        np.int64(T.WALLET), np.int64(T.PREPAID),
        *dev.of_party.weighted(), *dev.ips.weighted(), *dev.trip_pool.weighted(),
        w.par.business_share, w.par.ln_median, w.par.sigma, w.par.seg_shift, w.par.seg_beta,
        w.par.beta0, w.par.code_cdf, w.par.entry_cdf, w.par.auth_cdf, w.par.p_cnp_domestic,
        w.par.p_refund, w.par.p_verify,
        np.array([w.par.scalars[k] for k in K.SCALARS]), np.int64(w.h_end),
    )  # fmt: skip
    names = (
        "ptype", "route", "party", "instrument", "device", "ip", "terminal", "amount_usd",
        "approved", "code", "entry", "auth", "cross_border", "refund_ts", "refund_usd",
        "refund_linked", "verify_ts", "verify_one", "fallbacks", "err", "device_used",
    )  # fmt: skip
    res = dict(zip(names, out, strict=True))
    code, where = (int(x) for x in res["err"])
    if code == K.ERR_NO_PARTY:
        raise EngineError(
            "NO_ELIGIBLE_PARTY",
            STATE,
            f"country {w.countries[where]}: arrivals but no carded party of either type",
        )
    if code == K.ERR_NO_TERMINAL:
        raise EngineError(
            "ARRIVAL_UNROUTABLE",
            STATE,
            f"arrival_events_5B: CP arrival at site {int(w.s_id[site_row[where]])} "
            "whose site has no terminal",
        )
    if code == K.ERR_NO_INSTRUMENT:
        raise EngineError(
            "NO_ELIGIBLE_PARTY", STATE, f"party {int(res['party'][where])} drawn without a card"
        )
    return res
