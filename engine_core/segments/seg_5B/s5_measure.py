"""5B.S5 measurements (layer2 §5): one pass over S2/S3 (dense, part by part) and one over the
arrival parts (re-cut from S3 by the S4 part law, so rows zip exactly), on the thread pool,
merging per-part partials in part order. Every row is read; the only subset is R2's fixed
replay rows (``domain_row mod 64 = 0``). Checks then turn these numbers into outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from engine_core.context import RunContext
from engine_core.kernels.arrival_checks import arrival_part_nb
from engine_core.kernels.civil import civil_segments
from engine_core.kernels.lookup import PairIndex
from engine_core.parallel import ordered_map
from engine_core.rng.sha256_nb import bucket_streams
from engine_core.segments.common import dataset_path, read_table
from engine_core.segments.seg_5A.s2_shapes import conventions
from engine_core.segments.seg_5B import constants as K
from engine_core.segments.seg_5B import s2_latent, s3_counts
from engine_core.segments.seg_5B.base import (
    US,
    codes,
    load_cache,
    n_parts,
    part_files,
    read_part,
)
from engine_core.segments.seg_5B.s4_arrivals import Router, plan

STATE = "5B.S5"
HOURS_PAD = 14  # local hours before S (UTC−12 and a margin) in the (tz, local hour) layout
DENSE = ("s2_realised_intensity_5B", "s3_bucket_counts_5B")


@dataclass
class Measures:
    values: dict = field(default_factory=dict)
    evidence: dict = field(default_factory=dict)  # name → pa.Table
    seconds: dict = field(default_factory=dict)  # phase timings: metadata only, never data


def _schemas_ok(ctx: RunContext) -> dict:
    """T12 (schema part): every 5B Parquet file's schema equals its contract."""
    bad = []
    for ds in (
        "s1_time_grid_5B",
        "s1_grouping_5B",
        "s2_latent_field_5B",
        *DENSE,
        "arrival_events_5B",
    ):
        want = ctx.dictionary.arrow_schema_of(ds).remove_metadata()
        for p in sorted(dataset_path(ctx, ds).glob("part-*.parquet")):
            if not pq.read_schema(p).remove_metadata().equals(want):
                bad.append(f"{ds}/{p.name}")
    return {"schema_mismatch": bad}


class Context5:
    """Inputs of the measurement passes, loaded once."""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self.router = Router(ctx, STATE)  # production kernel for R2, decoded tables for T5
        self.s2 = s2_latent.Inputs(ctx, STATE)
        self.s3 = s3_counts.Inputs(ctx, STATE)
        r = self.router
        self.hz, self.dom = r.hz, r.dom
        self.cache = load_cache(ctx)
        self.z = len(r.tz_vocab)
        self.L = self.hz.h + 2 * HOURS_PAD + 2
        self.hour_base = self.hz.start // 3600 - HOURS_PAD
        p_v = r.m_p_virtual[r.row_merchant]
        mode = r.m_mode[r.row_merchant]
        self.phys_share = np.where(mode == 0, 1.0, np.where(mode == 2, 0.0, 1.0 - p_v))
        self.row_tz = r.keys.tz.astype(np.int64)
        # T5 lookup tables keyed by (merchant, entity)
        st = pl.from_arrow(
            read_table(ctx, "site_timezones", ["merchant_id", "site_id", "tzid"], state=STATE)
        )
        sw = pl.from_arrow(
            read_table(
                ctx,
                "s1_site_weights",
                ["merchant_id", "tzid", "site_id", "p_weight_in_tz"],
                state=STATE,
            )
        )
        # every (merchant, site) of either table: a site missing from one fails T5 on lookup
        self.sites = (
            sw.join(
                st.rename({"tzid": "site_tz"}),
                on=["merchant_id", "site_id"],
                how="full",
                coalesce=True,
            ).with_row_index("cell")
        ).with_columns(
            pl.col("tzid").fill_null("").alias("tzid"),
            pl.col("site_tz").fill_null("").alias("site_tz"),
        )
        self.site_weight = self.sites["p_weight_in_tz"].fill_null(0.0).to_numpy()
        self.site_tz_w = self._codes_or_minus(self.sites["tzid"])
        self.site_tz_s = self._codes_or_minus(self.sites["site_tz"])
        cat = pl.from_arrow(
            read_table(
                ctx,
                "edge_catalogue_3B",
                ["merchant_id", "edge_id", "tzid_operational", "edge_weight"],
                state=STATE,
            )
        )
        self.edges = cat.with_row_index("cell")
        self.edge_tz = self._codes_or_minus(self.edges["tzid_operational"])

    def _codes_or_minus(self, s: pl.Series) -> np.ndarray:
        vals = s.to_numpy()
        ok = vals != ""
        out = np.full(vals.shape[0], -1, dtype=np.int64)
        out[ok] = codes(vals[ok], self.router.tz_vocab, state=STATE, what="tzid")
        return out


