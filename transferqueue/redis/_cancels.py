"""Cancel (and pause and resume) requests between the processes of a cluster.

Each process that owns jobs has a list, ``<namespace>:cancel:<owner>``: a process that
cancels another's job pushes ``{"job": <id>, "by": "<host>:<pid>"}`` onto the owner's
list, and the owner's listener thread, blocked on it (``BLPOP``), cancels the job at
once. A pause or a resume is ``{"job": <id>, "by": ..., "do": "pause"}`` (``"resume"``)
on the same list: one listener, in order with the cancels. A list expires a minute after
its last request, so that requests to an owner that is gone do not pile up. What a list
holds is checked before use: anything else is logged and dropped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from transferqueue._log import log_in_queue_thread

from ._daemon import DaemonLoop
from ._errors import RedisBackendError
from ._keys import HOST, check_job_id

if TYPE_CHECKING:  # the listener's logic needs no redis-py
    from redis.client import Pipeline

    from ._connection import RedisConnection

# A request waits this long for its owner; a listener blocks this long per read, which
# bounds how long it outlives the owner's last unfinished job.
REQUEST_TTL_MS = 60_000
LISTEN_STEP = 0.5
# After a failed read the listener waits this long before the next one.
RETRY_AFTER_FAILURE = 1.0
_MAX_NAME = 200


def requester() -> str:
    """Who this process is in a request: ``host:pid``."""
    return f"{HOST}:{os.getpid()}"


CANCEL = "cancel"
"""What a request without ``do`` asks."""
_ACTIONS = frozenset({"pause", "resume"})  # what ``do`` may say


def _checked_request(raw: bytes) -> tuple[str, str, str]:
    """The job id, the requester and the action (``cancel``, ``pause`` or ``resume``) of
    a request; ``ValueError`` if it is not one."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ValueError("not JSON") from None
    if not isinstance(data, dict) or set(data) - {"do"} != {"job", "by"}:
        raise ValueError("not an object with exactly the keys job and by (and do)")
    action = data.get("do", CANCEL)
    if "do" in data and action not in _ACTIONS:
        raise ValueError("do is not pause or resume")
    job, by = data["job"], data["by"]
    job_id = check_job_id(job.encode()) if isinstance(job, str) else None
    if job_id is None:
        raise ValueError("job is not a job id")
    if not isinstance(by, str) or not by or len(by) > _MAX_NAME or not by.isprintable():
        raise ValueError("by is not a process name")
    return job_id, by, action


class CancelRequests:
    """The cancel lists of one namespace."""

    def __init__(self, connection: RedisConnection, namespace: str) -> None:
        self._connection = connection
        self._prefix = f"{namespace}:cancel:"

    def key(self, owner: str) -> str:
        """The list of requests to ``owner``."""
        return self._prefix + owner

    def send(self, owner: str, job_id: str, by: str, action: str = CANCEL) -> None:
        """Ask ``owner`` to cancel (or pause, or resume) ``job_id`` (one round trip)."""
        key = self.key(owner)
        fields = {"job": job_id, "by": by}
        if action != CANCEL:
            fields["do"] = action
        request = json.dumps(fields)

        def build(pipeline: Pipeline) -> None:
            pipeline.rpush(key, request)
            pipeline.pexpire(key, REQUEST_TTL_MS)

        for reply in self._connection.pipelined("asking for a cancel", build):
            self._connection.reply("asking for a cancel", reply)

    def wake(self, owner: str) -> None:
        """End a wait of ``owner``'s listener at once (an empty entry, which it skips)."""
        key = self.key(owner)

        def build(pipeline: Pipeline) -> None:
            pipeline.rpush(key, b"")
            pipeline.pexpire(key, REQUEST_TTL_MS)

        self._connection.pipelined("waking the cancel listener", build)

    def receive(self, owner: str, seconds: float) -> list[tuple[str, str, str]]:
        """The requests to ``owner``, waiting up to ``seconds`` for the first; each as
        ``(job id, requester, action)``. Malformed ones are logged and dropped."""
        client = self._connection.client
        key = self.key(owner)
        reply = self._connection.call(
            "waiting for cancel requests", lambda: client.blpop([key], seconds)
        )
        if reply is None:
            return []
        raws = [cast(tuple[bytes, bytes], reply)[1]]  # out of Redis now: act on it whatever
        try:
            more = self._connection.call("reading cancel requests", lambda: client.lpop(key, 100))
        except RedisBackendError as exc:  # the rest stay in Redis for the next read
            log_in_queue_thread(logging.WARNING, "could not read more cancel requests: %s", exc)
            more = None
        raws.extend(cast("list[bytes] | None", more) or [])
        requests = []
        for raw in raws:
            if not raw:  # a wake-up (see wake())
                continue
            try:
                requests.append(_checked_request(raw))
            except ValueError as exc:
                log_in_queue_thread(
                    logging.WARNING, "dropped a cancel request in %s (%s): %r", key, exc, raw[:80]
                )
        return requests


class CancelListener:
    """The thread that reads this process's cancel requests while ``has_work()``.

    :meth:`wake` starts it when there is none (call it after queueing a job); it ends by
    itself once ``has_work()`` is false, within :data:`LISTEN_STEP` (see
    :class:`._daemon.DaemonLoop`: a wake and the thread's end cannot miss each other, and
    ``has_work()``, which takes the queue's lock, is never asked under the loop's).
    """

    def __init__(
        self,
        requests: CancelRequests,
        owner: Callable[[], str],
        on_request: Callable[[str, str, str], None],
        has_work: Callable[[], bool],
    ) -> None:
        self._requests = requests
        self._owner = owner
        self._on_request = on_request
        self._failing = False  # only the thread reads and writes it
        self._loop = DaemonLoop(
            "transferqueue-cancels",
            self._listen,
            "handling cancel requests failed",
            has_work=has_work,
        )

    def wake(self) -> None:
        """Make sure a thread listens (a process limit that refuses it is logged: the
        jobs run on, only cancels from other processes wait for the next wake)."""
        try:
            self._loop.wake()
        except RuntimeError as exc:
            log_in_queue_thread(logging.ERROR, "no thread to listen for cancels: %s", exc)

    def stop(self) -> None:
        """End the thread (waking its read, or else waiting for it, at most one read)
        and start no other."""
        self._loop.stop(interrupt=self._interrupt)

    def _interrupt(self) -> None:
        # Should Redis be away, the read ends by itself, within LISTEN_STEP.
        with contextlib.suppress(RedisBackendError):
            self._requests.wake(self._owner())

    def _listen(self) -> None:
        """One read of the requests (blocking up to LISTEN_STEP), each one acted on."""
        try:
            requests = self._requests.receive(self._owner(), LISTEN_STEP)
        except RedisBackendError as exc:
            if not self._failing:
                log_in_queue_thread(
                    logging.WARNING, "could not read cancel requests from Redis: %s", exc
                )
            self._failing = True
            self._loop.rest(RETRY_AFTER_FAILURE)
            return
        self._failing = False
        for job_id, by, action in requests:
            self._on_request(job_id, by, action)
