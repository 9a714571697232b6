"""6B realism gates over the legitimate world (layer3 §4.7: R02, R03, R05), measured by
6B.S5 from ``s1_legit_txns_6B``. One streamed pass over the ARRIVAL-sourced rows (the rows the
attachment law drew; refunds, verifications and flows follow other laws) accumulates every
count: route and residency shares, per-MCC-group moments and a fine histogram of the
de-tilted log amounts (exact medians to 10^-3 in log without holding 1.2×10^8 values), and
purchases per instrument. Pure accumulators are tested on synthetic arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine_core.checks import Outcome
from engine_core.rng.samplers import as241
from engine_core.rng.uniform import uniform01
from engine_core.rng.units import StateRng
from engine_core.segments.seg_6A.api import cell_of
from engine_core.segments.seg_6B import constants as K
from engine_core.segments.seg_6B import gates_base as B
from engine_core.segments.seg_6B import txn as X
from engine_core.segments.seg_6B.families import FAMILIES
from engine_core.segments.seg_6B.s1_params import mcc_groups

S1 = "s1_legit_txns_6B"
COLS = [
    "source", "channel", "txn_type", "is_cross_border", "party_id", "site_id", "merchant_id",
    "instrument_id", "amount_usd",
]  # fmt: skip
DOMAIN_SEP = "fw.l3.v1"
SPAN = 12.0  # histogram half-width in log units (clip bounds are ±4 of any group median)


def merchant_tilts(ctx, merchant_ids: np.ndarray, sigma: float) -> np.ndarray:
    """τ_m replayed from ``6B.S1.merchant_tilt`` (scenario "" — the same in every scenario):
    slot 0 of each merchant's one-unit stream, AS241, times ``merchant_tilt_sigma``. The
    replay's ledger is discarded (6B.S1 traced these draws)."""
    rng = StateRng(ctx, "6B.S1", FAMILIES, DOMAIN_SEP)
    keys = [str(int(x)) for x in np.asarray(merchant_ids, np.uint64).tolist()]
    words = rng.family("merchant_tilt").cells(keys, np.ones(len(keys), np.int64), 1, trace=False)
    return sigma * as241(uniform01(words[:, 0]))


@dataclass
class World:
    """The lookups of the pass: parties, sites, merchants (group, τ_m), instruments."""

    parties: B.Ids
    home_cell: np.ndarray
    seg_shift: np.ndarray  # per party row: β_seg
    retail: np.ndarray  # per party row
    sites: B.Ids
    site_cell: np.ndarray
    merchants: B.Ids
    m_group: np.ndarray
    m_tau: np.ndarray
    instruments: B.Ids
    holder: np.ndarray  # party row per instrument row (−1: unknown)
    ln_median: np.ndarray  # per group
    travel_shift: float


def world(ctx) -> World:
    amt = B.policy(ctx, "amounts_6B")
    grid = float(B.policy(ctx, "population_6A")["home_cell"]["grid_deg"])
    pb = B.table(ctx, "s1_party_base_6A", ["party_id", "party_type", "segment_id", "home_cell_id"])
    seg = pb.column("segment_id").cast(pa.string())
    vocab = sorted(v for v in pc.unique(seg).to_pylist() if v is not None)
    shift = np.array([float(amt["segment_log_shift"].get(s, 0.0)) for s in vocab] + [0.0])
    sl = B.table(ctx, "site_locations", ["site_id", "lat_deg", "lon_deg"])
    mu = B.table(ctx, "merchant_universe", ["merchant_id", "mcc"])
    names, of = mcc_groups(amt)
    lut = np.full(10_000, len(names) - 1, np.int64)  # unlisted MCCs: DEFAULT (last)
    for m, g in of.items():
        lut[m] = g
    m_id = B.u64(mu.column("merchant_id"))
    ib = B.table(ctx, "s3_instrument_base_6A", ["instrument_id", "holder_party_id"])
    parties = B.Ids(B.u64(pb.column("party_id")))
    return World(
        parties=parties,
        home_cell=pb.column("home_cell_id").to_numpy().astype(np.int64),
        seg_shift=shift[B.code(seg, vocab)],
        retail=B.code(pb.column("party_type"), ["RETAIL"]) == 0,
        sites=B.Ids(B.u64(sl.column("site_id"))),
        site_cell=cell_of(sl.column("lat_deg").to_numpy(), sl.column("lon_deg").to_numpy(), grid),
        merchants=B.Ids(m_id),
        m_group=lut[mu.column("mcc").to_numpy().astype(np.int64)],
        m_tau=merchant_tilts(ctx, m_id, float(amt["merchant_tilt_sigma"])),
        instruments=B.Ids(B.u64(ib.column("instrument_id"))),
        holder=parties.rows(B.u64(ib.column("holder_party_id"))),
        ln_median=np.log([float(amt["groups"][g]["median_usd"]) for g in names]),
        travel_shift=float(amt["traveller_log_shift"]),
    )


