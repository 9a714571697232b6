"""5A.S4 — overlay factors (RNG-free): holidays, paydays, events and the scenario level, as one
multiplicative factor per domain row and local date of its zone (layer2 §2.5)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from engine_core.errors import EngineError
from engine_core.segments.common import lookup

STATE = "5A.S4"
EPOCH = dt.date(1970, 1, 1)
CLIP = (0.05, 5.0)
CHANNELS = ("card_not_present", "card_present")


def day_number(d: dt.date) -> int:
    return (d - EPOCH).days


def mmdd(year: int, s: str) -> int:
    m, d = (int(x) for x in s.split("-"))
    return day_number(dt.date(year, m, d))


class Calendar:
    """Per-country daily holiday and business-day flags over the day axis [d0, d0 + n)."""

    def __init__(
        self,
        countries: list[str],
        d0: int,
        n: int,
        holidays: pl.DataFrame,
        weekend: dict[str, tuple[int, ...]],
    ):
        self.countries, self.d0, self.n = countries, d0, n
        self.idx = {c: i for i, c in enumerate(countries)}
        self.days = np.arange(d0, d0 + n)
        self.years = range(
            (EPOCH + dt.timedelta(days=d0)).year, (EPOCH + dt.timedelta(days=d0 + n - 1)).year + 1
        )
        self.holidays = holidays.filter(pl.col("country_iso").is_in(countries))
        first = (
            self.holidays.sort(["country_iso", "date", "holiday_name"])
            .group_by(["country_iso", "date"], maintain_order=True)
            .agg(pl.col("holiday_name").first())
        )
        ci = np.array([self.idx[c] for c in first["country_iso"].to_list()], dtype=np.int64)
        di = np.array([day_number(d) for d in first["date"].to_list()], dtype=np.int64) - d0
        ok = (di >= 0) & (di < n)
        self.hol = np.zeros((len(countries), n), dtype=bool)
        self.hol[ci[ok], di[ok]] = True
        self.hol_name = np.full((len(countries), n), None, dtype=object)
        self.hol_name[ci[ok], di[ok]] = np.array(first["holiday_name"].to_list(), object)[ok]
        dow = (self.days + 3) % 7  # 0 = Monday
        wk = np.array([weekend[c] for c in countries])  # (countries, 2)
        self.weekend = (dow[None, :] == wk[:, :1]) | (dow[None, :] == wk[:, 1:])
        self.business = ~(self.weekend | self.hol)


def payday_delta(cal: Calendar, pol: dict) -> np.ndarray:
    """δ = t − p for the payday p with δ ∈ [−3, 2] (NaN elsewhere), per country and day.
    Paydays falling on a weekend day or holiday move to the previous business day."""
    delta = np.full((len(cal.countries), cal.n), np.nan)
    months = [(y, m) for y in range(cal.years.start - 1, cal.years.stop + 1) for m in range(1, 13)]
    for ci, c in enumerate(cal.countries):  # ≤ 198 countries × the months around the axis
        rule = pol["rules"].get(c, pol["default_rule"])
        for y, m in months:
            last = dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)
            if rule == "last_business_day":
                targets = [last]
            elif rule == "semi_monthly":
                targets = [dt.date(y, m, 15), last]
            elif isinstance(rule, dict):
                targets = [dt.date(y, m, int(rule["fixed_day"]))]
            else:
                raise EngineError("PAYDAY_RULE_INVALID", STATE, f"{c}: {rule!r}")
            for t in targets:
                p = day_number(t) - cal.d0
                while 0 <= p < cal.n and not cal.business[ci, p]:
                    p -= 1
                lo, hi = max(p - 3, 0), min(p + 3, cal.n)
                if lo < hi:
                    delta[ci, lo:hi] = np.arange(lo, hi) - p
    return delta


def _activity(cal: Calendar, rule: dict, ev: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(activity[c, d] ∈ [0, 1], strength[c])`` of one event (1 = full effect that day)."""
    act = np.zeros((len(cal.countries), cal.n))
    full = set(ev["full_strength_countries"])
    strength = np.array([1.0 if c in full else ev["partial_strength"] for c in cal.countries])
    kind, d = rule["kind"], cal.days
    for y in cal.years:  # the one or two calendar years of the horizon
        if kind == "date_range":
            act[:, (d >= mmdd(y, rule["from"])) & (d <= mmdd(y, rule["to"]))] = 1.0
        elif kind == "nth_weekday_after":
            first = dt.date(y, rule["month"], 1)
            day = (
                day_number(first)
                + (rule["weekday"] - first.weekday()) % 7
                + 7 * (rule["n"] - 1)
                + rule["offset_days"]
            )
            act[:, d == day] = 1.0
        elif kind == "days_before_lunar_new_year":
            lny = ev["lunar_new_year_dates"].get(str(y))
            if lny:
                t = day_number(dt.date.fromisoformat(lny))
                act[:, (d >= t - rule["days"]) & (d < t)] = 1.0
        elif kind == "ramp_to_holiday":
            a, b = mmdd(y, rule["from"]), mmdd(y, rule["to"])
            hd = dt.date.fromisoformat(f"{y}-{rule['holiday']}")
            has = np.isin(
                np.array(cal.countries),
                cal.holidays.filter(pl.col("date") == hd)["country_iso"].to_list(),
            )
            win = (d >= a) & (d <= b)
            ramp = np.minimum(1.0, (d[win] - a) / rule["ramp_days"])
            act[np.ix_(has, win)] = ramp[None, :]
        elif kind == "days_before_holiday":
            firsts = (
                cal.holidays.filter(
                    pl.col("holiday_name").str.contains(rule["holiday_name_contains"], literal=True)
                    & (pl.col("date").dt.year() == y)
                )
                .group_by("country_iso")
                .agg(pl.col("date").min())
                .sort("country_iso")
            )
            for c, t in zip(
                firsts["country_iso"].to_list(), firsts["date"].to_list(), strict=True
            ):  # countries observing that holiday
                t = day_number(t)
                act[cal.idx[c], (d >= t - rule["days"]) & (d < t)] = 1.0
    if "countries" in rule:  # country-specific events: full strength there, inert elsewhere
        listed = np.isin(np.array(cal.countries), rule["countries"])
        act[~listed] = 0.0
        strength = np.ones(len(cal.countries))
    elif kind == "days_before_holiday":
        strength = np.ones(len(cal.countries))
    return act, strength


