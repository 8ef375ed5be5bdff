"""Checks of the arguments of public calls.

Each check either returns the normalised value or raises a ``TypeError`` / ``ValueError``
whose message names the argument and the problem. They run before the queue registers
anything, so a rejected call leaves no trace.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from transferqueue._records import TransferFile
from transferqueue._records.enums import TransferFileStatus, TransferType

from .retry import RetryPolicy

_FILE_KEYS = ("source_path", "destination_path", "size")
_FILE_KEY_SET = frozenset(_FILE_KEYS)
# Optional: True for a file whose destination is up to date, queued as ``skipped``.
_SKIP = "skip"


def check_limit(value: object) -> int:
    """Return a concurrency limit: an ``int`` ≥ 1 (``bool`` is refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"concurrency limit must be an int, not {type(value).__name__}")
    if value < 1:
        raise ValueError(f"concurrency limit must be at least 1, got {value}")
    return value


def check_seconds(value: object, name: str) -> float:
    """Return a duration in seconds from a non-negative real number or ``timedelta``."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise TypeError(
            f"{name} must be a number of seconds or a timedelta, not {type(value).__name__}"
        )
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{name} must be a finite duration >= 0, got {value!r}")
    return seconds


def check_positive_seconds(value: object, name: str) -> float:
    """Return a duration in seconds > 0 (see :func:`check_seconds`)."""
    seconds = check_seconds(value, name)
    if seconds == 0:
        raise ValueError(f"{name} must be longer than 0 seconds")
    return seconds


def check_count(value: object, name: str) -> int:
    """Return a count: an ``int`` ≥ 0 (``bool`` is refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def check_retry_policy(value: object, name: str = "retry") -> RetryPolicy | None:
    """Return a :class:`RetryPolicy`, or None for "no policy"."""
    if value is not None and not isinstance(value, RetryPolicy):
        raise TypeError(f"{name} must be a RetryPolicy or None, not {type(value).__name__}")
    return value


def check_transfer_type(value: object) -> TransferType:
    """Return the :class:`TransferType` for a member or its string value."""
    if isinstance(value, TransferType):
        return value
    if isinstance(value, str):
        try:
            return TransferType(value)
        except ValueError:
            pass
    known = ", ".join(repr(member.value) for member in TransferType)
    raise ValueError(f"unknown transfer type {value!r}; expected one of {known}")


def check_files(files: object) -> list[TransferFile]:
    """Return the queued-file records for ``files``, an iterable of mappings."""
    if isinstance(files, (str, bytes, Mapping)) or not isinstance(files, Iterable):
        raise TypeError(
            "files must be an iterable of mappings with keys source_path, "
            f"destination_path and size, not {type(files).__name__}"
        )
    return [_check_file(position, item) for position, item in enumerate(files)]


def _check_file(position: int, item: object) -> TransferFile:
    # The usual file, a dict of exactly the three keys with str paths and an int size,
    # passes on C-level type tests alone: this runs for every file of every job, 20,000
    # times for a large one. Everything else takes the thorough path, which accepts a
    # superset of this and names the problem when it rejects.
    if type(item) is dict and item.keys() == _FILE_KEY_SET:
        source, destination, size = item["source_path"], item["destination_path"], item["size"]
        if (
            type(source) is str
            and type(destination) is str
            and type(size) is int
            and source
            and destination
            and size >= 0
        ):
            return TransferFile(source, destination, size)
    return _check_any_file(f"files[{position}]", item)


def _check_any_file(where: str, item: object) -> TransferFile:
    if not isinstance(item, Mapping):
        raise TypeError(f"{where} must be a mapping, not {type(item).__name__}")
    missing = [key for key in _FILE_KEYS if key not in item]
    if missing:
        raise ValueError(f"{where} is missing the key(s) {', '.join(missing)}")
    unknown = sorted(str(key) for key in item if key not in _FILE_KEYS and key != _SKIP)
    if unknown:
        raise ValueError(
            f"{where} has unknown key(s) {', '.join(unknown)}; expected "
            f"{', '.join(_FILE_KEYS)} and optionally {_SKIP}"
        )
    skip = item.get(_SKIP, False)
    if not isinstance(skip, bool):
        raise TypeError(f"{where}[{_SKIP!r}] must be a bool, not {type(skip).__name__}")
    size = item["size"]
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"{where}['size'] must be an int, not {type(size).__name__}")
    if size < 0:
        raise ValueError(f"{where}['size'] must be >= 0, got {size}")
    return TransferFile(
        source_path=_check_path(item, "source_path", where),
        destination_path=_check_path(item, "destination_path", where),
        size=size,
        status=TransferFileStatus.SKIPPED if skip else TransferFileStatus.QUEUED,
    )


def _check_path(item: Mapping[Any, Any], key: str, where: str) -> str:
    value = item[key]
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(
            f"{where}[{key!r}] must be a str or os.PathLike, not {type(value).__name__}"
        )
    path = os.fspath(value)
    if not isinstance(path, str):
        raise TypeError(f"{where}[{key!r}] must be a text path, not {type(path).__name__}")
    if not path:
        raise ValueError(f"{where}[{key!r}] must not be empty")
    return path
