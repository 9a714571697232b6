"""1A.S3 — hurdle and outlet counts (RNG): single- vs multi-site, outlet count (NB2),
cross-border count and countries (Gumbel-top-K), and the outlet split (SYS)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.kernels.integerise import sys_batch_nb
from engine_core.rng import RngLedger, poisson_inv, uniform01
from engine_core.rng.detmath import exp, log
from engine_core.rng.samplers import wh_gamma
from engine_core.rng.streams import row_words
from engine_core.segments.common import lookup
from engine_core.segments.layer1_rng import DOMAIN_SEP, families
from engine_core.segments.state_io import open_state

STATE = "1A.S3"
DATASET = "s3_outlet_counts"
HURDLE, COUNT = "1A.S3.hurdle.v1", "1A.S3.outlet_count.v1"
K_FAM, PICK, SPLIT = "1A.S3.crossborder_k.v1", "1A.S3.crossborder_pick.v1", "1A.S3.outlet_split.v1"
FAMILIES = (HURDLE, COUNT, K_FAM, PICK, SPLIT)


def _by_size(d: dict, size: np.ndarray) -> np.ndarray:
    return lookup(size, d)


def _streams(fam, family, ids, rows, n_words, ledger):
    """Words of ``family`` for the selected rows (canonical merchant order), traced."""
    sel = ids[rows]
    key, hi, lo = fam[family].derive_many([str(int(m)) for m in sel])
    ledger.record_rows(family, 0, key, hi, lo, draws=n_words, blocks=(n_words + 1) // 2)
    return row_words(key, hi, lo, n_words, STATE)


def neighbour_matrix(iso: np.ndarray, neighbours: list[list[str]]) -> np.ndarray:
    """``M[i, j]`` = country j is a GeoNames neighbour of country i (universe × universe)."""
    m = np.zeros((iso.shape[0], iso.shape[0]), dtype=bool)
    for i, nbs in enumerate(neighbours):  # one row per country of the reference universe
        m[i] = np.isin(iso, nbs)
    return m


def build(ctx: RunContext, merchants: pa.Table, countries: pa.Table, ledger: RngLedger):
    model = ctx.manifest.policies["merchant_model_1A"]
    groups = ctx.manifest.policies["mcc_taxonomy_1A"]["groups"]
    fam = families(ctx, "1A", "S3")
    cb, out_pol = model["crossborder"], model["outlets"]
    if min(out_pol["cap"].values()) < 2:
        raise EngineError("OUTLET_CAP_INVALID", STATE, "merchant_model_1A: /outlets/cap below 2")
    iso = np.array(countries.column("country_iso").to_pylist(), dtype=object)
    n_c = iso.shape[0]
    if cb["max_foreign"] > n_c - 1:
        raise EngineError(
            "CROSSBORDER_INFEASIBLE",
            STATE,
            f"merchant_model_1A: /crossborder/max_foreign > {n_c - 1} countries",
        )
    ids = merchants.column("merchant_id").to_numpy()
    size = np.array(merchants.column("size_class").to_pylist(), dtype=object)
    group = np.array(merchants.column("mcc_group").to_pylist(), dtype=object)
    cnp = np.array(merchants.column("channel").to_pylist(), dtype=object) == "card_not_present"
    home_idx = np.searchsorted(
        iso, np.array(merchants.column("home_country_iso").to_pylist(), dtype=object)
    )
    n = ids.shape[0]
    allrows = np.arange(n)
    # 1. hurdle
    eta = (
        _by_size(model["hurdle"]["intercept"], size)
        + lookup(group, {g: v["hurdle_beta"] for g, v in groups.items()})
        + model["hurdle"]["cnp_beta"] * cnp
    )
    p_multi = 1.0 / (1.0 + exp(-eta))
    u = uniform01(_streams(fam, HURDLE, ids, allrows, 1, ledger)[:, 0])
    multi = u < p_multi
    # 2. outlet count: N_m = min(cap, 2 + NB2(μ', κ)) for multi-site merchants
    n_out = np.ones(n, dtype=np.int64)
    mrows = allrows[multi]
    w = _streams(fam, COUNT, ids, mrows, 2, ledger)
    kappa = _by_size(out_pol["kappa"], size[mrows])
    mult = lookup(group[mrows], {g: v["outlet_mult"] for g, v in groups.items()})
    mu = np.maximum(0.1, _by_size(out_pol["mu"], size[mrows]) * mult - 2.0)
    lam = (mu / kappa) * wh_gamma(kappa, uniform01(w[:, 0]))
    y = poisson_inv(uniform01(w[:, 1]), lam)
    n_out[mrows] = np.minimum(_by_size(out_pol["cap"], size[mrows]).astype(np.int64), 2 + y)
    # 3. foreign count K for multi-site merchants with λ_s > 0
    lam_s = _by_size(cb["lambda"], size)
    krows = allrows[multi & (lam_s > 0)]
    k = np.zeros(n, dtype=np.int64)
    if krows.size:
        wk = _streams(fam, K_FAM, ids, krows, 1, ledger)
        draw = poisson_inv(uniform01(wk[:, 0]), lam_s[krows])
        k[krows] = np.minimum(np.minimum(draw, cb["max_foreign"]), n_out[krows] - 1)
    # 4. foreign countries: Gumbel-top-K over the C non-home countries in iso order
    prows = allrows[k > 0]
    weight = countries.column("merchant_weight").to_numpy()
    base = exp(cb["candidate_exponent"] * log(weight))
    continent = np.array(countries.column("continent").to_pylist(), dtype=object)
    neighbours = countries.column("neighbours").to_pylist()
    rows_out = []
    if prows.size:
        wp = _streams(fam, PICK, ids, prows, n_c - 1, ledger)
        h = home_idx[prows]
        # column j of the words is non-home country j (< home) or j + 1 (≥ home)
        cols = np.arange(n_c - 1)[None, :]
        country = cols + (cols >= h[:, None])
        factor = np.ones(country.shape)
        same_cont = continent[country] == continent[h][:, None]
        factor[same_cont] = cb["continent_factor"]
        nb_mask = neighbour_matrix(iso, neighbours)[h[:, None], country]
        factor[nb_mask] = cb["neighbour_factor"]
        a = base[country] * factor
        keys = log(a) - log(-log(uniform01(wp)))
        order = np.argsort(-keys, axis=1, kind="stable")  # ties keep iso order
        kk = k[prows]
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.broadcast_to(cols, order.shape), 1)
        chosen = ranks < kk[:, None]
        # 5. split the remaining N_m − K − 1 outlets over [home, chosen in iso order]
        ws = _streams(fam, SPLIT, ids, prows, 1, ledger)
        a_ch = np.where(chosen, a, 0.0)
        sum_ch = np.cumsum(a_ch, axis=1)[:, -1]  # sequential: same bits everywhere
        cols2 = np.concatenate([h[:, None], country], axis=1)
        mask2 = np.concatenate([np.ones((len(prows), 1), dtype=bool), chosen], axis=1)
        w2 = np.concatenate(
            [
                np.full((len(prows), 1), float(cb["home_weight"])),
                a_ch * kk[:, None] / sum_ch[:, None],
            ],
            axis=1,
        )
        offsets = np.concatenate([[0], np.cumsum(1 + kk)]).astype(np.int64)
        totals = (n_out[prows] - kk - 1).astype(np.int64)
        counts = sys_batch_nb(totals, w2[mask2], offsets, uniform01(ws[:, 0]))
        if (counts[offsets[:-1]] < 0).any():
            raise EngineError("ALLOC_SUM_MISMATCH", STATE, "outlet split quotas inconsistent")
        fc = cols2[mask2]
        owner = np.repeat(prows, 1 + kk)
        rows_out.append((owner, fc, counts + 1))
    single_rows = allrows[k == 0]
    rows_out.append((single_rows, home_idx[single_rows], n_out[single_rows]))
    owner = np.concatenate([r[0] for r in rows_out])
    cidx = np.concatenate([r[1] for r in rows_out])
    cnt = np.concatenate([r[2] for r in rows_out])
    order = np.lexsort((cidx, owner))  # (merchant_id, legal_country_iso): rows are id-sorted
    owner, cidx, cnt = owner[order], cidx[order], cnt[order]
    table = pa.table(
        {
            "merchant_id": pa.array(ids[owner], pa.uint64()),
            "legal_country_iso": iso[cidx].tolist(),
            "is_home": cidx == home_idx[owner],
            "n_outlets": pa.array(cnt, pa.uint32()),
        }
    )
    meta = {
        "multi_site": int(multi.sum()),
        "cross_border": int((k > 0).sum()),
        "outlets": int(cnt.sum()),
    }
    return table, meta


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    merchants = io.read_table("merchant_universe")
    countries = io.read_table("s1_country_reference")
    ledger = RngLedger(STATE, DOMAIN_SEP, FAMILIES)
    table, meta = build(ctx, merchants, countries, ledger)
    io.write(DATASET, [table])
    io.publish_ledger(ledger)
    return io.result(rows=table.num_rows, metadata=meta)
