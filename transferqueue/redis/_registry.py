"""The shared registry of jobs in Redis: every job's snapshot, written by the process that
owns it, readable by every process of the cluster.

Keys, under ``<namespace>:``: ``job:<id>`` a hash per job (see :mod:`._wire`);
``jobs``, ``active`` and ``finished`` sorted sets of job ids (every job and the
unfinished ones scored by creation, the finished ones by their end, in ms); ``events:<id>``
a stream per job, one entry per event (its number, the head, the files it changed),
trimmed to about ``stream_length`` entries and expired ``stream_ttl`` seconds after the
job ended.

Writes come from the owner's event thread, coalesced as its events are (one snapshot per
job per ``update_interval`` at most) and pipelined: one round trip per batch of events.
Each event writes the head and only the files that changed since the job's previous one.
``queue_job`` writes a job's creation; two writes of the same job never cross, so that a
job is sent whole once, by whichever of the two threads gets to it first. Writes of
different jobs do: a ``queue_job`` does not wait for the event thread's batch of other
jobs' events.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import timedelta
from functools import partial
from typing import Any, cast

import attrs
import redis
from redis.client import Pipeline

from transferqueue._core.clock import utc_now
from transferqueue._errors import JobNotFoundError
from transferqueue._log import log_in_queue_thread, logger
from transferqueue._records import TransferJob
from transferqueue._records.enums import TransferStatus

from . import _registry_lua, _wire
from ._connection import PipelineScript, RedisConnection
from ._errors import RedisBackendError
from ._keys import check_job_id
from ._owners import Owners, fail_lost_job, lost_message

TERMINAL_STATUSES = frozenset(status.value for status in TransferStatus if status.is_terminal)
"""The terminal statuses as the registry's JSON writes them."""
_STATUSES = frozenset(status.value for status in TransferStatus)
# How long a wait for another process's job blocks on its stream before it looks at the
# job again (a stream may have expired or been trimmed past what it waited for).
WAIT_STEP = 1.0


@attrs.frozen
class Published:
    """One event of a job to write: its snapshot, its number (0 for ``job-created``), and
    the files it changed (None: every file)."""

    job: TransferJob
    seq: int
    changed: Collection[int] | None


@attrs.frozen
class Retention:
    """A queue's retention, applied to the registry: keep at most ``max_finished_jobs``
    finished jobs, none that ended ``max_finished_age`` seconds ago or earlier."""

    max_finished_jobs: int | None = None
    max_finished_age: float | None = None

    @property
    def applies(self) -> bool:
        """True when there is anything to trim by."""
        return self.max_finished_jobs is not None or self.max_finished_age is not None

    def trim_args(self) -> tuple[str, str]:
        """The TRIM script's count and cutoff arguments, as of now."""
        count = "" if self.max_finished_jobs is None else str(self.max_finished_jobs)
        if self.max_finished_age is None:
            return count, ""
        return count, str(_ms(utc_now() - timedelta(seconds=self.max_finished_age)))


NO_RETENTION = Retention()


def _ms(moment: Any) -> int:
    return int(moment.timestamp() * 1000)


