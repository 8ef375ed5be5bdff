"""Following another process's jobs through Redis: ``watch()`` of one job, and the feed of
every job that the web front's all-jobs stream reads.

Both block in the caller's thread on a stream (``XREAD``), at most a second at a time, so
that a close from another thread ends them within a second; neither starts a thread.
What the streams hold is checked like everything read from Redis: a malformed entry, or
a gap in a job's event numbers (entries trimmed away), makes the watch read the job
whole again from the registry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from transferqueue._events.watch import JobWatch, WatchFeed
from transferqueue._log import logger
from transferqueue._records.from_json import file_from_dict, job_from_head
from transferqueue._records.records import TransferFile, TransferJob

from ._keys import check_job_id
from ._registry import JobRegistry, event_number

# The longest a read blocks: how long a close from another thread may take to be seen.
READ_STEP = 1.0


class StreamWatch(JobWatch[Any]):
    """A :class:`~transferqueue.JobWatch` of another process's job, read from the job's
    event stream in Redis; it behaves as a local one (see ``TransferQueue.watch``)."""

    def __init__(
        self,
        registry: JobRegistry,
        first: TransferJob,
        seq: int,
        tail: bytes,
        *,
        timeout: float | None,
        keepalive: float | None,
        between_reads: Callable[[], None],
    ) -> None:
        # The base class's feed only holds the first snapshot; this class reads the rest.
        super().__init__(
            first.id,
            WatchFeed(first, seq, subscribed=False),
            None,
            timeout=timeout,
            keepalive=keepalive,
        )
        self._registry = registry
        self._job = first
        self._files: list[TransferFile] = list(first.files)
        self._seq = seq  # the number of the last event applied to _job
        self._tail = tail  # the stream entry read last
        self._first_due = True
        self._between_reads = between_reads  # looks for lost owners (and fails their jobs)

    def __next__(self) -> TransferJob | None:
        if self._first_due:
            self._first_due = False
            return self._yield(self._job, self._seq, None)
        quiet = 0.0
        while True:
            if self._ended:
                raise StopIteration
            if self._remaining <= 0:
                raise TimeoutError(
                    f"transfer job {self.job_id} did not finish within the watch's timeout"
                )
            step = min(self._remaining, READ_STEP)
            if self._keepalive is not None:
                step = min(step, self._keepalive - quiet)
            self._between_reads()
            started = time.monotonic()
            entries = self._registry.read_events(self.job_id, self._tail, step)
            # A read that timed out used up its time even where the clock stands still
            # (freezegun); one cut short, what the clock says.
            spent = step if not entries else max(0.0, time.monotonic() - started)
            self._remaining -= spent
            if entries:
                news = self._apply(entries)
                if news is not None:
                    return news
                continue
            quiet += spent
            if self._keepalive is not None and quiet >= self._keepalive and self._remaining > 0:
                self._changed_files = ()
                return None

    def close(self) -> None:
        """Stop watching (seen within a second by a read going on in another thread)."""
        self._ended = True

    def _yield(self, job: TransferJob, seq: int, changed: tuple[int, ...] | None) -> TransferJob:
        self._job, self._seq = job, seq
        self._event = seq
        self._changed_files = changed
        if job.status.is_terminal:
            self._ended = True
        return job

    def _apply(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> TransferJob | None:
        """Take the entries in; the newest snapshot if they bring one."""
        changed: set[int] = set()
        head: object = None
        seq = self._seq
        files = self._files
        for entry_id, fields in entries:
            number = event_number(fields.get(b"seq"))
            if number is not None and number <= seq:  # had already, or the creation
                self._tail = entry_id
                continue
            try:
                if number != seq + 1:
                    raise ValueError(f"event {number} follows event {seq}")  # trimmed away
                head = json.loads(fields[b"head"])
                for key, data in _changed_files(fields.get(b"files")).items():
                    index = _index(key, len(files))
                    files[index] = file_from_dict(data, f"files[{index}]")
                    changed.add(index)
            except (ValueError, KeyError, RecursionError) as exc:
                logger.warning(
                    "job %s: read again from the registry after stream entry %r: %s",
                    self.job_id,
                    entry_id,
                    exc,
                )
                return self._read_again()
            seq = number
            self._tail = entry_id
        if head is None:
            return None
        try:
            job = job_from_head(head, files)
        except ValueError as exc:
            logger.warning("job %s: read again from the registry: %s", self.job_id, exc)
            return self._read_again()
        return self._yield(job, seq, tuple(sorted(changed)))

    def _read_again(self) -> TransferJob | None:
        """Start afresh from the registry; None if it has nothing newer."""
        job, seq, tail = self._registry.read_job_and_tail(self.job_id)
        if job is None:  # gone (or malformed, which the registry logged)
            logger.warning("job %s is not in the registry any more: its watch ends", self.job_id)
            self._ended = True
            raise StopIteration
        self._files = list(job.files)
        self._tail = tail
        if seq <= self._seq:
            return None
        return self._yield(job, seq, None)


def _changed_files(raw: bytes | None) -> dict[str, Any]:
    data = json.loads(raw) if raw is not None else None
    if not isinstance(data, dict):
        raise ValueError("its files are not a JSON object")
    return data


def _index(key: str, count: int) -> int:
    if not key.isdigit() or len(key) > 9 or int(key) >= count:
        raise ValueError(f"no file {key[:20]!r} among {count}")
    return int(key)


class ClusterEvents(Iterator["tuple[str, TransferJob] | None"]):
    """Every job's news in the cluster, after now: ``("created", job)`` the first time a
    job shows up, ``("updated", job)`` after, with the job as the registry has it when
    read (several events of one job waiting together give one snapshot); ``None`` after
    ``keepalive`` quiet seconds. Never ends; :meth:`close` stops it."""

    def __init__(
        self,
        registry: JobRegistry,
        keepalive: float,
        known: set[str],
        between_reads: Callable[[], None],
    ) -> None:
        self._registry = registry
        self._between_reads = between_reads  # looks for lost owners (and fails their jobs)
        self._keepalive = keepalive
        self._known = known  # the jobs the follower has seen: their news is "updated"
        self._tail = registry.all_events_tail()
        self._pending: list[tuple[str, TransferJob]] = []
        self._closed = False

    def __next__(self) -> tuple[str, TransferJob] | None:
        quiet = 0.0
        while not self._pending:
            if self._closed:
                raise StopIteration
            step = min(READ_STEP, self._keepalive - quiet)
            self._between_reads()
            entries = self._registry.read_all_events(self._tail, step)
            if not entries:
                quiet += step
                if quiet >= self._keepalive:
                    return None
                continue
            ids: dict[str, None] = {}
            for entry_id, fields in entries:
                self._tail = entry_id
                raw = fields.get(b"job")
                job_id = None if raw is None else check_job_id(raw)
                if job_id is not None:
                    ids[job_id] = None
            for job in self._registry.read_many(list(ids)):
                kind = "updated" if job.id in self._known else "created"
                self._known.add(job.id)
                self._pending.append((kind, job))
        return self._pending.pop(0)

    def close(self) -> None:
        """Stop (seen within a second by a read going on in another thread)."""
        self._closed = True
