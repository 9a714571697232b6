"""Resources: where data lives and how the engine executes (never policies: they cannot move ph)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from engine_core.context import RunContext, default_max_rows, default_workers
from engine_core.contracts import load_dictionary
from engine_core.errors import EngineError
from engine_core.manifest import Manifest, build_manifest, find_manifest_record


class EngineResource(dg.ConfigurableResource):
    """Data root, the profiles this code location serves, default seeds and workers."""

    data_root: str = "data"
    profiles: list[str] = ["small"]
    default_seeds: list[int] = [42]
    panel_seeds: list[int] = [42, 7, 101]  # the T10 panel (layer2 §5.2)
    workers: int = 0  # 0 = one per core
    max_rows_in_memory: int = 0  # 0 = the profile's default (layer-3 radix spill threshold)

    @property
    def root(self) -> Path:
        return Path(self.data_root).resolve()

    def manifest(self, profile: str) -> Manifest:
        return build_manifest(profile, load_dictionary())

    def manifest_for_world(self, world: str) -> Manifest:
        """The current policies' manifest for a registered world key; refuses a world whose
        policies changed since it was registered (its mf no longer exists on disk)."""
        rec = find_manifest_record(self.root, world)
        m = self.manifest(rec["profile_id"])
        if m.mf != rec["manifest_fingerprint"]:
            raise EngineError(
                "SEALED_DIGEST_MISMATCH",
                detail=f"world {world} was registered for mf {rec['manifest_fingerprint'][:16]}… "
                f"but the current {rec['profile_id']} policies give {m.mf[:16]}…",
            )
        return m

    def run_context(self, seed: int, world: str, *, scenario_scoped: bool, log=None) -> RunContext:
        m = self.manifest_for_world(world)
        scenario = world.split(".", 1)[1]
        progress = None
        if log is not None:

            def progress(state: str, done: int, total: int) -> None:
                log.info(f"{state}: {done}/{total}")

        return RunContext(
            data_root=self.root,
            dictionary=load_dictionary(),
            manifest=m,
            seed=seed,
            scenario_id=scenario if scenario_scoped else None,
            workers=self.workers or default_workers(),
            max_rows_in_memory=self.max_rows_in_memory or default_max_rows(m.profile_id),
            progress=progress,
        )
