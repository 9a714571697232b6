"""One module per segment; ``all_assets()`` is what Definitions loads."""

from dagster_project.assets import seg_1A, seg_1B, seg_2A, seg_2B, seg_3A, seg_3B, seg_5A, seg_5B
from dagster_project.assets.engine import manifest_record
from dagster_project.assets.sources import source_assets

SEGMENT_MODULES = (seg_1A, seg_1B, seg_2A, seg_2B, seg_3A, seg_3B, seg_5A, seg_5B)


def materializable_assets() -> list:
    """Every (seed, world)-partitioned asset (what ``world_job`` materialises)."""
    return [manifest_record, *(a for m in SEGMENT_MODULES for a in m.assets)]


def all_assets() -> list:
    return [*source_assets(), *materializable_assets(), *seg_5B.panel_assets]