@dataclass
class Acc:
    """Streamed sums of the S1 pass."""

    n_groups: int
    n_merchants: int
    n_instruments: int
    bin: float = K.R03_BIN
    route: dict = field(default_factory=lambda: dict.fromkeys(
        ("cp_n", "cp_resident", "cp_home_cell", "cnp_n", "cnp_cross_border"), 0))  # fmt: skip
    hist: np.ndarray = None
    moments: np.ndarray = None  # (groups, 3): n, Σr, Σr²
    merchant_rows: np.ndarray = None
    inst_purchases: np.ndarray = None

    def __post_init__(self):
        nb = int(round(2 * SPAN / self.bin))
        self.hist = np.zeros((self.n_groups, nb), np.int64)
        self.moments = np.zeros((self.n_groups, 3))
        self.merchant_rows = np.zeros(self.n_merchants, np.int64)
        self.inst_purchases = np.zeros(self.n_instruments, np.int64)

    def add_routes(self, cp, resident, home_cell, cnp, cross_border) -> None:
        r = self.route
        r["cp_n"] += int(cp.sum())
        r["cp_resident"] += int((cp & resident).sum())
        r["cp_home_cell"] += int((cp & home_cell).sum())
        r["cnp_n"] += int(cnp.sum())
        r["cnp_cross_border"] += int((cnp & cross_border).sum())

    def add_amounts(self, group, resid, merchant_row) -> None:
        """``resid``: ln amount_usd − τ_m − β_seg − β_travel − ln median_g per row."""
        ng, nb = self.hist.shape
        for k, w in enumerate((None, resid, resid * resid)):  # bincount: no per-row scatter
            self.moments[:, k] += np.bincount(group, w, minlength=ng)
        b = np.clip(np.floor((resid + SPAN) / self.bin).astype(np.int64), 0, nb - 1)
        self.hist += np.bincount(group * nb + b, minlength=ng * nb).reshape(ng, nb)
        self.merchant_rows += np.bincount(merchant_row, minlength=self.n_merchants)

    def add_purchases(self, inst_row) -> None:
        self.inst_purchases += np.bincount(inst_row, minlength=self.n_instruments)

    def median(self, g: int) -> float:
        """The histogram median, linearly interpolated inside its bin."""
        h = self.hist[g]
        n = h.sum()
        cum = np.cumsum(h)
        k = int(np.searchsorted(cum, n / 2))
        below = cum[k - 1] if k else 0
        frac = (n / 2 - below) / h[k] if h[k] else 0.5
        return -SPAN + (k + frac) * self.bin


