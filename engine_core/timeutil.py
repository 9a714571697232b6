"""UTC instants ↔ RFC 3339 strings for policies and manifests (never for dataset columns,
which carry native timestamp types)."""

from __future__ import annotations

import datetime as dt

from engine_core.errors import EngineError

_FMT = "%Y-%m-%dT%H:%M:%SZ"


def parse_utc(s: str, where: str = "") -> int:
    """Seconds since the epoch of ``YYYY-MM-DDTHH:MM:SSZ``."""
    try:
        return int(dt.datetime.strptime(s, _FMT).replace(tzinfo=dt.UTC).timestamp())
    except ValueError:
        raise EngineError("POLICY_INVALID", detail=f"{where}: {s!r} is not {_FMT}") from None


def utc_str(t: int) -> str:
    return dt.datetime.fromtimestamp(int(t), dt.UTC).strftime(_FMT)
