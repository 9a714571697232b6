"""The manifest record asset: the world's identity, upstream of every segment's S0."""

from __future__ import annotations

from dagster_project.assets.factory import state_asset
from dagster_project.assets.sources import source_keys
from engine_core.registry import STATES

manifest_record = state_asset(
    next(s for s in STATES if s.state_id == "ENGINE.manifest"), extra_deps=source_keys()
)
