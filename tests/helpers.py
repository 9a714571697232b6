"""Test helpers shared across the suite."""

from __future__ import annotations

from engine_core.identity import file_sha256
from engine_core.io.publish import tree_listing
from engine_core.io.verify import write_record
from engine_core.segments.common import locate


def republish(ctx, dataset_id: str) -> None:
    """Record a dataset's current files as its published content.

    Negative tests use it after corrupting a file to stand for an upstream that *published*
    bad data, so the deeper check under test is reached; a file edited after publishing is
    refused earlier, as ``SEALED_DIGEST_MISMATCH`` (tested on its own)."""
    final = locate(ctx, dataset_id)
    root = ctx.data_root
    if final.is_dir():
        files = [((final / r).relative_to(root).as_posix(), d) for r, d in tree_listing(final)]
    else:
        files = [(final.relative_to(root).as_posix(), file_sha256(final))]
    write_record(root, final, files)
