"""Where a namespace's semaphore lives in Redis, and the names of its holders."""

from __future__ import annotations

import os
import secrets
import socket

import attrs

_MAX_NAME_LENGTH = 200

HOST = socket.gethostname() or "localhost"
"""This host's name, as holder and owner ids give it."""


def new_holder_id() -> str:
    """A name for one slot (held or waited for) unique across hosts, processes and time:
    ``host:pid:random``; the random part also tells apart the slots of one process."""
    return f"{HOST}:{os.getpid()}:{secrets.token_hex(8)}"


def check_job_id(raw: bytes) -> str | None:
    """A job id (or an owner's name) read from Redis, or None if no queue could have
    made it: UTF-8, 1 to 200 printable characters without a space."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text or len(text) > _MAX_NAME_LENGTH or not text.isprintable() or " " in text:
        return None
    return text


@attrs.frozen
class SemaphoreKeys:
    """The key names of one namespace's semaphore.

    ``holders`` is a sorted set of holder ids scored by the end of their lease (in
    milliseconds of the Redis server's clock); ``queue`` the waiters scored by their ticket
    (the order of arrival) and ``waiting`` the same waiters scored by the end of their own
    lease; ``tickets`` the counter the tickets come from; ``limit`` the cluster's limit as
    a decimal string; ``wake_prefix`` plus a waiter's id is the list it blocks on until a
    slot may be free for it.
    """

    holders: str
    queue: str
    waiting: str
    tickets: str
    limit: str
    wake_prefix: str

    @classmethod
    def for_namespace(cls, namespace: str) -> SemaphoreKeys:
        """The keys of ``namespace``'s semaphore: ``<namespace>:semaphore:<name>``."""
        base = f"{namespace}:semaphore:"
        return cls(
            holders=base + "holders",
            queue=base + "queue",
            waiting=base + "waiting",
            tickets=base + "tickets",
            limit=base + "limit",
            wake_prefix=base + "wake:",
        )

    @property
    def script_keys(self) -> tuple[str, str, str, str, str]:
        """The keys every script is given, in the order the scripts expect."""
        return (self.holders, self.queue, self.waiting, self.tickets, self.limit)
