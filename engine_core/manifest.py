"""The world manifest: a profile's ph, mf, sealed policies and reference data (ARCHITECTURE §3,
§7). The manifest record ``<data_root>/manifests/<mf>.json`` maps Dagster world keys back to
the full identity."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine_core.contracts import Dictionary, load_dictionary, load_policy, load_profile
from engine_core.contracts.policy import Profile
from engine_core.errors import EngineError
from engine_core.identity import engine_version, file_sha256, manifest_fingerprint, parameter_hash
from engine_core.io.datasets import PartitionKeys, PublishResult, write_json_dataset
from engine_core.paths import policies_root, project_root
from engine_core.refdata import artefact_digest, artefacts_for


@dataclass(frozen=True)
class Manifest:
    profile: Profile
    ph: str
    mf: str
    policy_files: tuple[tuple[str, str, str], ...]  # (logical_name, path, sha256)
    refdata: tuple[tuple[str, str, str, int], ...]  # (name, version, digest, n_files)
    contracts_digest: str
    spec_version: str
    scenarios: tuple[str, ...]
    policies: dict  # logical_name -> validated, overridden document

    @property
    def profile_id(self) -> str:
        return self.profile.profile_id

    @property
    def mf16(self) -> str:
        return self.mf[:16]

    def world_key(self, scenario_id: str) -> str:
        return f"{self.mf16}.{scenario_id}"

    @property
    def worlds(self) -> list[str]:
        return [self.world_key(s) for s in self.scenarios]

    def keys(self, seed: int | None = None, scenario_id: str | None = None) -> PartitionKeys:
        return PartitionKeys(mf=self.mf, ph=self.ph, seed=seed, scenario_id=scenario_id)

    def record(self) -> dict:
        return {
            "profile_id": self.profile_id,
            "parameter_hash": self.ph,
            "manifest_fingerprint": self.mf,
            "spec_version": self.spec_version,
            "engine_version": engine_version(),
            "policies": [
                {"logical_name": n, "path": p, "sha256": d} for n, p, d in self.policy_files
            ],
            "refdata": [
                {"name": n, "version": v, "digest": d, "files": k} for n, v, d, k in self.refdata
            ],
            "contracts_digest": self.contracts_digest,
            "scenarios": list(self.scenarios),
            "worlds": self.worlds,
        }


def build_manifest(profile_id: str, dictionary: Dictionary | None = None) -> Manifest:
    """Load and validate every policy of the profile, then compute ph and mf."""
    d = dictionary or load_dictionary()
    proot = policies_root()
    profile = load_profile(profile_id, d, proot)
    files: dict[str, bytes] = {}
    listed = []
    policies = {}
    for name, spec in sorted(d.policies.items()):
        path = project_root() / spec.path
        policies[name] = load_policy(name, d, proot, profile)
        files[name] = path.read_bytes()
        listed.append((name, spec.path, file_sha256(path)))
    # the profile's overrides are parameters too (layer1 §0.7)
    files[f"profile_{profile_id}"] = profile.raw
    listed.append(
        (f"profile_{profile_id}", f"policies/profiles/{profile_id}.yaml", file_sha256(profile.path))
    )
    ph = parameter_hash(files)
    refdata = tuple(
        (a.name, *artefact_digest(a)) for a in sorted(artefacts_for(policies), key=lambda a: a.name)
    )
    mf = manifest_fingerprint(ph, [(n, v, g) for n, v, g, _ in refdata], d.digest, d.spec_version)
    scenarios = tuple(sc["scenario_id"] for sc in policies["scenarios_5A"]["scenarios"])
    return Manifest(
        profile=profile,
        ph=ph,
        mf=mf,
        policy_files=tuple(sorted(listed)),
        refdata=refdata,
        contracts_digest=d.digest,
        spec_version=d.spec_version,
        scenarios=scenarios,
        policies=policies,
    )


def publish_manifest(
    m: Manifest, data_root: Path, dictionary: Dictionary | None = None
) -> PublishResult:
    d = dictionary or load_dictionary()
    return write_json_dataset(
        d, "manifest_record", data_root, m.keys(), m.record(), state="ENGINE.manifest"
    )


def find_manifest_record(data_root: Path, world_key: str) -> dict:
    """The record whose mf starts with the world key's 16-hex prefix."""
    import json

    mf16, _, scenario = world_key.partition(".")
    hits = sorted((Path(data_root) / "manifests").glob(f"{mf16}*.json"))
    if not hits:
        raise EngineError(
            "SEALED_INPUT_MISSING",
            detail=f"no manifest record for world {world_key} in {Path(data_root) / 'manifests'}",
        )
    rec = json.loads(hits[0].read_bytes())
    if scenario not in rec["scenarios"]:
        raise EngineError(
            "USAGE", detail=f"world {world_key}: scenario {scenario!r} not in manifest"
        )
    return rec


def manifest_state(ctx):
    """The ENGINE.manifest state: publish the manifest record (idempotent: same policies →
    same bytes → reuse)."""
    from engine_core.context import StateResult

    res = publish_manifest(ctx.manifest, ctx.data_root, ctx.dictionary)
    return StateResult(
        "ENGINE.manifest",
        [res],
        rows=1,
        metadata={"manifest_fingerprint": ctx.mf, "parameter_hash": ctx.ph},
    )
