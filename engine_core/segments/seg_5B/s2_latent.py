"""5B.S2 — latent LGCP field and day effects (layer2 §3.3): a mean-one lognormal factor per
latent group and bucket, shared by the group's members, times 2B's γ of the row's
(merchant, tzid, UTC day): λ_realised = λ_target·ξ·γ, written densely part by part."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.kernels.latent import MODEL_IID, MODEL_NONE, MODEL_OU, latent_nb, realise_nb
from engine_core.parallel import ordered_map
from engine_core.rng.sha256_nb import derive_streams, uer_suffixes
from engine_core.segments.common import read_table
from engine_core.segments.parts import part_files, read_part
from engine_core.segments.seg_5B import constants as K
from engine_core.segments.seg_5B.base import (
    dense_keys,
    domain,
    family_prefix,
    horizon,
    ledger,
    n_parts,
    pl_table,
    scenario_row,
)
from engine_core.segments.state_io import open_state

STATE = "5B.S2"
FAMILY = "5B.S2.latent_normal.v1"
MODELS = {"log_gaussian_ou_v1": MODEL_OU, "log_gaussian_iid_v1": MODEL_IID, "none": MODEL_NONE}


def _clamp(x, bounds):
    return min(max(x, float(bounds[0])), float(bounds[1]))


def sigma_of(pol: dict, band: str, cls: str, ch: str, state: str = STATE) -> float:
    s = pol["sigma"]
    if cls not in s["class_multiplier"]:
        raise EngineError("HYPERPARAM_MISSING", state, f"latent_5B /sigma/class_multiplier/{cls}")
    return _clamp(
        s["base"][band] * s["class_multiplier"][cls] * s["channel_multiplier"][ch], s["bounds"]
    )


def length_of(pol: dict, band: str, cls: str) -> float:
    ls = pol["length_scale_hours"]
    mult = ls["class_multiplier"].get(cls, ls["class_multiplier"]["default"])
    return _clamp(ls["base"][band] * mult, ls["bounds"])


def check_floors(pol: dict, state: str = STATE) -> None:
    """Load-time floors (layer2 §3.3): code constants, so a policy cannot loosen them."""
    classes = sorted(pol["sigma"]["class_multiplier"])
    chans = K.CHANNELS
    sig = {
        (b, c, h): sigma_of(pol, b, c, h, state)
        for b in ("baseline", "stress")
        for c in classes
        for h in chans
    }
    fails = []
    if len(set(sig.values())) < K.LATENT_MIN_DISTINCT_SIGMA:
        fails.append(f"{len(set(sig.values()))} distinct σ values < {K.LATENT_MIN_DISTINCT_SIGMA}")
    if any(sig[("stress", c, h)] < sig[("baseline", c, h)] for c in classes for h in chans):
        fails.append("a stress σ is below its baseline σ")
    med = float(np.median([length_of(pol, "baseline", c) for c in classes]))
    if not K.LATENT_MEDIAN_L[0] <= med <= K.LATENT_MEDIAN_L[1]:
        fails.append(f"median baseline L {med:g} h outside {list(K.LATENT_MEDIAN_L)}")
    if pol["transform"] != "mean_one_lognormal_v1":
        fails.append(f"transform {pol['transform']!r} is not mean_one_lognormal_v1")
    if (
        pol["clip"]["min_factor"] > K.LATENT_CLIP_MIN_MAX
        or pol["clip"]["max_factor"] < K.LATENT_CLIP_MAX_MIN
    ):
        fails.append("clip factors inside [0.5, 2]")
    if fails:
        raise EngineError(
            "LATENT_POLICY_FLOOR", state, "policies/5B/latent.yaml: " + "; ".join(fails)
        )


def factor_matrix(ctx: RunContext, groups: pl.DataFrame, h: int, band: str):
    """(z, ξ, clipped, σ, L, streams) for groups in group_index order."""
    pol = ctx.manifest.policies["latent_5B"]
    model = MODELS[pol["latent_model_id"]]
    cls = groups["demand_class"].to_list()  # one per group (≤ a few thousand)
    chs = groups["channel_group"].to_list()
    sigma = np.array([sigma_of(pol, band, c, h_) for c, h_ in zip(cls, chs, strict=True)])
    length = np.array([length_of(pol, band, c) for c in cls])
    g = groups.height
    if model == MODEL_NONE:
        key = hi = lo = np.zeros(g, dtype=np.uint64)
    else:
        suf, off = uer_suffixes(groups["group_id"].to_arrow())
        key, hi, lo = derive_streams(family_prefix(ctx, FAMILY), suf, off)
        top = np.uint64(2**64 - 1)
        if h and np.any((hi == top) & (lo > top - np.uint64(h - 1))):
            raise EngineError("RNG_COUNTER_WRAP", STATE, f"a group stream cannot hold {h} blocks")
    z = np.empty((g, h))
    xi = np.empty((g, h))
    clipped = np.empty((g, h), dtype=np.bool_)
    latent_nb(
        key,
        hi,
        lo,
        sigma,
        length,
        h,
        model,
        float(pol["clip"]["min_factor"]),
        float(pol["clip"]["max_factor"]),
        z,
        xi,
        clipped,
    )
    return z, xi, clipped, sigma, length, (key, hi, lo, model)


def gamma_matrix(ctx: RunContext, dom: pl.DataFrame, s: int, e: int, state: str = STATE):
    """γ[domain_row, day − day(S)] over the horizon's UTC days; a gap is DAY_EFFECT_MISSING."""
    d0, d1 = s // 86_400, (e - 1) // 86_400
    de = pl.from_arrow(
        read_table(ctx, "s3_day_effects", ["merchant_id", "tzid", "utc_day", "gamma"], state=state)
    ).with_columns(pl.col("utc_day").cast(pl.Int32).alias("d"))
    de = de.filter((pl.col("d") >= d0) & (pl.col("d") <= d1)).join(
        dom.select("merchant_id", "tzid", "domain_row"), on=["merchant_id", "tzid"], how="inner"
    )
    gam = np.full((dom.height, d1 - d0 + 1), np.nan)
    gam[de["domain_row"].to_numpy(), de["d"].to_numpy() - d0] = de["gamma"].to_numpy()
    if np.isnan(gam).any():
        r, d = np.argwhere(np.isnan(gam))[0]
        raise EngineError(
            "DAY_EFFECT_MISSING",
            state,
            f"s3_day_effects: no γ for (merchant_id={dom['merchant_id'][int(r)]}, "
            f"tzid={dom['tzid'][int(r)]}) on UTC day {d0 + int(d)} (days since epoch)",
        )
    return gam


