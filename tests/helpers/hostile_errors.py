"""Exceptions that misbehave on purpose, for the tests of how a failure is read."""

from __future__ import annotations


class HostileClassError(OSError):
    """An error whose ``__class__`` raises: isinstance() against any class it is not an
    instance of by its type (a retry policy's checks, a cancellation check) raises too."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        raise SystemExit("from __class__")
