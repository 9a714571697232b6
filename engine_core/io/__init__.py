"""I/O: dictionary-resolved paths, Parquet writing, atomic idempotent publish."""

from engine_core.io.datasets import (
    PartitionKeys,
    PublishResult,
    json_bytes,
    resolve,
    scan_dataset,
    write_json_dataset,
    write_parquet_dataset,
)
from engine_core.io.publish import (
    PUBLISHED,
    REUSED,
    publish_bytes,
    publish_dir,
    publish_file,
    staging_path,
    tree_listing,
)

__all__ = [
    "PUBLISHED",
    "REUSED",
    "PartitionKeys",
    "PublishResult",
    "json_bytes",
    "publish_bytes",
    "publish_dir",
    "publish_file",
    "resolve",
    "scan_dataset",
    "staging_path",
    "tree_listing",
    "write_json_dataset",
    "write_parquet_dataset",
]
