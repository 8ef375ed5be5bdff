"""The one place that reads the wall clock, so that freezegun controls every timestamp."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> datetime:
    """Return the current time as a timezone-aware UTC datetime, read at call time."""
    return datetime.now(timezone.utc)
