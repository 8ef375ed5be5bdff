"""The file mappings a test queues a job with."""

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
