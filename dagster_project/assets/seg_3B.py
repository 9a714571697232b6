"""Segment 3B assets: S0 gate, virtual classification and settlement, edges, edge alias
tables, universe hash and routing contract, validation bundle."""

from dagster_project.assets.factory import segment_assets

assets = segment_assets("3B")
