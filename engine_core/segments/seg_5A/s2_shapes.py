"""5A.S2 — weekly shapes (RNG-free, seed-free): a normalised local hour-of-week profile per
demand class × channel × country convention (weekend days, hour shift, Sunday trading law)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from engine_core.errors import EngineError
from engine_core.rng.detmath import exp
from engine_core.segments.calendar import conventions
from engine_core.segments.state_io import open_state

STATE = "5A.S2"
DOW = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
CHANNELS = ("card_not_present", "card_present")  # sorted: the fixed dictionary order
MIN_CP_POSITIVE_SLOTS = 35


def shape_grid() -> pa.Table:
    slot = np.arange(168)
    return pa.table(
        {
            "slot_index": pa.array(slot, pa.int16()),
            "local_dow": pa.array(slot // 24, pa.int8()),
            "local_hour": pa.array(slot % 24, pa.int8()),
            "dow_name": [DOW[d] for d in (slot // 24).tolist()],
        }
    )


def curve(spec: dict, shift: int) -> np.ndarray:
    """24 hourly values: floor + Σ a·exp(−½(δ(h + 0.5 − s, μ)/σ)²), δ circular on 24 h."""
    x = np.arange(24) + 0.5 - shift
    out = np.full(24, float(spec["floor"]))
    for mu, sigma, a in spec["bumps"]:  # ≤ 2 bumps per curve
        d = np.mod(np.abs(x - mu), 24.0)
        d = np.minimum(d, 24.0 - d)
        z = d / sigma
        out = out + a * exp(-0.5 * (z * z))
    return out


def weekly_shape(pol: dict, cls: str, channel: str, convention) -> np.ndarray:
    weekend, shift, sunday_restricted = convention
    c = pol["classes"][cls]
    side = c["cp"] if channel == "card_present" else c["cnp"]
    w = np.empty(168)
    wd_ord = we_ord = 0
    for dow in range(7):  # the 7 days of the week
        is_we = dow in weekend
        h = curve(side["weekend" if is_we else "weekday"], shift)
        if channel == "card_present":
            local = np.mod(np.arange(24) - shift, 24)
            open_ = np.zeros(24, dtype=bool)
            for a, b in c["cp"]["open_hours"]:
                open_ |= (local >= a) & (local < b)
            h = np.where(open_, h, h * pol["closed_level"])
        if is_we:
            h = h * c["day_weights"]["weekend"][we_ord]
            if (
                sunday_restricted
                and channel == "card_present"
                and we_ord == 1
                and cls in ("grocery_food", "general_retail")
            ):
                h = h * pol["sunday_cp_factor"]
            we_ord += 1
        else:
            h = h * c["day_weights"]["weekday"][wd_ord]
            wd_ord += 1
        w[24 * dow : 24 * dow + 24] = h
    total = np.cumsum(w)[-1]  # sequential sum in slot order
    w = w / total
    positive = int((w > 0).sum())
    if (
        not np.all(np.isfinite(w))
        or (w < 0).any()
        or total <= 0
        or (channel == "card_present" and positive < MIN_CP_POSITIVE_SLOTS)
        or (channel == "card_not_present" and positive < 168)
    ):
        raise EngineError("SHAPE_INVALID", STATE, f"{cls}/{channel}: invalid weekly shape")
    return w


def class_zone_shapes(pol: dict, countries: list[str]) -> pa.Table:
    """Rows sorted (demand_class, channel_group, country_iso, slot_index)."""
    conv = conventions(pol, countries)
    cache: dict = {}
    blocks = []
    for cls in sorted(pol["classes"]):  # 11 classes × 2 channels × ≤ 8 conventions
        for ch in CHANNELS:
            for k in sorted(countries):
                key = (cls, ch, conv[k])
                if key not in cache:
                    cache[key] = weekly_shape(pol, cls, ch, conv[k])
                blocks.append((cls, ch, k, cache[key]))
    n = len(blocks)
    return pa.table(
        {
            "demand_class": np.repeat([b[0] for b in blocks], 168).tolist(),
            "channel_group": np.repeat([b[1] for b in blocks], 168).tolist(),
            "country_iso": np.repeat([b[2] for b in blocks], 168).tolist(),
            "slot_index": pa.array(np.tile(np.arange(168), n), pa.int16()),
            "weight": np.concatenate([b[3] for b in blocks]) if blocks else np.zeros(0),
        }
    )


def run(ctx):

    io = open_state(ctx, STATE)
    countries = io.read_table("s1_country_reference", ["country_iso"])
    shapes = class_zone_shapes(ctx.manifest.policies["shapes_5A"], countries.column(0).to_pylist())
    io.write("shape_grid_definition_5A", [shape_grid()])
    io.write("class_zone_shape_5A", [shapes])
    return io.result(rows=shapes.num_rows)