def scan_s1(ctx) -> tuple[World, Acc]:
    def build():
        w = world(ctx)
        acc = Acc(w.ln_median.size, w.merchants.n, w.instruments.n)
        for rb in B.batches(ctx, S1, COLS):
            add_batch(acc, w, rb)
        return w, acc

    names = (S1, "s1_party_base_6A", "site_locations", "merchant_universe", "s3_instrument_base_6A")
    return B.memo(ctx, "s1_scan", names, build)


def add_batch(acc: Acc, w: World, rb) -> None:
    arr = B.code(rb.column("source"), X.SOURCES) == 0
    if not arr.any():
        return
    t = rb.filter(pa.array(arr))
    ch = B.code(t.column("channel"), X.CHANNELS)
    xb = B.flag(t.column("is_cross_border"))
    prow = w.parties.rows(B.u64(t.column("party_id")))
    if (prow < 0).any():
        B.fail("I05", "an S1 payer is not in s1_party_base_6A")
    cp, cnp = ch == 0, ch == 1
    srow = w.sites.rows(B.u64(t.column("site_id")))
    in_cell = cp & (srow >= 0) & (w.home_cell[prow] == w.site_cell[np.maximum(srow, 0)])
    # resident = not cross-border: for CP the merchant country is the site's (§4.2 step 3)
    acc.add_routes(cp, ~xb, in_cell, cnp, xb)
    mrow = w.merchants.rows(B.u64(t.column("merchant_id")))
    if (mrow < 0).any():
        B.fail("I05", "an S1 merchant is not in merchant_universe")
    g = w.m_group[mrow]
    usd = t.column("amount_usd").to_numpy()
    # the kernel adds the traveller shift on the TRAVELLER route: a CP payer abroad
    shift = w.m_tau[mrow] + w.seg_shift[prow] + np.where(cp & xb, w.travel_shift, 0.0)
    acc.add_amounts(g, np.log(usd) - shift - w.ln_median[g], mrow)
    irow = w.instruments.rows(B.u64(t.column("instrument_id")))
    if (irow < 0).any():
        B.fail("I05", "an S1 instrument is not in s3_instrument_base_6A")
    acc.add_purchases(irow)


# --- R02 ------------------------------------------------------------------------------------
def r02_routes(r: dict) -> Outcome:
    cp, cnp = r["cp_n"], r["cnp_n"]
    res = B.share(r["cp_resident"], cp)
    cell = B.share(r["cp_home_cell"], cp)
    foreign = None if res is None else 1.0 - res
    xb = B.share(r["cnp_cross_border"], cnp)
    cp_on, cnp_on = cp >= K.R02_MIN_ROWS, cnp >= K.R02_MIN_ROWS
    parts = {
        "cp_resident": (res if cp_on else None, res is not None and res >= K.R02_CP_RESIDENT_MIN),
        "cp_home_cell": (
            cell if cp_on else None,
            cell is not None and cell >= K.R02_CP_HOME_CELL_MIN,
        ),
        "cp_foreign": (foreign if cp_on else None, B.inside(foreign, K.R02_CP_FOREIGN)),
        "cnp_cross_border": (xb if cnp_on else None, B.inside(xb, K.R02_CNP_CROSS_BORDER)),
    }
    thr = {"cp_resident": [K.R02_CP_RESIDENT_MIN, 1.0],
           "cp_home_cell": [K.R02_CP_HOME_CELL_MIN, 1.0], "cp_foreign": list(K.R02_CP_FOREIGN),
           "cnp_cross_border": list(K.R02_CNP_CROSS_BORDER),
           "min_rows": K.R02_MIN_ROWS}  # fmt: skip
    return B.combine(parts, thr, {"cp_rows": cp, "cnp_rows": cnp})


def r02(ctx) -> Outcome:
    return r02_routes(scan_s1(ctx)[1].route)


