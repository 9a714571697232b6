"""Country calendar conventions layer 2 shares (5A.S2 shapes, 5B.S5 measurements): weekend
days, the local hour shift and Sunday-trading restriction per country (``shapes_5A``)."""

from __future__ import annotations


def conventions(pol: dict, countries: list[str]) -> dict[str, tuple[tuple[int, ...], int, bool]]:
    """country → (weekend dows, hour shift, Sunday-restricted)."""
    c = pol["countries"]
    fri_sat, plus1, sunday = (
        set(c[k]) for k in ("weekend_fri_sat", "hour_shift_plus1", "sunday_restricted")
    )
    return {
        k: ((4, 5) if k in fri_sat else (5, 6), 1 if k in plus1 else 0, k in sunday)
        for k in countries
    }
