"""Policies and packaged reference data as observable source assets (data version = digest)."""

from __future__ import annotations

import dagster as dg

from engine_core.contracts import load_dictionary
from engine_core.identity import file_sha256
from engine_core.paths import project_root
from engine_core.refdata import BASE_ARTEFACTS, Artefact, artefact_digest


def _policy_source(logical_name: str, rel_path: str) -> dg.SourceAsset:
    @dg.observable_source_asset(
        key=["policies", logical_name],
        group_name="policies",
        description=f"Policy file {rel_path}; its data version is the file's sha256.",
    )
    def _observe() -> dg.DataVersion:
        return dg.DataVersion(file_sha256(project_root() / rel_path))

    return _observe


def _profile_source(profile: str) -> dg.SourceAsset:
    rel = f"policies/profiles/{profile}.yaml"

    @dg.observable_source_asset(
        key=["policies", f"profile_{profile}"],
        group_name="policies",
        description=f"Profile overrides {rel}; part of the parameter hash.",
    )
    def _observe() -> dg.DataVersion:
        return dg.DataVersion(file_sha256(project_root() / rel))

    return _observe


def _refdata_source(art: Artefact) -> dg.SourceAsset:
    @dg.observable_source_asset(
        key=["refdata", art.name.replace("-", "_")],
        group_name="refdata",
        description=f"Reference data read from the installed {art.name} wheel "
        f"({', '.join(art.patterns)}); data version = listing digest.",
    )
    def _observe(context) -> dg.DataVersion:
        version, digest, n = artefact_digest(art)
        context.log.info(f"{art.name} {version}: {n} files")
        return dg.DataVersion(digest)

    return _observe


def source_assets() -> list:
    d = load_dictionary()
    out = [_policy_source(name, spec.path) for name, spec in sorted(d.policies.items())]
    out += [_profile_source(p) for p in ("tiny", "small", "reference", "large")]
    out += [_refdata_source(a) for a in BASE_ARTEFACTS]
    return out


def source_keys() -> list[dg.AssetKey]:
    return [a.key for a in source_assets()]
