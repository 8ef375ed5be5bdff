"""The exceptions of the Redis coordination (importable without redis-py)."""

from __future__ import annotations

from transferqueue._errors import TransferQueueError


class RedisBackendError(TransferQueueError):
    """Base class of the Redis errors: Redis refused a command or could not be used.

    ``url`` is the server's URL with any password replaced by ``***``; no message of these
    errors contains the password.
    """

    __module__ = "transferqueue.redis"  # where users import it: a stable error_type

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url


class RedisUnavailableError(RedisBackendError, ConnectionError):
    """Redis could not be reached (refused, timed out, authentication failed) or the
    connection broke during a command."""

    __module__ = "transferqueue.redis"  # where users import it: a stable error_type


class RedisDataError(RedisBackendError, ValueError):
    """A key of the namespace holds something this library did not write there (a limit
    that is not an integer, a key of the wrong type): the data is refused, not guessed at."""

    __module__ = "transferqueue.redis"  # where users import it: a stable error_type


class SlotLostError(TransferQueueError):
    """The slot is not held any more: its lease ran out before it was renewed (the process
    was paused, or Redis could not be reached for a whole lease), or it was released."""

    __module__ = "transferqueue.redis"  # where users import it: a stable error_type

    def __init__(self, holder_id: str, reason: str) -> None:
        super().__init__(f"slot {holder_id} is lost: {reason}")
        self.holder_id = holder_id
        self.reason = reason


class OwnerLostError(TransferQueueError):
    """The kind recorded for the files of a job whose owning process was lost: it sent
    no heartbeat within its lease (killed, its host gone, or paused too long), so the
    cluster declared it lost and failed its unfinished jobs. Files carry it as their
    ``error_type``, ``"transferqueue.redis.OwnerLostError"``."""

    __module__ = "transferqueue.redis"  # where users import it: a stable error_type
