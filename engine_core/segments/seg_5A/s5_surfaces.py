"""5A.S5 — scenario surfaces, local and UTC (DST-exact): rate(t) = weekly_volume ·
w[slot(local t)] / 3600 s · overlay[local date], integrated over the civil segments of each
zone (layer2 §2.6). Written in domain parts of 2048 rows; no RNG."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.identity import engine_version
from engine_core.io.parquet import kv_metadata, write_parquet
from engine_core.io.publish import staging_path
from engine_core.kernels.civil import civil_segments, local_hour_exposure
from engine_core.kernels.surface import surface_nb
from engine_core.segments.common import input_parts, read_table
from engine_core.segments.seg_5A import s2_shapes
from engine_core.segments.seg_5A.constants import PART_ROWS
from engine_core.segments.seg_5A.s1_scenarios import horizon
from engine_core.segments.seg_5A.s3_profiles import fixed_dictionary
from engine_core.segments.state_io import open_state
from engine_core.segments.tz import load_cache

STATE = "5A.S5"
UTC_DS, LOCAL_DS = "merchant_zone_scenario_utc_5A", "merchant_zone_scenario_local_5A"


class SurfaceInputs:
    """Everything a part needs, loaded once per scenario (segments cached per tzid)."""

    def __init__(self, ctx: RunContext):
        pol = ctx.manifest.policies
        self.s, self.e, self.b = horizon(pol["scenarios_5A"], pol["horizon_world"])
        self.h = (self.e - self.s) // self.b
        self.cache = load_cache(ctx)
        shapes = pl.from_arrow(read_table(ctx, "class_zone_shape_5A", state=STATE))
        self.shape_keys = (
            shapes.select("demand_class", "channel_group", "country_iso")
            .unique(maintain_order=True)
            .with_row_index("shape_idx")
            .rename({"country_iso": "legal_country_iso"})
        )
        self.shape_w = shapes["weight"].to_numpy().reshape(-1, 168)
        self.segments: dict = {}

    def segs(self, tzid: str):
        if tzid not in self.segments:
            self.segments[tzid] = civil_segments(self.cache, tzid, self.s, self.e, self.b)
        return self.segments[tzid]


def part_surfaces(inp: SurfaceInputs, prof: pl.DataFrame, ov: pl.DataFrame, kernel=surface_nb):
    """(utc table, local table) of one domain part, both in domain order."""
    n = prof.height
    utc = np.zeros((n, inp.h))
    local_blocks = []
    shape_idx = (
        prof.with_row_index("r")
        .join(inp.shape_keys, on=["demand_class", "channel_group", "legal_country_iso"], how="left")
        .sort("r")["shape_idx"]
    )
    if shape_idx.null_count():
        raise EngineError("SHAPE_INVALID", STATE, "a domain row has no weekly shape")
    shape_idx = shape_idx.to_numpy().astype(np.int64)
    ov_day = ov["local_date"].cast(pl.Int32).to_numpy().astype(np.int64)
    ov_val = ov["overlay_factor"].to_numpy()
    row_of_ov = np.repeat(
        np.arange(n),
        ov.group_by(["merchant_id", "tzid", "channel_group"], maintain_order=True)
        .len()["len"]
        .to_numpy(),
    )
    tz = prof["tzid"].to_numpy()
    for z in sorted(set(tz.tolist())):  # one civil-segment set per zone of the part
        rows = np.flatnonzero(tz == z)
        seg = inp.segs(z)
        d_first = int(seg.local_day.min())
        n_days = int(seg.local_day.max()) - d_first + 1
        overlay = np.ones((rows.shape[0], n_days))
        sel = np.isin(row_of_ov, rows)
        ri = np.searchsorted(rows, row_of_ov[sel])
        di = ov_day[sel] - d_first
        ok = (di >= 0) & (di < n_days)
        overlay[ri[ok], di[ok]] = ov_val[sel][ok]
        hours, exposure = local_hour_exposure(seg)
        u, loc = surface_nb(
            prof["weekly_volume"].to_numpy()[rows],
            inp.shape_w,
            shape_idx[rows],
            overlay,
            seg.slot.astype(np.int64),
            seg.local_day - d_first,
            seg.seconds,
            seg.bucket_index.astype(np.int64),
            seg.local_hour - seg.h_min,
            inp.h,
            hours.shape[0],
        )
        utc[rows] = u
        local_blocks.append((rows, hours, exposure, loc))
    if not (np.isfinite(utc).all() and (utc >= 0).all()):
        raise EngineError("SURFACE_NONFINITE", STATE, "a non-finite or negative λ")
    rep = np.repeat(np.arange(n), inp.h)
    utc_t = {
        "row": rep,
        "bucket_index": np.tile(np.arange(inp.h, dtype=np.int32), n),
        "lambda_utc": utc.reshape(-1),
    }
    rows_l, idx_l, start_l, slot_l, exp_l, lam_l = [], [], [], [], [], []
    for rows, hours, exposure, loc in local_blocks:  # one block per zone
        L = hours.shape[0]
        rows_l.append(np.repeat(rows, L))
        idx_l.append(np.tile(np.arange(L, dtype=np.int32), rows.shape[0]))
        start_l.append(np.tile(hours * 3600 * 1_000_000, rows.shape[0]))
        dow = (hours // 24 + 3) % 7
        slot_l.append(np.tile((24 * dow + hours % 24).astype(np.int16), rows.shape[0]))
        exp_l.append(np.tile(exposure.astype(np.int32), rows.shape[0]))
        lam_l.append(loc.reshape(-1))
    r = np.concatenate(rows_l)
    order = np.lexsort((np.concatenate(idx_l), r))  # domain order, then local bucket
    local_t = {
        "row": r[order],
        "local_bucket_index": np.concatenate(idx_l)[order],
        "local_bucket_start": np.concatenate(start_l)[order],
        "slot_index": np.concatenate(slot_l)[order],
        "exposure_seconds": np.concatenate(exp_l)[order],
        "lambda_local": np.concatenate(lam_l)[order],
    }
    return utc_t, local_t


def _keys(prof: pl.DataFrame, rows: np.ndarray, tz_vocab: list[str]) -> dict:
    """Key columns for the part's output rows: dictionary codes are resolved once per domain
    row (≤ 2048) and repeated, never per output row."""
    tz = fixed_dictionary(prof["tzid"].to_numpy(), tz_vocab)
    ch = fixed_dictionary(prof["channel_group"].to_numpy(), list(s2_shapes.CHANNELS))
    return {
        "merchant_id": pa.array(prof["merchant_id"].to_numpy()[rows], pa.uint64()),
        "tzid": pa.DictionaryArray.from_arrays(
            pa.array(tz.indices.to_numpy()[rows], pa.int32()), tz.dictionary
        ),
        "channel_group": pa.DictionaryArray.from_arrays(
            pa.array(ch.indices.to_numpy()[rows], pa.int32()), ch.dictionary
        ),
    }


def parts(ctx: RunContext) -> Iterator[tuple[pa.Table, pa.Table]]:
    inp = SurfaceInputs(ctx)
    prof = pl.from_arrow(read_table(ctx, "merchant_zone_profile_5A", state=STATE)).with_columns(
        pl.col(c).cast(pl.String) for c in ("tzid", "channel_group", "demand_class")
    )
    ov_parts = input_parts(ctx, "merchant_zone_overlay_factors_5A", state=STATE)
    for p, start in enumerate(range(0, prof.height, PART_ROWS)):  # S5 part p reads S4 part p
        part = prof.slice(start, PART_ROWS)
        ov = pl.from_arrow(pq.read_table(ov_parts[p]).replace_schema_metadata(None)).with_columns(
            pl.col(c).cast(pl.String) for c in ("tzid", "channel_group")
        )
        u, loc = part_surfaces(inp, part, ov)
        utc = pa.table(
            {
                **_keys(part, u["row"], inp.cache.tzids),
                "bucket_index": pa.array(u["bucket_index"], pa.int32()),
                "lambda_utc": u["lambda_utc"],
            }
        )
        local = pa.table(
            {
                **_keys(part, loc["row"], inp.cache.tzids),
                "local_bucket_index": pa.array(loc["local_bucket_index"], pa.int32()),
                "local_bucket_start": pa.array(loc["local_bucket_start"], pa.timestamp("us")),
                "slot_index": pa.array(loc["slot_index"], pa.int16()),
                "exposure_seconds": pa.array(loc["exposure_seconds"], pa.int32()),
                "lambda_local": loc["lambda_local"],
            }
        )
        yield utc, local


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    staged = {ds: staging_path(ctx.data_root, ds) for ds in (UTC_DS, LOCAL_DS)}
    for d in staged.values():
        d.mkdir()
    schemas = {ds: ctx.dictionary.arrow_schema_of(ds) for ds in staged}
    rows = {UTC_DS: 0, LOCAL_DS: 0}
    for p, (utc, local) in enumerate(parts(ctx)):  # both surfaces of a part together
        for ds, t in ((UTC_DS, utc), (LOCAL_DS, local)):
            meta = kv_metadata(
                ds,
                mf=ctx.mf,
                ph=ctx.ph,
                seed=ctx.seed,
                scenario_id=ctx.scenario_id,
                part_index=p,
                spec_version=ctx.dictionary.spec_version,
                engine_version=engine_version(),
            )
            rows[ds] += write_parquet(
                t,
                staged[ds] / f"part-{p:05d}.parquet",
                schema=schemas[ds],
                metadata=meta,
                where=f"{ds} part {p}",
                state=STATE,
            )
    for ds, d in staged.items():
        io.publish_dir(ds, d, rows=rows[ds])
    return io.result(rows=rows[UTC_DS], metadata={"local_rows": rows[LOCAL_DS]})
