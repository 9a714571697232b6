"""Segment 5A assets: S0 gate, scenario manifest and holidays, weekly shapes, merchant-zone
profiles, overlays, DST-exact local and UTC surfaces, validation bundle (per scenario)."""

from dagster_project.assets.factory import segment_assets

assets = segment_assets("5A")