# --- pass 1: dense S2/S3 parts ---------------------------------------------------------------
def dense_pass(c: Context5, xi: np.ndarray) -> dict:
    ctx, d, h = c.ctx, c.dom.height, c.hz.h
    s5a = part_files(ctx, "merchant_zone_scenario_utc_5A", STATE, n_parts(d))
    s2 = part_files(ctx, DENSE[0], STATE, n_parts(d))
    s3 = part_files(ctx, DENSE[1], STATE, n_parts(d))

    def work(p: int):
        a, b = p * K.PART_ROWS, min(d, (p + 1) * K.PART_ROWS)
        keys = c.router.keys.slice(a, b)
        t2, t3, t5a = read_part(s2[p]), read_part(s3[p]), read_part(s5a[p], ["lambda_utc"])
        keys.verify(t2, where=f"{DENSE[0]} part {p}", code="INPUT_MISALIGNED", state=STATE)
        keys.verify(t3, where=f"{DENSE[1]} part {p}", code="INPUT_MISALIGNED", state=STATE)
        lt = t2.column("lambda_target").to_numpy()
        lr = t2.column("lambda_realised").to_numpy()
        cnt = t3.column("count_n").to_numpy().astype(np.int64)
        # R2 (S2, S3): every λ_realised and every count recomputed with the production kernels
        replay_l = np.array_equal(lt, t5a.column("lambda_utc").to_numpy()) and np.array_equal(
            lr, c.s2.realise(a, b, lt, xi)
        )
        counts, nz, (key, hi, lo) = c.s3.draw(a, lr, STATE)
        replay_c = np.array_equal(counts.astype(np.int64), cnt)
        # T9a / T9b / T14 partials
        m = lr >= 1.0
        kap = np.repeat(c.s3.kappa_dom[a:b], h)[m] if c.s3.law == 1 else np.inf
        z = (cnt[m] - lr[m]) / np.sqrt(lr[m] * (1.0 + lr[m] / kap))
        m5 = lt >= 5.0
        t9b = float(((cnt[m5] - lt[m5]) ** 2 - lt[m5]).sum()), float((lt[m5] ** 2).sum())
        # expected physical mass per (tz, UTC bucket) for T3/T8
        w = (lr.reshape(b - a, h) * c.phys_share[a:b, None]).reshape(-1)
        flat = np.repeat(c.row_tz[a:b] * h, h) + np.tile(np.arange(h), b - a)
        exp_tb = np.bincount(flat, weights=w, minlength=c.z * h)
        trace = (
            int(nz.shape[0]),
            (int(key[0]), int(hi[0]), int(lo[0])) if nz.size else None,
            (int(key[-1]), int(hi[-1]), int(lo[-1])) if nz.size else None,
        )
        return {
            "replay_lambda": replay_l,
            "replay_counts": replay_c,
            "t9a": (int(m.sum()), float(z.sum()), float((z * z).sum())),
            "t9b": t9b,
            "mass": (float(lt.sum()), float(lr.sum())),
            "arrivals": int(cnt.sum()),
            "exp_tb": exp_tb,
            "trace": trace,
        }

    out = {
        "replay_lambda": True,
        "replay_counts": True,
        "t9a": np.zeros(3),
        "t9b": np.zeros(2),
        "mass": np.zeros(2),
        "arrivals": 0,
        "exp_tb": np.zeros(c.z * h),
        "trace_s3": [],
    }
    for p, r in enumerate(ordered_map(work, range(n_parts(d)) if d else [], ctx.workers)):
        out["replay_lambda"] &= r["replay_lambda"]
        out["replay_counts"] &= r["replay_counts"]
        out["t9a"] += r["t9a"]
        out["t9b"] += r["t9b"]
        out["mass"] += r["mass"]
        out["arrivals"] += r["arrivals"]
        out["exp_tb"] += r["exp_tb"]
        out["trace_s3"].append((p, *r["trace"]))
    return out


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


