"""Segment 1B assets: S0 gate, tile index and weights, site requirements, allocation plan,
site → tile assignment, site locations, validation bundle."""

from dagster_project.assets.factory import segment_assets

assets = segment_assets("1B")
