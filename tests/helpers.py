"""Test helpers shared across the suite."""

from __future__ import annotations

from engine_core.io.publish import partition_files
from engine_core.io.verify import write_record
from engine_core.segments.common import locate


def republish(ctx, dataset_id: str) -> None:
    """Record a dataset's current files as its published content.

    Negative tests use it after corrupting a file to stand for an upstream that *published*
    bad data, so the deeper check under test is reached; a file edited after publishing is
    refused earlier, as ``SEALED_DIGEST_MISMATCH`` (tested on its own)."""
    final = locate(ctx, dataset_id)
    write_record(ctx.data_root, final, partition_files(ctx.data_root, final))


def object_paths(doc, path=()):
    """The path of every mapping inside a policy document (where an unknown field may go)."""
    if isinstance(doc, dict):
        yield path
        for k, v in doc.items():
            yield from object_paths(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from object_paths(v, (*path, i))
