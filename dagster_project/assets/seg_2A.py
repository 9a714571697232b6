"""Segment 2A assets: S0 gate, site time zones, tz timetable cache, validation bundle."""

from dagster_project.assets.factory import segment_assets

assets = segment_assets("2A")
