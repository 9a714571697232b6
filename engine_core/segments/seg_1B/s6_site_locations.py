"""1B.S6 — jitter each site to a concrete point near its tile centre, inside the same tz
polygon → ``site_locations`` (RNG, batched rounds of one finder call each)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine_core.context import RunContext, StateResult
from engine_core.errors import EngineError
from engine_core.refdata.tzfinder import zone_ids
from engine_core.rng import RngLedger, philox2x64_10, uniform01
from engine_core.rng.detmath import cos, cos2pi, sin2pi
from engine_core.segments.layer1_rng import DOMAIN_SEP, families
from engine_core.segments.state_io import open_state

STATE = "1B.S6"
DATASET = "site_locations"
FAMILY = "1B.S6.jitter.v1"
DEG = 57.29577951308232  # 180/π
RAD = 0.017453292519943295  # π/180


def candidate(lat_t, lon_t, radius, x0, x1, pol):
    """Attempt law: d = radius·u1, θ = 2π·u2, small-offset projection on the sphere."""
    j = pol["jitter"]
    d = radius * uniform01(x0)
    u2 = uniform01(x1)
    ang = d / j["earth_radius_km"]
    lat = np.clip(lat_t + DEG * (ang * cos2pi(u2)), -j["lat_clip_deg"], j["lat_clip_deg"])
    lon = lon_t + DEG * (ang * sin2pi(u2) / cos(lat_t * RAD))
    lon = np.mod(lon + 180.0, 360.0) - 180.0  # wrap to [−180, 180)
    return lat, lon, d


def build(ctx: RunContext, assign: pa.Table, tiles: pa.Table, ledger: RngLedger):
    pol = ctx.manifest.policies["placement_1B"]
    fam = families(ctx, "1B", "S6")
    idx = pc.index_in(assign.column("tile_id"), tiles.column("tile_id")).to_numpy()
    lat_t = tiles.column("lat_deg").to_numpy()[idx]
    lon_t = tiles.column("lon_deg").to_numpy()[idx]
    radius = tiles.column("radius_km").to_numpy()[idx]
    poly = tiles.column("tz_poly_id").to_numpy()[idx]
    sid = assign.column("site_id").to_numpy()
    key, hi, lo = fam[FAMILY].derive_many(sid.astype(str).tolist())
    n = sid.shape[0]
    lat, lon = lat_t.copy(), lon_t.copy()
    offset = np.zeros(n)
    attempts = np.full(n, pol["jitter"]["max_attempts"], dtype=np.int64)
    pending = np.arange(n)
    for k in range(pol["jitter"]["max_attempts"]):  # rounds, each one batched finder call
        if pending.size == 0:
            break
        c_lo = lo[pending] + np.uint64(k)
        carry = c_lo < lo[pending]
        if (carry & (hi[pending] == np.uint64(2**64 - 1))).any():
            raise EngineError("RNG_COUNTER_WRAP", STATE, f"a jitter stream wraps at block {k}")
        c_hi = hi[pending] + carry.astype(np.uint64)
        x0, x1 = philox2x64_10(c_lo, c_hi, key[pending])
        la, lo_, d = candidate(lat_t[pending], lon_t[pending], radius[pending], x0, x1, pol)
        ok = zone_ids(la, lo_, land_only=False) == poly[pending]
        acc = pending[ok]
        lat[acc], lon[acc], offset[acc], attempts[acc] = la[ok], lo_[ok], d[ok], k + 1
        pending = pending[~ok]
    fallback = np.zeros(n, dtype=bool)
    fallback[pending] = True  # placed at the tile centre after K attempts
    ledger.record_rows(FAMILY, 0, key, hi, lo, draws=2 * attempts, blocks=attempts)
    table = pa.table(
        {
            "merchant_id": assign.column("merchant_id"),
            "legal_country_iso": assign.column("legal_country_iso"),
            "site_order": assign.column("site_order"),
            "site_id": assign.column("site_id"),
            "tile_id": assign.column("tile_id"),
            "lat_deg": lat,
            "lon_deg": lon,
            "offset_km": offset,
            "jitter_attempts": pa.array(attempts, pa.uint8()),
            "jitter_fallback": fallback,
        }
    )
    return table, {
        "fallbacks": int(fallback.sum()),
        "mean_attempts": float(attempts.mean()) if n else 0.0,
    }


def run(ctx: RunContext) -> StateResult:
    io = open_state(ctx, STATE)
    assign = io.read_table("s5_site_tile_assignment")
    tiles = io.read_table(
        "s1_tile_index", ["tile_id", "lat_deg", "lon_deg", "radius_km", "tz_poly_id"]
    )
    ledger = RngLedger(STATE, DOMAIN_SEP, (FAMILY,))
    table, meta = build(ctx, assign, tiles, ledger)
    io.write(DATASET, [table])
    io.publish_ledger(ledger)
    return io.result(rows=table.num_rows, metadata=meta)
