"""Segment 2B assets: S0 gate, site weights, alias tables, day effects, group weights,
validation bundle."""

from dagster_project.assets.factory import segment_assets

assets = segment_assets("2B")