# --- R03 ------------------------------------------------------------------------------------
def r03_amounts(
    acc: Acc, groups: list[str], sigma: np.ndarray, tau: np.ndarray, sigma_tau
) -> Outcome:
    """Per group with ≥ R03_MIN_ROWS rows: exp(median residual) (the de-tilted median over the
    policy median) and s.d./σ_g; the s.d. of τ_m over the merchants with rows vs σ_τ."""
    parts, thr, extra = {}, {"min_rows": K.R03_MIN_ROWS, "min_merchants": K.R03_MIN_MERCHANTS}, {}
    mb = [1 - K.R03_MEDIAN_TOLERANCE, 1 + K.R03_MEDIAN_TOLERANCE]
    sb = [1 - K.R03_SD_TOLERANCE, 1 + K.R03_SD_TOLERANCE]
    for g, name in enumerate(groups):
        n, s1, s2 = acc.moments[g]
        extra[f"{name}.rows"] = int(n)
        thr[f"{name}.median_ratio"], thr[f"{name}.sd_ratio"] = mb, sb
        if n < K.R03_MIN_ROWS:
            parts[f"{name}.median_ratio"] = parts[f"{name}.sd_ratio"] = (None, True)
            continue
        med = float(np.exp(acc.median(g)))
        sd = float(np.sqrt(max(s2 / n - (s1 / n) ** 2, 0.0) * n / (n - 1))) / float(sigma[g])
        parts[f"{name}.median_ratio"] = (med, B.inside(med, mb))
        parts[f"{name}.sd_ratio"] = (sd, B.inside(sd, sb))
    live = tau[acc.merchant_rows > 0]
    tb = [1 - K.R03_TILT_SD_TOLERANCE, 1 + K.R03_TILT_SD_TOLERANCE]
    ratio = float(np.std(live, ddof=1) / sigma_tau) if live.size > 1 and sigma_tau > 0 else None
    parts["tilt_sd_ratio"] = (
        ratio if live.size >= K.R03_MIN_MERCHANTS else None,
        B.inside(ratio, tb),
    )
    thr["tilt_sd_ratio"] = tb
    extra["merchants_with_rows"] = int(live.size)
    return B.combine(parts, thr, extra)


def r03(ctx) -> Outcome:
    w, acc = scan_s1(ctx)
    amt = B.policy(ctx, "amounts_6B")
    names, _ = mcc_groups(amt)
    sigma = np.array([float(amt["groups"][g]["sigma"]) for g in names])
    return r03_amounts(acc, names, sigma, w.m_tau, float(amt["merchant_tilt_sigma"]))


# --- R05 ------------------------------------------------------------------------------------
def r05_top_share(inst_purchases, holder, retail) -> Outcome:
    """Per retail party with ≥ R05_MIN_PURCHASES arrival purchases: the share of its most
    used instrument (an instrument has one holder, so per-instrument counts suffice)."""
    keep = (holder >= 0) & (inst_purchases > 0)
    party, n = holder[keep], inst_purchases[keep]
    o = np.argsort(party, kind="stable")
    party, n = party[o], n[o]
    shares = np.zeros(0)
    if party.size:
        heads = np.flatnonzero(np.r_[True, party[1:] != party[:-1]])
        total, top = np.add.reduceat(n, heads), np.maximum.reduceat(n, heads)
        sel = (total >= K.R05_MIN_PURCHASES) & retail[party[heads]]
        shares = top[sel] / total[sel]
    med = float(np.median(shares)) if shares.size else None
    parts = {"median_top_share": (med if shares.size >= K.R05_MIN_PARTIES else None,
                                  B.inside(med, K.R05_TOP_SHARE))}  # fmt: skip
    thr = {"median_top_share": list(K.R05_TOP_SHARE), "min_purchases": K.R05_MIN_PURCHASES,
           "min_parties": K.R05_MIN_PARTIES}  # fmt: skip
    return B.combine(parts, thr, {"parties": int(shares.size)})


def r05(ctx) -> Outcome:
    w, acc = scan_s1(ctx)
    return r05_top_share(acc.inst_purchases, w.holder, w.retail)
