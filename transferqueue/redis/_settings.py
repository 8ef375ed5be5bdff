"""The semaphore's settings and their checks (importable without redis-py)."""

from __future__ import annotations

from transferqueue._core.validation import check_limit, check_positive_seconds, check_seconds

DEFAULT_NAMESPACE = "transferqueue"
DEFAULT_LEASE = 10.0
"""Seconds a slot stays held without being renewed; a keeper thread renews it every third."""

DEFAULT_SLOT_KEEP = 0.05
"""Seconds after taking a slot during which a worker may run its process's next file on it."""

MIN_LEASE = 0.1
# The shortest heartbeat interval: each beat is a round trip.
MIN_HEARTBEAT = 0.05
# A lease that ends further ahead than the longest one was not written by this library:
# such holders and waiters are dropped instead of blocking their slot for ever.
MAX_LEASE = 3600.0

MAX_LIMIT = 999_999_999
"""The largest limit (9 digits: what the scripts accept when they read it back)."""

MAX_NAMESPACE_LENGTH = 200


def check_namespace(value: object) -> str:
    """Return a namespace: a non-empty ``str`` of at most 200 characters without
    whitespace or control characters (it starts every key name)."""
    if not isinstance(value, str):
        raise TypeError(f"namespace must be a str, not {type(value).__name__}")
    if not value or len(value) > MAX_NAMESPACE_LENGTH:
        raise ValueError(
            f"namespace must have 1 to {MAX_NAMESPACE_LENGTH} characters, got {len(value)}"
        )
    if not value.isprintable() or any(char.isspace() for char in value):
        raise ValueError(f"namespace must not contain whitespace or control characters: {value!r}")
    return value


def check_lease(value: object) -> float:
    """Return a lease in seconds, from 0.1 s to an hour (a number or ``timedelta``)."""
    seconds = check_positive_seconds(value, "lease")
    if not MIN_LEASE <= seconds <= MAX_LEASE:
        raise ValueError(
            f"lease must lie between {MIN_LEASE} and {MAX_LEASE:g} seconds, got {value!r}"
        )
    return seconds


def check_slot_keep(value: object, lease: float) -> float:
    """Return ``slot_keep`` in seconds (a number or ``timedelta``): from 0 to the lease
    (what keeps a slot longer holds back the cluster's waiters for longer than a lost
    holder would)."""
    seconds = check_seconds(value, "slot_keep")
    if seconds > lease:
        raise ValueError(f"slot_keep must be at most the lease ({lease:g} s), got {value!r}")
    return seconds


def check_heartbeat(value: object, lease: float) -> float:
    """Return a heartbeat interval in seconds: None for a third of ``lease``, else a
    number or ``timedelta`` from 0.05 s to half the lease (so that one late beat does
    not make a live process look lost)."""
    if value is None:
        return max(lease / 3, MIN_HEARTBEAT)
    seconds = check_positive_seconds(value, "heartbeat")
    if seconds < MIN_HEARTBEAT:
        raise ValueError(f"heartbeat must be at least {MIN_HEARTBEAT} seconds, got {value!r}")
    if seconds > lease / 2:
        raise ValueError(f"heartbeat must be at most half the lease ({lease:g} s), got {value!r}")
    return seconds


def check_cluster_limit(value: object) -> int:
    """Return a cluster-wide limit: an ``int`` from 1 to 999,999,999."""
    limit = check_limit(value)
    if limit > MAX_LIMIT:
        raise ValueError(f"concurrency limit must be at most {MAX_LIMIT}, got {limit}")
    return limit


def check_timeout(value: object) -> float | None:
    """Return a wait's timeout in seconds (``None``: no timeout; 0: one try only)."""
    if value is None:
        return None
    return check_seconds(value, "timeout")
