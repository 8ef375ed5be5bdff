"""The file mappings a test queues a job with, and the relative paths of a tree that the
include and exclude patterns are tested on."""

from __future__ import annotations

from typing import Any


def make_files(count: int, size: int = 100, prefix: str = "file") -> list[dict[str, Any]]:
    """Return ``count`` file mappings of ``size`` bytes each."""
    return [
        {
            "source_path": f"src/{prefix}-{i}",
            "destination_path": f"dst/{prefix}-{i}",
            "size": size,
        }
        for i in range(count)
    ]


PATTERN_PATHS = [
    "a.txt",
    "b.bin",
    "sub/c.txt",
    "sub/deeper/d.txt",
    "sub/deeper/e.bin",
    "other/sub/f.txt",
    "x[1].txt",
]
"""Relative paths below a source, not sorted: the patterns' tests match them directly, the
listings' tests make them into files, S3 objects and hub entries."""
