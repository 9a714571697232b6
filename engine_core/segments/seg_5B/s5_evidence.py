"""5B.S5 evidence: turns the folded pass results into the small tables published in the
validation bundle (``Measures.evidence``) and the derived numbers the checks read — the
expected per (tz, local hour) arrivals, the weekend shares (T8), the DST windows (T3), the
hour-of-week profile, the top-tz concentration and the alias-fidelity cells (T15). It reads
no parts: everything here is a function of the pass totals and the context's small tables,
kept apart from the passes so the measuring code and the reporting code change separately."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from engine_core.kernels.civil import civil_segments
from engine_core.segments.calendar import conventions
from engine_core.segments.parts import codes
from engine_core.segments.seg_5B import constants as K
from engine_core.segments.seg_5B.s5_context import STATE, Context5


def build(c: Context5, exp_tb: np.ndarray, arrivals: dict) -> tuple[dict, dict]:
    """Evidence tables (name → pa.Table) and the values T3, T8 and T15 read."""
    tables, values = {}, {}
    exp_h = expected_hours(c, exp_tb)
    obs_h = arrivals["obs_hours"].astype(np.float64)
    wk = weekend_hours(c)
    so, se = obs_h.sum(), exp_h.sum()
    values["t8"] = (
        float(obs_h[wk].sum() / so) if so else 0.0,
        float(exp_h[wk].sum() / se) if se else 0.0,
    )
    tables["dst_windows"], values["t3"] = dst_windows(c, obs_h, exp_h)
    tables["hourly_profile"] = hourly_profile(c, obs_h, exp_h)
    tables["tz_concentration"] = tz_concentration(c, arrivals["tz_counts"])
    tables["alias_fidelity"], values["t15"] = alias_fidelity(
        c, arrivals["site_cells"], arrivals["edge_cells"]
    )
    return tables, values


def expected_hours(c: Context5, exp_tb: np.ndarray) -> np.ndarray:
    """Expected physical arrivals per (tz, local hour): each bucket's mass spread over its
    civil segments by seconds (arrivals are uniform inside a bucket)."""
    h = c.hz.h
    out = np.zeros(c.z * c.L)
    tzs = np.unique(c.row_tz)
    for z in tzs.tolist():  # one civil-segment set per domain zone (≤ a few hundred)
        seg = civil_segments(c.cache, c.router.tz_vocab[z], c.hz.start, c.hz.end, c.hz.bucket)
        mass = exp_tb[z * h + seg.bucket_index.astype(np.int64)] * seg.seconds / c.hz.bucket
        idx = z * c.L + (seg.local_hour - c.hour_base)
        out += np.bincount(idx, weights=mass, minlength=out.shape[0])
    return out


def weekend_hours(c: Context5) -> np.ndarray:
    """Per (tz, local hour) of the layout: is the local date a weekend day of the tz's country."""
    pol = c.ctx.manifest.policies["shapes_5A"]
    country = c.dom.group_by("tzid").agg(pl.col("legal_country_iso").first())
    conv = conventions(pol, country["legal_country_iso"].to_list())
    out = np.zeros(c.z * c.L, dtype=bool)
    hours = c.hour_base + np.arange(c.L)
    dow = (np.floor_divide(hours, 24) + 3) % 7
    zs = codes(country["tzid"].to_numpy(), c.router.tz_vocab, state=STATE, what="tzid")
    for z, iso in zip(zs.tolist(), country["legal_country_iso"].to_list(), strict=True):
        out[z * c.L : (z + 1) * c.L] = np.isin(dow, conv[iso][0])  # per distinct zone
    return out