def event_product(cal: Calendar, ev: dict, classes: list[str]) -> np.ndarray:
    """Π over events of e' = 1 + s·(e(t) − 1), e(t) = 1 + activity·(e − 1); shape
    (countries, classes, channels, days)."""
    out = np.ones((len(cal.countries), len(classes), len(CHANNELS), cal.n))
    for _, spec in sorted(ev["definitions"].items()):  # ≤ 10 event definitions
        e = np.array(
            [
                [spec["effects"].get(k, {}).get(g, spec["default"]) for g in CHANNELS]
                for k in classes
            ]
        )
        act, s = _activity(cal, spec["rule"], ev)
        e_t = 1.0 + act[:, None, None, :] * (e[None, :, :, None] - 1.0)
        out = out * (1.0 + s[:, None, None, None] * (e_t - 1.0))
    return out


def overlay_rows(
    profile: pl.DataFrame,
    local_days: dict[str, tuple[int, int]],
    cal: Calendar,
    scenario: dict,
    overlays: dict,
) -> pl.DataFrame:
    """One row per (domain row, local date of its zone), domain order then date."""
    classes = sorted(overlays["holiday_effects"])
    pay = payday_delta(cal, overlays["payday"])
    ev = event_product(cal, overlays["events"], classes)
    tz = profile["tzid"].to_numpy()
    first = np.array([local_days[z][0] for z in np.unique(tz)])  # per distinct tzid
    last = np.array([local_days[z][1] for z in np.unique(tz)])
    zi = np.searchsorted(np.unique(tz), tz)
    n_days = (last - first + 1)[zi]
    row = np.repeat(np.arange(profile.height), n_days)
    day = first[zi][row] + (np.arange(row.shape[0]) - np.repeat(np.cumsum(n_days) - n_days, n_days))
    di = day - cal.d0
    if di.min() < 1 or di.max() >= cal.n - 1:
        raise EngineError("OVERLAY_NONFINITE", STATE, "local dates outside the calendar axis")
    ci = lookup(profile["legal_country_iso"].to_numpy(), cal.idx, np.int64)[row]
    ki = np.searchsorted(classes, profile["demand_class"].to_numpy())[row]
    gi = np.searchsorted(CHANNELS, profile["channel_group"].to_numpy())[row]
    eff = np.array([[overlays["holiday_effects"][k][g] for g in CHANNELS] for k in classes])
    e = np.where(
        cal.hol[ci, di],
        eff[ki, gi, 1],
        np.where(
            cal.hol[ci, di + 1], eff[ki, gi, 0], np.where(cal.hol[ci, di - 1], eff[ki, gi, 2], 1.0)
        ),
    )
    holiday = 1.0 + scenario["holiday_amplifier"] * (e - 1.0)
    delta = pay[ci, di]
    ww = overlays["payday"]["window_weight"]
    weights = np.array([ww[str(k)] for k in range(-3, 3)])
    amp = np.array([overlays["payday"]["amplitude"][k] for k in classes])[ki]
    on = ~np.isnan(delta)
    payday = np.where(
        on,
        1.0
        + scenario["payday_amplifier"] * amp * weights[np.where(on, delta, 0).astype(np.int64) + 3],
        1.0,
    )
    event = 1.0 + scenario["event_amplifier"] * (ev[ci, ki, gi, di] - 1.0)
    level = scenario["level"] * np.where(
        gi == 1, scenario["level_card_present"], scenario["level_card_not_present"]
    )
    prod = holiday * payday * event * level
    overlay = np.clip(prod, *CLIP)
    if not np.all(np.isfinite(overlay)):
        raise EngineError("OVERLAY_NONFINITE", STATE, "a non-finite overlay factor")
    return pl.DataFrame(
        {
            "merchant_id": profile["merchant_id"].to_numpy()[row],
            "tzid": tz[row],
            "channel_group": profile["channel_group"].to_numpy()[row],
            "local_date": pl.Series(day.astype(np.int32)).cast(pl.Date),
            "holiday_factor": holiday,
            "payday_factor": payday,
            "event_factor": event,
            "level_factor": level,
            "overlay_factor": overlay,
            "is_holiday": cal.hol[ci, di],
            "is_payday": on & (np.where(on, delta, 9) == 0),
            "clipped": overlay != prod,
            "holiday_name": pl.Series(cal.hol_name[ci, di].tolist(), dtype=pl.String),
        }
    )
