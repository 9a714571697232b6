"""5A.S1 — scenario manifest and real public-holiday calendar (RNG-free, seed-free)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from engine_core.errors import EngineError
from engine_core.segments.state_io import open_state
from engine_core.timeutil import parse_utc

STATE = "5A.S1"
DAY = 86_400


def horizon(scen_policy: dict, world_policy: dict) -> tuple[int, int, int]:
    """``(S, E, bucket_seconds)`` of the shared scenario horizon, checked inside the world."""
    b = int(scen_policy["bucket_seconds"])
    s = parse_utc(scen_policy["horizon"]["start_utc"], "policies/5A/scenarios.yaml")
    e = s + int(scen_policy["horizon"]["days"]) * DAY
    ws = parse_utc(world_policy["start_utc"], "policies/world/horizon.yaml")
    we = parse_utc(world_policy["end_utc"], "policies/world/horizon.yaml")
    if s % b:
        raise EngineError("SCENARIO_INVALID", STATE, "/horizon/start_utc is not bucket-aligned")
    if s < ws or e > we:
        raise EngineError(
            "HORIZON_OUTSIDE_WORLD",
            STATE,
            f"scenario horizon [{s}, {e}) is outside the world horizon [{ws}, {we})",
        )
    return s, e, b


def scenario_manifest(scen_policy: dict, world_policy: dict) -> pa.Table:
    s, e, b = horizon(scen_policy, world_policy)
    rows = scen_policy["scenarios"]
    ids = [r["scenario_id"] for r in rows]
    if (
        len(set(ids)) != len(ids)
        or sum(r["is_baseline"] for r in rows) != 1
        or any(r["is_baseline"] == r["is_stress"] for r in rows)
    ):
        raise EngineError(
            "SCENARIO_INVALID",
            STATE,
            "policies/5A/scenarios.yaml: /scenarios: ids must be unique, exactly "
            "one baseline, and is_baseline XOR is_stress",
        )
    rows = sorted(rows, key=lambda r: r["scenario_id"])  # writer order (≤ a few scenarios)
    n = len(rows)
    ts = pa.timestamp("us", tz="UTC")

    def col(k):
        return [r[k] for r in rows]

    return pa.table(
        {
            "scenario_id": col("scenario_id"),
            "is_baseline": col("is_baseline"),
            "is_stress": col("is_stress"),
            "labels": [sorted(set(r["labels"])) for r in rows],
            "description": col("description"),
            "horizon_start_utc": pa.array([s * 1_000_000] * n, ts),
            "horizon_end_utc": pa.array([e * 1_000_000] * n, ts),
            "bucket_seconds": pa.array([b] * n, pa.int32()),
            "horizon_buckets": pa.array([(e - s) // b] * n, pa.int32()),
            **{
                k: pa.array(col(k), pa.float64())
                for k in (
                    "holiday_amplifier",
                    "event_amplifier",
                    "payday_amplifier",
                    "level",
                    "level_card_present",
                    "level_card_not_present",
                )
            },
        }
    )


def holiday_calendar(
    countries: list[str], s: int, e: int, language: str
) -> tuple[pa.Table, list[str]]:
    """Holidays of every supported universe country for every year touched by
    [S − 1 day, E + 1 day); returns the table and the unsupported countries."""
    import holidays

    first = dt.datetime.fromtimestamp(s - DAY, dt.UTC).year
    last = dt.datetime.fromtimestamp(e + DAY - 1, dt.UTC).year
    years = list(range(first, last + 1))
    supported = holidays.list_supported_countries()
    iso, dates, names = [], [], []
    unsupported = []
    for c in countries:  # one library call per country of the reference universe
        if c not in supported:
            unsupported.append(c)
            continue
        probe = holidays.country_holidays(c, years=years[0])
        lang = language if language in (getattr(probe, "supported_languages", ()) or ()) else None
        cal = holidays.country_holidays(c, years=years, observed=True, language=lang)
        for day, name in sorted(cal.items()):
            for part in sorted(set(name.split("; "))):  # one row per name on a shared date
                iso.append(c)
                dates.append(day)
                names.append(part)
    order = sorted(range(len(iso)), key=lambda i: (iso[i], dates[i], names[i]))
    low = np.char.lower(np.array([names[i] for i in order] or [""], dtype=str))[: len(order)]
    subst = (np.char.find(low, "observed") >= 0) | (np.char.find(low, "substitut") >= 0)
    table = pa.table(
        {
            "country_iso": [iso[i] for i in order],
            "date": pa.array([dates[i] for i in order], pa.date32()),
            "holiday_name": [names[i] for i in order],
            "is_observed_substitute": pa.array(subst.tolist() if order else [], pa.bool_()),
        }
    )
    return table, unsupported


def run(ctx):

    io = open_state(ctx, STATE)
    pol, world = ctx.manifest.policies["scenarios_5A"], ctx.manifest.policies["horizon_world"]
    s, e, _ = horizon(pol, world)
    manifest = scenario_manifest(pol, world)
    countries = io.read_table("s1_country_reference", ["country_iso"])
    cal, unsupported = holiday_calendar(
        countries.column(0).to_pylist(),
        s,
        e,
        ctx.manifest.policies["overlays_5A"]["holidays"]["language"],
    )
    io.write("scenario_manifest_5A", [manifest])
    io.write("holiday_calendar_5A", [cal])
    return io.result(
        rows=cal.num_rows,
        metadata={
            "scenarios": manifest.num_rows,
            "unsupported_countries": ", ".join(unsupported) or "none",
        },
    )
