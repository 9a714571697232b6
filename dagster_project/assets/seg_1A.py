"""Segment 1A assets: S0 gate, country reference, merchant universe, outlet counts,
outlet catalogue, validation bundle."""

from dagster_project.assets.factory import segment_assets

assets = segment_assets("1A")