def dst_windows(c: Context5, obs: np.ndarray, exp: np.ndarray) -> tuple[pa.Table, dict]:
    """T3 windows: per zone transition whose local date D has D−2…D+2 inside the horizon, the
    local-hour-of-day counts on D−2, D−1, D+1, D+2 (observed vs expected)."""
    rows = []
    for z in np.unique(c.row_tz).tolist():  # per zone and transition: a handful each
        zi = int(c.cache.zone_index([c.router.tz_vocab[z]])[0])
        lo, n = int(c.cache.first[zi]), int(c.cache.count[zi])
        tr = c.cache.instants[lo : lo + n]
        offs = c.cache.offsets[lo : lo + n]
        inside = (tr >= c.hz.start) & (tr < c.hz.end)
        for t0, o in zip(tr[inside].tolist(), offs[inside].tolist(), strict=True):
            d = (t0 + o) // 86_400  # local date of the change
            day_first = (d - 2) * 24 - c.hour_base
            day_last = (d + 3) * 24 - c.hour_base
            # the whole window must lie inside [local(S), local(E)) for this zone
            s_loc = (
                c.hz.start + int(c.cache.offset_at([zi], [c.hz.start])[0])
            ) // 3600 - c.hour_base
            e_loc = (
                c.hz.end - 1 + int(c.cache.offset_at([zi], [c.hz.end - 1])[0])
            ) // 3600 - c.hour_base
            if day_first < max(s_loc, 0) or day_last > min(e_loc + 1, c.L):
                continue
            base = z * c.L
            o_h = np.zeros(24)
            e_h = np.zeros(24)
            for k in (-2, -1, 1, 2):
                a = base + (d + k) * 24 - c.hour_base
                o_h += obs[a : a + 24]
                e_h += exp[a : a + 24]
            rows.append((c.router.tz_vocab[z], int(d), o_h, e_h))
    n_obs = np.array([r[2].sum() for r in rows]) if rows else np.zeros(0)
    pooled_o = np.sum([r[2] for r in rows], axis=0) if rows else np.zeros(24)
    pooled_e = np.sum([r[3] for r in rows], axis=0) if rows else np.zeros(24)
    mae = float(
        np.abs(pooled_o / max(pooled_o.sum(), 1) - pooled_e / max(pooled_e.sum(), 1e-300)).sum()
        / 24
        * 100
    )
    table = pa.table(
        {
            "tzid": [r[0] for r in rows],
            "change_local_day": pa.array([r[1] for r in rows], pa.int32()),
            "observed": [float(r[2].sum()) for r in rows],
            "expected": [float(r[3].sum()) for r in rows],
            "mae_pp": [
                float(
                    np.abs(r[2] / max(r[2].sum(), 1) - r[3] / max(r[3].sum(), 1e-300)).sum()
                    / 24
                    * 100
                )
                for r in rows
            ],
        }
    )
    return table, {
        "mae_pp": mae,
        "windows": len(rows),
        "windows_with_50": int((n_obs >= K.T3_WINDOW_MIN_ARRIVALS).sum()),
        "support": int(pooled_o.sum()),
    }


def hourly_profile(c: Context5, obs_h: np.ndarray, exp_h: np.ndarray) -> pa.Table:
    """Observed and expected arrivals per local hour of week (Monday 00 = 0), all zones."""
    hw_o = np.zeros(168)
    hw_e = np.zeros(168)
    hours = c.hour_base + np.arange(c.L)
    how = ((np.floor_divide(hours, 24) + 3) % 7) * 24 + np.mod(hours, 24)
    for zz in range(c.z):  # fold the (tz, local hour) layout into 168 hour-of-week bins
        hw_o += np.bincount(how, weights=obs_h[zz * c.L : (zz + 1) * c.L], minlength=168)
        hw_e += np.bincount(how, weights=exp_h[zz * c.L : (zz + 1) * c.L], minlength=168)
    return pa.table(
        {
            "local_hour_of_week": pa.array(np.arange(168), pa.int16()),
            "observed": hw_o,
            "expected": hw_e,
        }
    )


def tz_concentration(c: Context5, tzc: np.ndarray) -> pa.Table:
    """The ten tzids with most arrivals (ties in vocabulary order) and their shares (T6)."""
    top = np.argsort(-tzc, kind="stable")[:10]
    return pa.table(
        {
            "tzid": [c.router.tz_vocab[i] for i in top.tolist()],
            "arrivals": pa.array(tzc[top], pa.int64()),
            "share": tzc[top] / max(tzc.sum(), 1),
        }
    )


def alias_fidelity(
    c: Context5, site_cells: np.ndarray, edge_cells: np.ndarray
) -> tuple[pa.Table, tuple[float, int]]:
    """T15 cells: site (merchant, tzid) cells and edge (merchant) cells with n·p and n·q both
    at least the floor, each with its binomial z; returns the 50 largest |z| as the table,
    and (max |z|, cells)."""
    sc = site_cells.astype(np.float64)
    sites = c.sites.with_columns(pl.Series("obs", sc))
    sites = sites.with_columns(pl.col("obs").sum().over("merchant_id", "tzid").alias("n"))
    ec = edge_cells.astype(np.float64)
    edges = c.edges.with_columns(pl.Series("obs", ec)).with_columns(
        pl.col("obs").sum().over("merchant_id").alias("n")
    )
    cells = pl.concat(
        [
            sites.select(
                pl.lit("site").alias("kind"),
                "merchant_id",
                pl.col("site_id").alias("entity_id"),
                pl.col("p_weight_in_tz").fill_null(0.0).alias("p"),
                "obs",
                "n",
            ),
            edges.select(
                pl.lit("edge").alias("kind"),
                "merchant_id",
                pl.col("edge_id").alias("entity_id"),
                pl.col("edge_weight").alias("p"),
                "obs",
                "n",
            ),
        ]
    ).with_columns(
        (pl.col("n") * pl.col("p")).alias("np_"), (pl.col("n") * (1 - pl.col("p"))).alias("nq")
    )
    cells = cells.filter(
        (pl.col("np_") >= K.T15_MIN_CELL) & (pl.col("nq") >= K.T15_MIN_CELL)
    ).with_columns(
        ((pl.col("obs") - pl.col("np_")) / (pl.col("np_") * (1 - pl.col("p"))).sqrt()).alias("z")
    )
    t15 = (float(cells["z"].abs().max()) if cells.height else 0.0, cells.height)
    table = cells.sort(pl.col("z").abs(), descending=True).head(50).drop("np_", "nq").to_arrow()
    return table, t15