class JobRegistry:
    """The registry of one namespace on one server."""

    def __init__(
        self,
        connection: RedisConnection,
        namespace: str,
        stream_length: int,
        stream_ttl: float,
        owners: Owners,
        owner_lease: float,
    ) -> None:
        self._connection = connection
        self._owners = owners
        self._owner_lease_ms = int(owner_lease * 1000)
        self._client: redis.Redis = connection.client
        base = f"{namespace}:"
        self._job_prefix = base + "job:"
        self._stream_prefix = base + "events:"
        self._jobs, self._active, self._finished = base + "jobs", base + "active", base + "finished"
        self._all_events = base + "events"
        self._stream_length = stream_length
        self._stream_ttl_ms = int(stream_ttl * 1000)
        self._publish = connection.pipeline_script(_registry_lua.PUBLISH)
        self._trim = connection.pipeline_script(_registry_lua.TRIM)
        # Guards _unpublished, _whole, _failing, _in_flight, _writers and _held. The
        # writers change them; readers never touch them. No Redis call and no log record
        # is made under it.
        self._lock = threading.Lock()
        # Notified whenever a write ends or writes_held() lets go.
        self._write_ended = threading.Condition(self._lock)
        # The jobs a write is in flight for, from its encoding to Redis's answer: a write
        # waits until none of its jobs is in another one, so that queue_job's creation of
        # a job and the event thread's later events of it reach Redis one after the
        # other, never crossing, while writes of other jobs go on meanwhile.
        self._in_flight: set[str] = set()
        self._writers = 0  # writes in flight
        self._held = False  # writes_held() keeps new writes out
        # The newest event of each job whose write failed: the job is written whole with
        # the next batch.
        self._unpublished: dict[str, Published] = {}
        # The unfinished jobs whose every file is in Redis: the others' next event is
        # written whole (the event thread may get to a job before queue_job wrote its
        # creation), and a creation of one of them is not written (a later event of the
        # job, written whole, is there already).
        self._whole: set[str] = set()
        self._failing = False

    def job_key(self, job_id: str) -> str:
        """The hash of ``job_id``."""
        return self._job_prefix + job_id

    def stream_key(self, job_id: str) -> str:
        """The event stream of ``job_id``."""
        return self._stream_prefix + job_id

    # -- writing (the owner's event thread) ------------------------------------------------

    def publish(self, events: Sequence[Published], owner: str, retention: Retention) -> bool:
        """Write the events, in order, in one round trip. Never raises: a failure is
        logged once until writes work again, and each job whose write failed is written
        whole (every file) with the next batch. A job Redis lost (restarted without its
        data) is written whole at once, in a second round trip.

        Returns True when ``owner`` has been declared lost: nothing was written, and the
        events are kept to be written (whole) with the next batch, under the name the
        process goes on with."""
        notes: list[tuple[int, str]] = []
        ids = _ids(events)
        with self._lock:
            while self._held or not self._in_flight.isdisjoint(ids):
                self._write_ended.wait()
            # The events kept from failed writes go with this batch, but for those of jobs
            # another write is in flight for (they go with that job's next write).
            retry = {
                job_id: event
                for job_id, event in self._unpublished.items()
                if job_id in ids or job_id not in self._in_flight
            }
            for job_id in retry:
                del self._unpublished[job_id]
            claimed = ids | retry.keys()
            self._in_flight |= claimed
            self._writers += 1
            whole = {job_id for job_id in ids if job_id in self._whole}
        try:
            declared = self._publish_claimed(events, retry, whole, owner, retention, notes)
        finally:
            with self._lock:
                self._in_flight -= claimed
                self._writers -= 1
                self._write_ended.notify_all()
        for level, message in notes:
            log_in_queue_thread(level, message)
        return declared

    def write_again(self, events: Sequence[Published], owner: str, retention: Retention) -> None:
        """Write the events whole after Redis lost its data: no job is whole in Redis
        now, so none of them is left out as a creation already written."""
        with self.writes_held(), self._lock:
            self._whole.clear()
        self.publish(events, owner, retention)

    def _publish_claimed(
        self,
        events: Sequence[Published],
        retry: dict[str, Published],
        whole: set[str],
        owner: str,
        retention: Retention,
        notes: list[tuple[int, str]],
    ) -> bool:
        """Write ``events`` and the kept ``retry`` ones, whose jobs this write holds in
        :attr:`_in_flight`; ``whole``: those of the events' jobs that are whole in Redis."""
        ids = _ids(events)
        batch = [event for job_id, event in retry.items() if job_id not in ids]
        partial_ones = ids - whole
        for event in events:
            job_id = event.job.id
            kept = retry.pop(job_id, None)
            if kept is not None and kept.seq > event.seq:
                # Kept from an earlier batch that failed or was refused, and newer than
                # this one (queue_job's creation, when the event thread's batch with the
                # job's first events went first): the newer one goes.
                event = kept
            elif kept is None and event.seq == 0 and job_id in whole:
                # A creation the event thread got ahead of: written whole already.
                continue
            if kept is not None or job_id in partial_ones:
                event = Published(event.job, event.seq, None)
                partial_ones.discard(job_id)  # its later events in this batch need not be
            batch.append(event)
        if not batch:
            return False
        lost, declared = self._write(batch, owner, retention, notes)
        if lost:
            declared = self._write(lost, owner, retention, notes)[1] or declared
        return declared

    @contextlib.contextmanager
    def writes_held(self) -> Iterator[None]:
        """No write of this registry is in flight, nor starts, within the block."""
        with self._lock:
            while self._held:
                self._write_ended.wait()
            self._held = True
            while self._writers:
                self._write_ended.wait()
        try:
            yield
        finally:
            with self._lock:
                self._held = False
                self._write_ended.notify_all()

    def in_redis(self, job_ids: Collection[str]) -> set[str]:
        """Those of the unfinished ``job_ids`` that a write brought to Redis (each one
        whole, then its changes); the others were refused, failed or not sent yet."""
        with self._lock:
            return {job_id for job_id in job_ids if job_id in self._whole}

    def has_unpublished(self) -> bool:
        """True while events whose write failed wait for the next batch."""
        with self._lock:
            return bool(self._unpublished)

    def _write(
        self,
        batch: Sequence[Published],
        owner: str,
        retention: Retention,
        notes: list[tuple[int, str]],
    ) -> tuple[list[Published], bool]:
        """Write a batch; return the newest event, whole, of each job Redis had lost, and
        whether ``owner`` was declared lost (its events are then kept for later)."""
        terminal = any(event.job.status.is_terminal for event in batch)
        calls = [self._publish_call(event, owner) for event in batch]
        if retention.applies and terminal:
            calls.append(self._trim_call(*retention.trim_args()))
        try:
            results = self._connection.run_scripts("writing job events", calls)
        except RedisBackendError as exc:
            self._failed(batch, str(exc), notes)
            return [], False
        written = list(zip(batch, results, strict=False))
        failed = [event for event, result in written if isinstance(result, Exception)]
        if failed:
            error = next(result for _, result in written if isinstance(result, Exception))
            self._failed(failed, str(error), notes)
            return [], False
        refused = [event for event, result in written if result == -1]
        if refused:
            with self._lock:
                self._keep_locked(refused)
            return [], True
        lost = {event.job.id: event for event, result in written if result == 0}
        with self._lock:
            recovered, self._failing = self._failing, False
            for event, result in written:
                if event.job.status.is_terminal:
                    self._whole.discard(event.job.id)
                elif event.changed is None and result != 0:
                    self._whole.add(event.job.id)
        if recovered:
            notes.append((logging.INFO, "job events are written to Redis again"))
        newest = {event.job.id: event for event, _ in written if event.job.id in lost}
        return [Published(event.job, event.seq, None) for event in newest.values()], False

    def _add_publish(
        self, pipeline: Pipeline, event: Published, owner: str, reaping: bool = False
    ) -> None:
        self._publish.add(pipeline, *self._publish_call(event, owner, reaping)[1:])

    def _publish_call(
        self, event: Published, owner: str, reaping: bool = False
    ) -> tuple[PipelineScript, list[str], list[str | int]]:
        """The PUBLISH script's call that writes ``event``."""
        job = event.job
        indexes = range(len(job.files)) if event.changed is None else sorted(event.changed)
        encoded = [(index, _wire.encode_file(job.files[index])) for index in indexes]
        ended = "" if job.completed_at is None else str(_ms(job.completed_at))
        keys = [
            self.job_key(job.id),
            self._jobs,
            self._active,
            self._finished,
            self.stream_key(job.id),
            self._all_events,
            self._owners.owners_key,
            self._owners.lost_key,
        ]
        args: list[str | int] = [
            job.id,
            event.seq,
            _wire.encode_head(job),
            owner,
            _ms(job.created_at),
            ended,
            self._stream_length,
            self._stream_ttl_ms,
            "{}" if event.seq == 0 else _wire.stream_files(encoded),
            "1" if event.changed is None else "0",
            self._owner_lease_ms,
            self._owners.owned_prefix,
            "1" if reaping else "0",
            _wire.hash_fields(encoded),
        ]
        return self._publish, keys, args

    # -- the jobs of lost owners (any process) ---------------------------------------------

    def fail_orphan(self, job_id: str, owner: str) -> TransferJob | None:
        """Fail the unfinished job ``job_id`` of ``owner``, declared lost: its unfinished
        files become ``error``, naming the owner. Returns the job as written, or None
        when there was nothing to write (the job ended, or another process failed it
        first: the write is refused in Redis unless it follows the event read here)."""
        client = self._client
        pipeline = client.pipeline(transaction=True)
        pipeline.hgetall(self.job_key(job_id))
        (fields,) = self._connection.call("reading a job of a lost owner", pipeline.execute)
        job = self._decoded(job_id, fields)
        raw = cast(dict[bytes, bytes], fields or {})
        seq = event_number(raw.get(_wire.SEQ))
        stored_owner = raw.get(_wire.OWNER)
        if job is None or seq is None or job.status.is_terminal or stored_owner is None:
            self._forget_orphan(job_id, owner)
            return None
        if check_job_id(stored_owner) != owner:  # owned by another process now
            self._forget_orphan(job_id, owner)
            return None
        failed, changed = fail_lost_job(job, lost_message(owner))
        event = Published(failed, seq + 1, changed)
        results = self._connection.pipelined(
            "failing a job of a lost owner",
            lambda pipeline: self._add_publish(pipeline, event, owner, reaping=True),
        )
        reply = self._connection.reply("failing a job of a lost owner", results[0])
        return failed if reply not in (None, 0, -1) else None

    def _forget_orphan(self, job_id: str, owner: str) -> None:
        key = self._owners.owned_prefix + owner
        client = self._client
        self._connection.call("forgetting a job of a lost owner", lambda: client.srem(key, job_id))

    def _keep_locked(self, events: Sequence[Published]) -> None:
        """Keep the events to write whole with the next batch: the newest of each job
        (another thread may have kept a newer one meanwhile)."""
        for event in events:
            kept = self._unpublished.get(event.job.id)
            if kept is None or kept.seq <= event.seq:
                self._unpublished[event.job.id] = Published(event.job, event.seq, None)

    def _failed(
        self, events: Sequence[Published], reason: str, notes: list[tuple[int, str]]
    ) -> None:
        with self._lock:
            self._keep_locked(events)
            first, self._failing = not self._failing, True
        if first:
            notes.append(
                (
                    logging.WARNING,
                    "could not write job events to Redis (each job is written whole with "
                    f"the next events): {reason}",
                )
            )

    # -- retention --------------------------------------------------------------------------

    def _add_trim(self, pipeline: Pipeline, count: str, cutoff: str) -> None:
        self._trim.add(pipeline, *self._trim_call(count, cutoff)[1:])

    def _trim_call(
        self, count: str, cutoff: str
    ) -> tuple[PipelineScript, list[str], list[str | int]]:
        """The TRIM script's call (see :data:`._registry_lua.TRIM`)."""
        keys = [self._finished, self._jobs, self._active]
        return self._trim, keys, [self._job_prefix, self._stream_prefix, count, cutoff]

    def forget_ended_before(self, cutoff_ms: int | None) -> list[str]:
        """Forget the finished jobs that ended at or before ``cutoff_ms`` (None: every
        finished job); return their ids."""
        cutoff = "+inf" if cutoff_ms is None else str(cutoff_ms)
        results = self._connection.pipelined(
            "forgetting old jobs", lambda pipeline: self._add_trim(pipeline, "", cutoff)
        )
        reply = self._connection.reply("forgetting old jobs", results[0])
        return [job_id for raw in cast(list[bytes], reply) if (job_id := check_job_id(raw))]

    # -- reading (any process) --------------------------------------------------------------

    def read_job(self, job_id: str, retention: Retention) -> TransferJob | None:
        """The job as the registry has it; None if it has none (or only a malformed one,
        which is logged)."""

        def build(pipeline: Pipeline) -> None:
            if retention.applies:
                self._add_trim(pipeline, *retention.trim_args())
            pipeline.hgetall(self.job_key(job_id))

        results = self._connection.pipelined("reading a job", build)
        if retention.applies:
            self._connection.reply("forgetting old jobs", results[0])
        return self._decoded(job_id, results[-1])

    def read_jobs(self, skip: Collection[str], retention: Retention) -> list[TransferJob]:
        """Every job of the registry but those in ``skip``, oldest first; malformed ones
        are logged and left out."""

        def build(pipeline: Pipeline) -> None:
            if retention.applies:
                self._add_trim(pipeline, *retention.trim_args())
            pipeline.zrange(self._jobs, 0, -1)

        results = self._connection.pipelined("listing jobs", build)
        if retention.applies:
            self._connection.reply("forgetting old jobs", results[0])
        members = cast(list[bytes], self._connection.reply("listing jobs", results[-1]))
        ids = [job_id for job_id in self._checked_ids(members) if job_id not in skip]
        return self.read_many(ids)

    def read_many(self, ids: list[str]) -> list[TransferJob]:
        """The jobs of ``ids`` that the registry has (in one round trip), in that order;
        malformed ones are logged and left out."""
        if not ids:
            return []

        def read(pipeline: Pipeline) -> None:
            for job_id in ids:
                pipeline.hgetall(self.job_key(job_id))

        hashes = self._connection.pipelined("reading jobs", read)
        return [
            job
            for job_id, fields in zip(ids, hashes, strict=True)
            if (job := self._decoded(job_id, fields)) is not None
        ]

    def read_active(self) -> list[tuple[str, int]]:
        """The unfinished jobs' ids with their creation time (ms), oldest first."""
        client = self._client
        reply = self._connection.call(
            "listing active jobs", lambda: client.zrange(self._active, 0, -1, withscores=True)
        )
        found = []
        for raw, score in cast(list[tuple[bytes, float]], reply):
            job_id = self._checked_id(raw)
            if job_id is not None:
                found.append((job_id, int(score)))
        return found

    def wait(
        self,
        job_id: str,
        seconds: float | None,
        each_step: Callable[[], None],
        until: frozenset[str] = TERMINAL_STATUSES,
    ) -> TransferJob:
        """Block until another process's job is terminal in the registry (or has
        another status of ``until``); return it.

        Blocks on the job's stream, at most :data:`WAIT_STEP` at a time, looking at the job
        again after each event or step, after calling ``each_step()`` (which may fail the
        job, should its owner be lost). Raises JobNotFoundError when the registry has no
        such job (or forgets it meanwhile), TimeoutError after ``seconds``.
        """
        remaining = math.inf if seconds is None else seconds
        stream = self.stream_key(job_id)
        client = self._client
        while True:
            each_step()
            head, tail = self._head_and_tail(job_id)
            if head is None:
                raise JobNotFoundError(job_id)
            status = _head_status(head)
            if status is None:  # malformed, as read_job() logs: no such job for us
                self.read_job(job_id, NO_RETENTION)
                raise JobNotFoundError(job_id)
            if status in until:
                job = self.read_job(job_id, NO_RETENTION)
                if job is None:
                    raise JobNotFoundError(job_id)
                return job  # terminal is final (another status: as its head said then)
            if remaining <= 0:
                raise TimeoutError(f"transfer job {job_id} did not finish within {seconds} s")
            step = min(remaining, WAIT_STEP)
            block = max(1, int(step * 1000))
            started = time.monotonic()
            reply = self._connection.call(
                "waiting for a job", partial(client.xread, {stream: tail}, count=1, block=block)
            )
            # A step that timed out used up its time even where the clock stands still
            # (freezegun); one cut short by an event, what the clock says.
            remaining -= step if not reply else max(0.0, time.monotonic() - started)

    def stream_tail(self, job_id: str) -> bytes:
        """The id of the last entry of the job's stream ("0-0" with none): where
        :meth:`wait_for_status` reads the job's later events from."""
        return self._head_and_tail(job_id)[1]

    def wait_for_status(
        self,
        job_id: str,
        since: bytes,
        wanted: frozenset[str],
        seconds: float,
        each_step: Callable[[], None],
    ) -> str:
        """Block until an event of the job written after the stream entry ``since``
        says a status of ``wanted``, or a terminal one; return the first such status.

        Its events, not its head: a status the job held only briefly (resumed, then
        completed before anyone looked) is seen all the same. Calls ``each_step()``
        before each step, as :meth:`wait`. Raises JobNotFoundError when the registry
        forgets the job meanwhile, TimeoutError after ``seconds``.
        """
        remaining = seconds
        stream = self.stream_key(job_id)
        key = self.job_key(job_id)
        client = self._client
        cursor = since
        while True:
            each_step()
            step = min(remaining, WAIT_STEP)
            started = time.monotonic()
            reply = self._connection.call(
                "waiting for a job",
                partial(client.xread, {stream: cursor}, count=100, block=max(1, int(step * 1000))),
            )
            for _, entries in cast(
                list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]], reply
            ):
                for entry_id, fields in entries:
                    cursor = entry_id
                    status = _head_status(fields.get(b"head", b""))
                    if status is not None and (status in wanted or status in TERMINAL_STATUSES):
                        return status
            if not self._connection.call("reading a job", partial(client.exists, key)):
                raise JobNotFoundError(job_id)
            # As in wait(): a step that timed out used up its time.
            remaining -= step if not reply else max(0.0, time.monotonic() - started)
            if remaining <= 0:
                raise TimeoutError(f"transfer job {job_id} did not reach {sorted(wanted)} in time")

    def read_state(self, job_id: str) -> tuple[str | None, str | None] | None:
        """The job's status and owner as the registry has them (each None where it holds
        no valid one); None if it has no such job."""
        client = self._client
        reply = self._connection.call(
            "reading a job", lambda: client.hmget(self.job_key(job_id), ["head", "owner"])
        )
        head, owner = cast(list["bytes | None"], reply)
        if head is None:
            return None
        return _head_status(head), None if owner is None else check_job_id(owner)

    def read_job_and_tail(self, job_id: str) -> tuple[TransferJob | None, int, bytes]:
        """The job (None: none, or malformed, which is logged), the number of its last
        event written and its stream's last entry id ("0-0" with none), read at once."""
        pipeline = self._client.pipeline(transaction=True)
        pipeline.hgetall(self.job_key(job_id))
        pipeline.xrevrange(self.stream_key(job_id), "+", "-", count=1)
        fields, last = self._connection.call("reading a job", pipeline.execute)
        job = self._decoded(job_id, fields)
        seq = event_number(cast(dict[bytes, bytes], fields).get(_wire.SEQ)) if job else None
        if job is not None and seq is None:
            logger.warning("skipped job %s in Redis: its event number is malformed", job_id)
            job = None
        entries = cast(list[tuple[bytes, Any]], last)
        return job, seq or 0, entries[0][0] if entries else b"0-0"

    def read_events(
        self, job_id: str, after: bytes, seconds: float
    ) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """The job's stream entries after ``after``, waiting up to ``seconds`` for one."""
        return self._read_stream(self.stream_key(job_id), after, seconds, "following a job")

    def all_events_tail(self) -> bytes:
        """The namespace stream's last entry id ("0-0" with none)."""
        client = self._client
        reply = self._connection.call(
            "following every job", lambda: client.xrevrange(self._all_events, "+", "-", count=1)
        )
        entries = cast(list[tuple[bytes, Any]], reply)
        return entries[0][0] if entries else b"0-0"

    def read_all_events(
        self, after: bytes, seconds: float
    ) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """The namespace stream's entries (``job``, ``seq``) after ``after``, waiting up
        to ``seconds`` for one."""
        return self._read_stream(self._all_events, after, seconds, "following every job")

    def _read_stream(
        self, key: str, after: bytes, seconds: float, what: str
    ) -> list[tuple[bytes, dict[bytes, bytes]]]:
        block = max(1, int(seconds * 1000))
        reply = self._connection.call(
            what, partial(self._client.xread, {key: after}, count=1000, block=block)
        )
        if not reply:
            return []
        # RESP2, redis-py's default: [[key, [(entry id, fields), ...]]]
        streams = cast(list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]], reply)
        return streams[0][1]

    def _head_and_tail(self, job_id: str) -> tuple[bytes | None, bytes]:
        """The job's head and its stream's last entry id ("0-0" with none), read at once."""
        pipeline = self._client.pipeline(transaction=True)
        pipeline.hget(self.job_key(job_id), "head")
        pipeline.xrevrange(self.stream_key(job_id), "+", "-", count=1)
        head, last = self._connection.call("reading a job", pipeline.execute)
        entries = cast(list[tuple[bytes, Any]], last)
        return cast("bytes | None", head), entries[0][0] if entries else b"0-0"

    def _checked_ids(self, members: list[bytes]) -> list[str]:
        return [job_id for raw in members if (job_id := self._checked_id(raw)) is not None]

    def _checked_id(self, raw: bytes) -> str | None:
        job_id = check_job_id(raw)
        if job_id is None:
            logger.warning("skipped a job id in Redis that no queue makes: %r", raw[:60])
        return job_id

    def _decoded(self, job_id: str, fields: object) -> TransferJob | None:
        if isinstance(fields, Exception):  # a key of another type: not written by us
            logger.warning("skipped job %s in Redis: %s", job_id, fields)
            return None
        if not fields:
            return None
        try:
            return _wire.decode_job(job_id, cast(dict[bytes, bytes], fields))
        except ValueError as exc:
            logger.warning("skipped job %s in Redis, its data is malformed: %s", job_id, exc)
            return None


def event_number(raw: bytes | None) -> int | None:
    """An event number as the registry stores it (decimal digits), or None if it is
    not one."""
    if raw is None or not raw.isdigit() or len(raw) > 15:
        return None
    return int(raw)


def _ids(events: Sequence[Published]) -> set[str]:
    return {event.job.id for event in events}


def _head_status(head: bytes) -> str | None:
    """The status a head says, if it is one; None for anything else (the caller then
    reads and checks the whole job)."""
    try:
        status = _wire.decode_head_status(head)
    except ValueError:
        return None
    return status if status in _STATUSES else None
