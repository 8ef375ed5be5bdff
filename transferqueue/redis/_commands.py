"""The semaphore's operations on Redis, one round trip each, with typed answers."""

from __future__ import annotations

from typing import Any, cast

from . import _lua
from ._connection import RedisConnection
from ._keys import SemaphoreKeys
from ._records import SemaphoreState
from ._settings import MAX_LEASE

_MAX_LEASE_MS = int(MAX_LEASE * 1000)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


class SemaphoreCommands:
    """The scripts of :mod:`._lua` bound to one namespace's keys on one server.

    ``limit_if_missing`` is the limit the scripts store when the limit key is missing (the
    constructor's, then the last one set through this object); it is replaced whole, so
    it is read without a lock.
    """

    def __init__(
        self,
        connection: RedisConnection,
        keys: SemaphoreKeys,
        lease: float,
        waiter_lease: float,
        limit_if_missing: int,
    ) -> None:
        self.connection = connection
        self.keys = keys
        self.limit_if_missing = limit_if_missing
        self._lease_ms = _ms(lease)
        self._waiter_ms = _ms(waiter_lease)
        self._attempt = connection.script(_lua.ATTEMPT)
        self._release = connection.script(_lua.RELEASE)
        self._renew = connection.script(_lua.RENEW)
        self._set_limit = connection.script(_lua.SET_LIMIT)
        self._state = connection.script(_lua.STATE)

    def store_limit_if_missing(self) -> None:
        """Store ``limit_if_missing`` unless a limit is stored already."""
        client = self.connection.client
        self.connection.call(
            "storing the limit",
            lambda: client.set(self.keys.limit, self.limit_if_missing, nx=True),
        )

    def attempt(self, holder_id: str, join: bool) -> tuple[bool, int, int]:
        """Try to take a slot for ``holder_id``; when refused and ``join``, queue up (or
        keep the place in the queue). Returns ``(admitted, server time in ms, ms until the
        first holder's lease ends or -1)``."""
        args: list[str | int] = [
            holder_id,
            self._lease_ms,
            self._waiter_ms,
            self.limit_if_missing,
            _MAX_LEASE_MS,
            1 if join else 0,
            self.keys.wake_prefix,
        ]
        reply = self._run("acquiring a slot", self._attempt, args)
        admitted, now, until_first = cast(list[int], reply)
        return admitted == 1, now, until_first

    def wait_for_wake_up(self, holder_id: str, seconds: float) -> bool:
        """Block up to ``seconds`` (at least 1 ms) for a wake-up of ``holder_id``."""
        key = self.keys.wake_prefix + holder_id
        client = self.connection.client
        reply = self.connection.call(
            "waiting for a slot", lambda: client.blpop([key], max(round(seconds, 3), 0.001))
        )
        return reply is not None

    def drop(self, holder_id: str) -> bool:
        """Remove ``holder_id`` as holder and as waiter, waking the waiters the freed slot
        is for; True if it held a slot."""
        args: list[str | int] = [
            holder_id,
            self.limit_if_missing,
            _MAX_LEASE_MS,
            self.keys.wake_prefix,
            self._waiter_ms,
        ]
        return bool(self._run("releasing a slot", self._release, args) == 1)

    def renew(self, holder_ids: list[str]) -> set[str]:
        """Extend the leases of ``holder_ids``; returns those that were not held any more."""
        reply = self._run("renewing slots", self._renew, [self._lease_ms, *holder_ids])
        return {item.decode() for item in cast(list[bytes], reply)}

    def set_limit(self, limit: int) -> bytes | None:
        """Store ``limit``, waking the waiters it makes room for; returns the value stored
        before, as stored."""
        args: list[str | int] = [limit, _MAX_LEASE_MS, self.keys.wake_prefix, self._waiter_ms]
        previous = self._run("changing the limit", self._set_limit, args)
        self.limit_if_missing = limit
        return cast("bytes | None", previous)

    def state(self) -> SemaphoreState:
        """Limit, live holders and live waiters, read without writing."""
        reply = self._run("reading the state", self._state, [self.limit_if_missing, _MAX_LEASE_MS])
        limit, holders, waiting = cast(list[int], reply)
        return SemaphoreState(limit=limit, holders=holders, waiting=waiting)

    def _run(self, what: str, script: Any, args: list[str | int]) -> Any:
        return self.connection.call(what, lambda: script(self.keys.script_keys, args))