def latent_table(groups, z, xi, clipped, sigma, length) -> pa.Table:
    g, h = z.shape
    return pa.table(
        {
            "group_index": pa.array(np.repeat(np.arange(g, dtype=np.int32), h)),
            "group_id": pa.array(
                np.repeat(np.asarray(groups["group_id"].to_list(), dtype=object), h), pa.string()
            ),
            "bucket_index": pa.array(np.tile(np.arange(h, dtype=np.int32), g)),
            "sigma": np.repeat(sigma, h),
            "length_scale_hours": np.repeat(length, h),
            "z": z.reshape(-1),
            "latent_factor": xi.reshape(-1),
            "clipped": clipped.reshape(-1),
        }
    )


class Inputs:
    """Everything S2 (and its R2 replay in S5) needs, loaded once per scenario."""

    def __init__(self, ctx: RunContext, state: str = STATE):
        self.hz = horizon(ctx, state)
        self.band = "baseline" if scenario_row(ctx, state)["is_baseline"] else "stress"
        self.dom = domain(ctx, state)
        grp = pl_table(read_table(ctx, "s1_grouping_5B", state=state))
        if not grp["merchant_id"].equals(self.dom["merchant_id"]) or not grp["tzid"].equals(
            self.dom["tzid"]
        ):
            raise EngineError("INPUT_MISALIGNED", state, "s1_grouping_5B is not in domain order")
        self.group_of_row = grp["group_index"].to_numpy().astype(np.int64)
        self.groups = (
            grp.group_by("group_index")
            .agg(
                pl.col("group_id").first(),
                pl.col("demand_class").first(),
                pl.col("channel_group").first(),
            )
            .sort("group_index")
        )
        self.keys = dense_keys(ctx, self.dom, self.hz.h, state)
        self.gamma = gamma_matrix(ctx, self.dom, self.hz.start, self.hz.end, state)
        b = np.arange(self.hz.h, dtype=np.int64)
        self.day_of_bucket = (
            self.hz.start + b * self.hz.bucket
        ) // 86_400 - self.hz.start // 86_400

    def realise(self, lo: int, hi: int, lam: np.ndarray, xi: np.ndarray) -> np.ndarray:
        out = np.empty(lam.shape[0])
        realise_nb(
            np.ascontiguousarray(lam),
            self.group_of_row[lo:hi],
            xi,
            np.ascontiguousarray(self.gamma[lo:hi]),
            self.day_of_bucket,
            out,
        )
        return out


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    pol = ctx.manifest.policies["latent_5B"]
    check_floors(pol)
    inp = Inputs(ctx)
    h, d = inp.hz.h, inp.dom.height
    z, xi, clipped, sigma, length, (key, hi, lo, model) = factor_matrix(
        ctx, inp.groups, h, inp.band
    )
    src = part_files(ctx, "merchant_zone_scenario_utc_5A", STATE, n_parts(d))
    out = io.staged("s2_realised_intensity_5B")

    def work(p: int):
        a, b = p * K.PART_ROWS, min(d, (p + 1) * K.PART_ROWS)
        t = read_part(src[p])
        keys = inp.keys.slice(a, b)
        keys.verify(
            t,
            where=f"merchant_zone_scenario_utc_5A part {p}",
            code="SURFACE_MISALIGNED",
            state=STATE,
        )
        lam = t.column("lambda_utc").to_numpy()
        real = inp.realise(a, b, lam, xi)
        if not np.isfinite(real).all():
            raise EngineError("LAMBDA_NONFINITE", STATE, f"part {p}: a non-finite λ_realised")
        if real.size and real.max() > K.LAMBDA_CEILING:
            raise EngineError(
                "LAMBDA_CEILING",
                STATE,
                f"part {p}: λ_realised {real.max():.6g} > {K.LAMBDA_CEILING:g}",
            )
        table = pa.table(
            {
                **{
                    c: t.column(c) for c in ("merchant_id", "tzid", "channel_group", "bucket_index")
                },
                "lambda_target": lam,
                "lambda_realised": real,
            }
        )
        return out.write(p, table), float(lam.sum()), float(real.sum())

    totals = []
    for p, r in enumerate(ordered_map(work, range(n_parts(d)) if d else [], ctx.workers)):
        totals.append(r)
        if ctx.progress:
            ctx.progress(STATE, min(d, (p + 1) * K.PART_ROWS), d)
    rows = sum(r for r, _, _ in totals)
    io.write("s2_latent_field_5B", [latent_table(inp.groups, z, xi, clipped, sigma, length)])
    io.add(out.publish(rows))
    led = ledger(ctx, STATE, FAMILY)
    g = inp.groups.height
    if model == MODEL_NONE or g == 0:
        led.record(FAMILY, 0, events=0, draws=0, blocks=0, first=None, last=None)
    else:
        led.record_rows(FAMILY, 0, key, hi, lo, draws=2 * h, blocks=h, events=g)
        led.rows[(0, FAMILY)].streams = g
    io.publish_ledger(led)  # the trace is the commit marker: after the data
    tgt = sum(t for _, t, _ in totals)
    real = sum(r for _, _, r in totals)
    return io.result(
        rows=rows,
        metadata={
            "groups": g,
            "latent_mean": float(xi.mean()) if xi.size else 1.0,
            "clipped_share": float(clipped.mean()) if clipped.size else 0.0,
            "intensity_mass_ratio": real / tgt if tgt else 1.0,
        },
    )
