"""Segment 3A assets: S0 gate, zone priors, zone allocation, universe hash, validation."""

from dagster_project.assets.factory import segment_assets

assets = segment_assets("3A")
