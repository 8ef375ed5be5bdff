"""What the streams share between them: each snapshot's encoded messages, and which files
changed between a job's events (to resume a reconnecting stream with only those).

A stream sends a job whole when the client has nothing of it, and otherwise only its
totals and the files that changed since the snapshot the client has (README.rst, "The web
front", describes the messages). Many streams of one job send the same message for the same
snapshot; it is encoded once, here, for all of them.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TypeVar

from transferqueue._records.records import TransferJob

KeyT = TypeVar("KeyT")
_Step = tuple[int, tuple[int, ...], "weakref.ref[TransferJob]"]

# How many distinct messages of one snapshot are kept (whole, and deltas against several
# earlier snapshots: streams that skipped different snapshots need different ones).
_VARIANTS = 8


def changed_between(before: TransferJob, after: TransferJob) -> tuple[int, ...] | None:
    """The indexes of the files whose records differ between two snapshots of a job,
    ascending; None when they cannot be compared file by file (not the same files)."""
    if len(before.files) != len(after.files):
        return None
    # ``is`` settles almost every file of a local job (unchanged records are shared);
    # equality settles the others, such as a job read afresh from Redis.
    return tuple(
        index
        for index, (old, new) in enumerate(zip(before.files, after.files, strict=True))
        if old is not new and old != new
    )


class _Entry:
    """The messages made for one snapshot of a job."""

    __slots__ = ("diffs", "lines", "snapshot", "with_ids")

    def __init__(self, snapshot: TransferJob) -> None:
        self.snapshot = weakref.ref(snapshot)
        # Each data line by its changes (None: the whole job), and each line with an SSE
        # id or an event name by both; the files changed since earlier snapshots, by the
        # earlier snapshot's id() (its weak reference tells whether the id is still its).
        self.lines: dict[tuple[int, ...] | None, str] = {}
        self.with_ids: dict[tuple[tuple[int, ...] | None, str], str] = {}
        self.diffs: dict[int, tuple[weakref.ref[TransferJob], tuple[int, ...] | None]] = {}


def _bounded_put(mapping: dict[KeyT, str], key: KeyT, value: str) -> None:
    if len(mapping) >= _VARIANTS:  # streams far apart: keep the latest only
        mapping.clear()
    mapping[key] = value


class MessageCache:
    """The SSE messages of each job's latest snapshot, encoded once for every stream.

    All the streams of a job get the same snapshot object from the event thread; encoding
    it once instead of once per stream matters for a big job with many viewers (a
    1,000-file job is ~1 ms and ~100 KB per whole message). Entries are keyed by job id
    and compared by identity; they hold the snapshot weakly, so a job the queue has
    dropped does not live on here, and are bounded: the least recent jobs go first.

    Each :class:`TransferEndpoints` has a cache of its own: a line is encoded with its
    options (``camel_case``, ``hide_paths``), so endpoints with other options (one that
    hides paths beside one that does not) never share a line.
    """

    def __init__(self, size: int = 64) -> None:
        # _lock guards _entries and every entry's dicts; encoding and comparing happen
        # outside it (two threads may both encode a message first asked for at the same
        # moment; both results are the same text).
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._size = size

    def message(
        self,
        job: TransferJob,
        event: str | None,
        encode: Callable[[tuple[int, ...] | None], str],
        event_id: str | None = None,
        changes: tuple[int, ...] | None = None,
    ) -> str:
        """The message for ``job`` as ``event`` (or, with ``event_id``, as the data of a
        job's stream with that id): the whole job, or with ``changes`` its totals and
        those files; its data line from ``encode(changes)`` unless made already for this
        very snapshot and these changes."""
        entry = self._entry(job)
        with self._lock:
            line = entry.lines.get(changes)
        if line is None:
            line = encode(changes)
            with self._lock:
                _bounded_put(entry.lines, changes, line)
        if event_id is None and event is None:
            return line
        key = (changes, event_id if event_id is not None else f"event: {event}")
        with self._lock:
            message = entry.with_ids.get(key)
            if message is None:
                message = (
                    f"id: {event_id}\n{line}" if event_id is not None else key[1] + "\n" + line
                )
                _bounded_put(entry.with_ids, key, message)
        return message

    def changes_since(self, before: TransferJob, job: TransferJob) -> tuple[int, ...] | None:
        """:func:`changed_between` ``before`` and ``job``, compared once for every stream
        that moves a client from the one to the other."""
        entry = self._entry(job)
        with self._lock:
            known = entry.diffs.get(id(before))
        if known is not None and known[0]() is before:
            return known[1]
        changes = changed_between(before, job)
        with self._lock:
            if len(entry.diffs) >= _VARIANTS:
                entry.diffs.clear()
            entry.diffs[id(before)] = (weakref.ref(before), changes)
        return changes

    def _entry(self, job: TransferJob) -> _Entry:
        with self._lock:
            entry = self._entries.get(job.id)
            if entry is not None and entry.snapshot() is job:
                return entry
            entry = self._entries[job.id] = _Entry(job)
            self._entries.move_to_end(job.id)
            # Snapshots gone (their jobs dropped, or replaced by newer ones) free their
            # text now; then the least recent jobs go beyond the bound.
            for job_id in [key for key, old in self._entries.items() if old.snapshot() is None]:
                del self._entries[job_id]
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
            return entry


class ChangeHistory:
    """Which files changed between a job's recent events, as the streams saw them: so that
    a client reconnecting with the number of the event it has can be sent those files
    alone, when the numbers in between are all known here.

    Each step is ``(earlier event, later event, the files changed between them)``, with
    the later event's snapshot, held weakly; a stream records each step it makes.
    Bounded: the latest steps of the most recent jobs.
    """

    def __init__(self, jobs: int = 64, steps: int = 256) -> None:
        # _lock guards _steps; nothing is called while it is held.
        self._lock = threading.Lock()
        # Per job: each later event's number -> (the earlier one's, the files changed,
        # the later event's snapshot).
        self._steps: OrderedDict[str, OrderedDict[int, _Step]] = OrderedDict()
        self._jobs = jobs
        self._per_job = steps

    def record(
        self, earlier: int, later: int, changes: Iterable[int], snapshot: TransferJob
    ) -> None:
        """Note that from event ``earlier`` to event ``later`` only ``changes`` changed,
        ``snapshot`` being the job at ``later``."""
        if later <= earlier:
            return
        with self._lock:
            steps = self._steps.get(snapshot.id)
            if steps is None:
                steps = self._steps[snapshot.id] = OrderedDict()
                while len(self._steps) > self._jobs:
                    self._steps.popitem(last=False)
            self._steps.move_to_end(snapshot.id)
            if later not in steps:
                steps[later] = (earlier, tuple(changes), weakref.ref(snapshot))
                while len(steps) > self._per_job:
                    steps.popitem(last=False)

    def changes(self, earlier: int, later: int, now: TransferJob) -> tuple[int, ...] | None:
        """The files that differ between the job at event ``earlier`` and ``now``, a
        snapshot numbered ``later`` (which may hold changes not sent as an event yet),
        ascending; None when a step in between is unknown here, or the snapshot of event
        ``later`` is gone."""
        with self._lock:
            steps = self._steps.get(now.id)
            step = None if steps is None else steps.get(later)
            if steps is None or step is None:
                return None
            at_later = step[2]()
            changed: set[int] = set()
            at = later
            while at > earlier:
                found = steps.get(at)
                if found is None:
                    return None
                at, files, _ = found
                changed.update(files)
            # Stepped past ``earlier``: what changed since the step's start includes all
            # that changed since ``earlier``.
        if at_later is None:
            return None
        # And what changed since event ``later`` (compared outside the lock).
        since = changed_between(at_later, now)
        if since is None:
            return None
        changed.update(since)
        return tuple(sorted(changed))