# --- pass 2: arrival parts -------------------------------------------------------------------
def arrival_pass(c: Context5) -> dict:
    ctx, r = c.ctx, c.router
    files = sorted(dataset_path(ctx, "arrival_events_5B").glob("part-*.parquet"))
    n_sites, n_edges = c.sites.height, c.edges.height
    site_key = PairIndex(c.sites["merchant_id"].to_numpy(), c.sites["site_id"].to_numpy())
    edge_key = PairIndex(c.edges["merchant_id"].to_numpy(), c.edges["edge_id"].to_numpy())
    bucket_us = c.hz.bucket * US

    def work(pp):
        if pp.index >= len(files):
            return {"missing_part": pp.index}
        t = read_part(files[pp.index])
        n = t.num_rows
        cnt = pp.row_count.astype(np.int64)
        res = {"rows": n, "t4": [], "t12": [], "t5": [], "t1": 0, "t2": 0}
        if n != int(cnt.sum()):
            res["t4"].append(f"part {pp.index}: {n} rows != Σ count_n {int(cnt.sum())}")
            return res
        # T12 nulls
        virt = t.column("is_virtual").to_numpy(zero_copy_only=False)
        site_valid = t.column("site_id").is_valid().to_numpy(zero_copy_only=False)
        edge_valid = t.column("edge_id").is_valid().to_numpy(zero_copy_only=False)
        if not (np.array_equal(site_valid, ~virt) and np.array_equal(edge_valid, virt)):
            res["t12"].append(
                f"part {pp.index}: site_id/edge_id nullness disagrees with is_virtual"
            )
        for name in t.column_names:
            if name not in ("site_id", "edge_id") and t.column(name).null_count:
                res["t12"].append(f"part {pp.index}: {name} has nulls")

        def codes_of(col):
            return t.column(col).combine_chunks().indices.to_numpy()

        mer = t.column("merchant_id").to_numpy()
        tz = codes_of("tzid").astype(np.int64)
        seq = t.column("arrival_seq").to_numpy()
        ts = t.column("ts_utc").cast(pa.int64()).to_numpy()
        tz_p = codes_of("tzid_primary").astype(np.int64)
        loc_p = t.column("ts_local_primary").cast(pa.int64()).to_numpy()
        # T4, T5 (+ T15 cells), T16, T6 counts, T3/T8 observed grid: one compiled pass
        t4 = np.zeros(4, np.int64)
        t5 = np.zeros(3, np.int64)
        t16 = np.zeros(4)
        res["tz_counts"] = np.zeros(c.z, np.int64)
        res["obs_hours"] = np.zeros(c.z * c.L, np.int64)
        res["site_cells"] = np.zeros(n_sites, np.int64)
        res["edge_cells"] = np.zeros(n_edges, np.int64)
        arrival_part_nb(
            pp.row_dom, pp.row_bucket, cnt, pp.row_seq,
            r.keys.merchant, r.keys.tz.astype(np.int64), r.keys.ch.astype(np.int64),
            r.row_merchant, r.m_mode, r.m_p_virtual, r.m_settle_tz.astype(np.int64),
            mer, tz, codes_of("channel_group").astype(np.int64),
            t.column("bucket_index").to_numpy().astype(np.int64), seq, ts, virt,
            pc.fill_null(t.column("site_id"), 0).to_numpy(),  # nulls → 0, never float64
            pc.fill_null(t.column("edge_id"), 0).to_numpy(),
            tz_p, codes_of("tzid_operational").astype(np.int64),
            codes_of("tzid_settlement").astype(np.int64), loc_p,
            c.hz.start * US, bucket_us, c.hour_base, c.L,
            site_key.a, site_key.b, site_key.order, c.site_tz_w, c.site_tz_s, c.site_weight,
            edge_key.a, edge_key.b, edge_key.order, c.edge_tz,
            t4, t5, t16, res["tz_counts"], res["obs_hours"], res["site_cells"], res["edge_cells"],
        )  # fmt: skip
        names = ("keys", "ts_in_bucket", "seq_contiguous", "order")
        res["t4"] += [
            f"part {pp.index}: {k} ({int(x)} arrivals)" for k, x in zip(names, t4, strict=True) if x
        ]
        res["seq_ends"] = ((int(mer[0]), int(seq[0])), (int(mer[-1]), int(seq[-1]))) if n else None
        rh = t.column("routing_universe_hash").combine_chunks()
        hash_ok = rh.dictionary.to_pylist()[:1] == [r.routing_hash] and not np.any(
            rh.indices.to_numpy()
        )
        res["t5"] = [int(t5[0]), int(t5[1]), int(t5[2]), bool(hash_ok)]
        res["virtual"] = int(virt.sum())
        res["t16"] = (int(t16[0]), int(t16[1]), float(t16[2]), float(t16[3]))
        # T1/T2 civil time, recomputed with the cache's own vectorised searchsorted; a column
        # equal to the primary one (same tzid, same wall clock) has the primary's error
        secs = np.floor_divide(ts, US)
        err_p = (loc_p - ts) - US * c.cache.offset_at(tz_p, secs).astype(np.int64)
        for x in ("primary", "operational", "settlement"):
            if x == "primary":
                err = err_p
            else:
                tzx = codes_of(f"tzid_{x}").astype(np.int64)
                loc = t.column(f"ts_local_{x}").cast(pa.int64()).to_numpy()
                err = err_p.copy()
                d = np.flatnonzero((tzx != tz_p) | (loc != loc_p))
                err[d] = (loc[d] - ts[d]) - US * c.cache.offset_at(tzx[d], secs[d]).astype(np.int64)
            res["t1"] += int(np.count_nonzero(err))
            res["t2"] += int(np.count_nonzero(np.abs(err) == 3600 * US))
        off = np.concatenate([[0], np.cumsum(cnt)[:-1]]).astype(np.int64)
        mode_rows = r.m_mode[r.row_merchant[pp.row_dom]]
        # R2 (S4): regenerate every arrival of rows with domain_row mod 64 = 0
        sel = np.flatnonzero(pp.row_dom % K.REPLAY_STRIDE == 0)
        res["r2_rows"], res["r2_arrivals"], res["r2_bad"] = int(sel.size), 0, 0
        if sel.size:
            o, counts, _, _ = r.expand(
                pp.row_dom[sel], pp.row_bucket[sel], pp.row_count[sel], pp.row_seq[sel]
            )
            idx = _ranges(off[sel], cnt[sel])
            sub = t.take(pa.array(idx))
            regen = r.table(pp.row_dom[sel], pp.row_bucket[sel], counts, o)
            res["r2_arrivals"] = int(idx.shape[0])
            res["r2_bad"] = sum(not sub.column(k).equals(regen.column(k)) for k in t.column_names)
        # R1 (S4) expected trace of this part
        key, hi, lo = (
            bucket_streams(
                r.ms, r.dom_bytes, r.dom_off, pp.row_dom[[0, -1]], pp.row_bucket[[0, -1]]
            )
            if cnt.size
            else (None, None, None)
        )
        h_rows = mode_rows == 1
        res["trace_s4"] = (
            pp.index,
            int(cnt.size),
            int(cnt.sum()),
            int((2 * cnt + cnt * h_rows).sum()),
            int((cnt + cnt * h_rows).sum()),
            (int(key[0]), int(hi[0]), int(lo[0])) if cnt.size else None,
            (int(key[1]), int(hi[1]), int(lo[1]), int(cnt[-1] * (2 if h_rows[-1] else 1) - 1))
            if cnt.size
            else None,
        )
        return res

    agg = {
        "rows": 0,
        "t4": [],
        "t12": [],
        "t1": 0,
        "t2": 0,
        "tz_counts": np.zeros(c.z, np.int64),
        "virtual": 0,
        "t16": np.zeros(4),
        "t5": [0, 0, 0, True],
        "site_cells": np.zeros(n_sites, np.int64),
        "edge_cells": np.zeros(n_edges, np.int64),
        "obs_hours": np.zeros(c.z * c.L, np.int64),
        "r2": [0, 0, 0],
        "trace_s4": [],
        "parts": 0,
    }
    prev_end = None
    for res in ordered_map(work, plan(ctx, r, STATE), ctx.workers):
        agg["parts"] += 1
        ends = res.get("seq_ends")
        if ends:  # independent of the planner: a merchant's seq continues across parts
            (m0, s0), last = ends
            want = prev_end[1] + 1 if prev_end and prev_end[0] == m0 else 0
            if s0 != want:
                agg["t4"].append(f"part {agg['parts'] - 1}: arrival_seq {s0} != {want} at start")
            prev_end = last
        if "missing_part" in res:
            agg["t4"].append(f"arrival part {res['missing_part']} is missing")
            continue
        agg["rows"] += res["rows"]
        agg["t4"] += res["t4"]
        agg["t12"] += res["t12"]
        if "tz_counts" not in res:
            continue
        for k in ("t1", "t2", "virtual"):
            agg[k] += res[k]
        for k in ("tz_counts", "site_cells", "edge_cells", "obs_hours"):
            agg[k] += res[k]
        agg["t16"] += np.array(res["t16"])
        agg["t5"] = [agg["t5"][i] + res["t5"][i] for i in range(3)] + [
            agg["t5"][3] and res["t5"][3]
        ]
        agg["r2"] = [
            agg["r2"][0] + res["r2_rows"],
            agg["r2"][1] + res["r2_arrivals"],
            agg["r2"][2] + res["r2_bad"],
        ]
        agg["trace_s4"].append(res["trace_s4"])
    if len(files) != agg["parts"]:
        agg["t4"].append(f"{len(files)} arrival part files, the S4 part law gives {agg['parts']}")
    return agg


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(s, s + n)`` for each (s, n), vectorised."""
    lengths = lengths.astype(np.int64)
    rep = np.repeat(np.arange(lengths.shape[0]), lengths)
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return (starts.astype(np.int64)[rep] + np.arange(int(lengths.sum())) - first[rep]).astype(
        np.int64
    )


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
    for z in np.unique(c.row_tz).tolist():
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


def measure(ctx: RunContext) -> Measures:
    import time

    m = Measures()
    t0 = time.perf_counter()
    c = Context5(ctx)
    m.seconds["inputs"] = time.perf_counter() - t0
    v = m.values
    v["t12_schema"] = _schemas_ok(ctx)
    # S2 replay: the factor matrix and the latent field table
    z, xi, clipped, _, _, (key, hi, lo, model) = s2_latent.factor_matrix(
        ctx, c.s2.groups, c.hz.h, c.s2.band
    )
    lat = pl.from_arrow(
        read_table(ctx, "s2_latent_field_5B", ["z", "latent_factor", "clipped"], state=STATE)
    )
    v["replay_latent"] = (
        lat.height == z.size
        and np.array_equal(lat["z"].to_numpy(), z.reshape(-1))
        and np.array_equal(lat["latent_factor"].to_numpy(), xi.reshape(-1))
        and np.array_equal(lat["clipped"].to_numpy(), clipped.reshape(-1))
    )
    v["t13"] = (
        float(lat["latent_factor"].mean()) if lat.height else 1.0,
        float(lat["clipped"].mean()) if lat.height else 0.0,
    )
    g = c.s2.groups.height
    h = c.hz.h
    v["s2_expected_trace"] = (
        {
            "streams": g,
            "events": g,
            "draws": 2 * g * h,
            "blocks": g * h,
            "first": (int(key[0]), int(hi[0]), int(lo[0])),
            "last_base": (int(key[-1]), int(hi[-1]), int(lo[-1])),
            "last_add": h - 1,
        }
        if model != 2 and g
        else {"streams": 0, "events": 0, "draws": 0, "blocks": 0}
    )
    t0 = time.perf_counter()
    dense = dense_pass(c, xi)
    v["dense"] = dense
    m.seconds["dense_pass"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    v["arrivals"] = arrival_pass(c)
    m.seconds["arrival_pass"] = time.perf_counter() - t0
    exp_h = expected_hours(c, dense["exp_tb"])
    obs_h = v["arrivals"]["obs_hours"].astype(np.float64)
    wk = weekend_hours(c)
    so, se = obs_h.sum(), exp_h.sum()
    v["t8"] = (
        float(obs_h[wk].sum() / so) if so else 0.0,
        float(exp_h[wk].sum() / se) if se else 0.0,
    )
    m.evidence["dst_windows"], v["t3"] = dst_windows(c, obs_h, exp_h)
    hw_o = np.zeros(168)
    hw_e = np.zeros(168)
    hours = c.hour_base + np.arange(c.L)
    how = ((np.floor_divide(hours, 24) + 3) % 7) * 24 + np.mod(hours, 24)
    for zz in range(c.z):  # fold the (tz, local hour) layout into 168 hour-of-week bins
        hw_o += np.bincount(how, weights=obs_h[zz * c.L : (zz + 1) * c.L], minlength=168)
        hw_e += np.bincount(how, weights=exp_h[zz * c.L : (zz + 1) * c.L], minlength=168)
    m.evidence["hourly_profile"] = pa.table(
        {
            "local_hour_of_week": pa.array(np.arange(168), pa.int16()),
            "observed": hw_o,
            "expected": hw_e,
        }
    )
    tzc = v["arrivals"]["tz_counts"]
    top = np.argsort(-tzc, kind="stable")[:10]
    m.evidence["tz_concentration"] = pa.table(
        {
            "tzid": [c.router.tz_vocab[i] for i in top.tolist()],
            "arrivals": pa.array(tzc[top], pa.int64()),
            "share": tzc[top] / max(tzc.sum(), 1),
        }
    )
    # T15 cells: site (merchant, tzid) cells and edge (merchant) cells
    sc = v["arrivals"]["site_cells"].astype(np.float64)
    sites = c.sites.with_columns(pl.Series("obs", sc))
    sites = sites.with_columns(pl.col("obs").sum().over("merchant_id", "tzid").alias("n"))
    ec = v["arrivals"]["edge_cells"].astype(np.float64)
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
    v["t15"] = (float(cells["z"].abs().max()) if cells.height else 0.0, cells.height)
    m.evidence["alias_fidelity"] = (
        cells.sort(pl.col("z").abs(), descending=True).head(50).drop("np_", "nq").to_arrow()
    )
    v["expected_trace_s3"] = dense["trace_s3"]
    return m
