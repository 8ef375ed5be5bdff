"""Receivers of ``job-updated`` written before ``changed_files`` existed keep working.

Issue 10 added the keyword argument ``changed_files`` to ``job-updated``; a receiver
written as ``def on_update(sender, job)`` then raised ``TypeError`` (logged) at every
event and never saw a job again. It is now passed only to receivers that take it (a
parameter of that name that may be passed by keyword, or ``**kwargs``), decided once per
receiver. The shapes are tested through real queues; the remembering on its own.
"""

from __future__ import annotations

import functools
import gc
import inspect
import json
import logging
import subprocess
import sys
import textwrap
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import transferqueue as tq
from tests.conftest import WAIT, make_files, noop_executor
from transferqueue._events import receivers as _receivers
from transferqueue._events.receivers import _Decisions

ROOT = Path(__file__).resolve().parents[2]

# What a receiver saw: the job's id and status, and changed_files (None: not passed).
Seen = tuple[str, str, tuple[int, ...] | None]


class Calls:
    """What each receiver of a test was called with, by name, thread-safely."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: dict[str, list[Seen]] = {}

    def add(self, name: str, job: tq.TransferJob, changed: tuple[int, ...] | None) -> None:
        with self.lock:
            self.seen.setdefault(name, []).append((job.id, job.status.value, changed))


CALLS = Calls()


def before_changed_files(sender: Any, job: tq.TransferJob) -> None:
    """The shape receivers had before ``changed_files`` existed."""
    CALLS.add("old", job, None)


def positional(sender: Any, job: tq.TransferJob, changed_files: tuple[int, ...]) -> None:
    CALLS.add("positional", job, changed_files)


def keyword_only(sender: Any, *, job: tq.TransferJob, changed_files: tuple[int, ...]) -> None:
    CALLS.add("keyword-only", job, changed_files)


def with_default(
    sender: Any, *, job: tq.TransferJob, changed_files: tuple[int, ...] | None = None
) -> None:
    CALLS.add("default", job, changed_files)


def any_keywords(sender: Any, **kwargs: Any) -> None:
    CALLS.add("kwargs", kwargs["job"], kwargs.get("changed_files"))


def only_by_position(
    sender: Any, changed_files: tuple[int, ...] | None = None, /, *, job: tq.TransferJob
) -> None:
    """``changed_files`` is positional-only here: it cannot be passed by keyword."""
    CALLS.add("positional-only", job, changed_files)


def named(name: str, sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
    CALLS.add(name, job, extra.get("changed_files"))


def old_named(name: str, sender: Any, job: tq.TransferJob) -> None:
    CALLS.add(name, job, None)


class Listener:
    """Bound methods of both shapes."""

    def old(self, sender: Any, job: tq.TransferJob) -> None:
        CALLS.add("old-method", job, None)

    def new(self, sender: Any, *, job: tq.TransferJob, changed_files: tuple[int, ...]) -> None:
        CALLS.add("new-method", job, changed_files)

    @classmethod
    def old_class(cls, sender: Any, job: tq.TransferJob) -> None:
        CALLS.add("old-classmethod", job, None)


class OldCallable:
    """A callable object of the old shape."""

    def __call__(self, sender: Any, job: tq.TransferJob) -> None:
        CALLS.add("old-callable", job, None)


class Unreadable:
    """A callable whose signature cannot be read: it is called the old way, which it
    takes (``**extra`` would take the keyword as well, but nothing can tell)."""

    reads = 0

    @property
    def __signature__(self) -> inspect.Signature:
        type(self).reads += 1
        raise ValueError("no signature to be read here")

    def __call__(self, sender: Any, *, job: tq.TransferJob, **extra: Any) -> None:
        CALLS.add("unreadable", job, extra.get("changed_files"))


@pytest.fixture
def calls() -> Calls:
    with CALLS.lock:
        CALLS.seen.clear()
    return CALLS


def run_job(receivers: list[Callable[..., None]], files: int = 3) -> tuple[str, list[str]]:
    """Run a job of ``files`` no-op files with ``receivers`` connected (weakly, as blinker
    does by default: the caller keeps them); return its id and the errors logged."""
    errors: list[str] = []

    class Errors(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.ERROR:
                errors.append(record.getMessage())

    handler = Errors()
    logger = logging.getLogger("transferqueue")
    logger.addHandler(handler)
    queue = tq.TransferQueue(2, update_interval=0)
    try:
        for receiver in receivers:
            tq.job_updated.connect(receiver, sender=queue)
        job_id = queue.queue_job("local-upload", make_files(files), noop_executor)
        queue.wait(job_id, timeout=WAIT)
    finally:
        queue.shutdown(wait=True)
        for receiver in receivers:
            tq.job_updated.disconnect(receiver)
        logger.removeHandler(handler)
    return job_id, errors


def test_receivers_of_both_shapes_get_every_event(calls: Calls) -> None:
    """A receiver of the old shape, ``def on_update(sender, job)``, as a function, a
    bound method, a classmethod, a callable object or a ``functools.partial``, gets every
    event without ``changed_files`` and nothing is logged; one that takes
    ``changed_files`` (by name, with or without a default, keyword-only, or as
    ``**kwargs``) gets it with every event, the same for all."""
    listener = Listener()
    old_partial = functools.partial(old_named, "old-partial")
    new_partial = functools.partial(named, "new-partial")
    old_callable = OldCallable()
    receivers: list[Callable[..., None]] = [
        before_changed_files,
        positional,
        keyword_only,
        with_default,
        any_keywords,
        only_by_position,
        listener.old,
        listener.new,
        Listener.old_class,
        old_callable,
        old_partial,
        new_partial,
    ]
    job_id, errors = run_job(receivers)
    assert errors == []
    seen = calls.seen
    old = {"old", "positional-only", "old-method", "old-classmethod", "old-callable"}
    old |= {"old-partial"}
    new = {"positional", "keyword-only", "default", "kwargs", "new-method", "new-partial"}
    assert set(seen) == old | new
    reference = seen["old"]
    assert [status for _, status, _ in reference][-1] == "completed"
    assert len(reference) >= 2  # queued -> active -> ..., every change (update_interval=0)
    for name in old:
        assert seen[name] == reference, name
    changes = [changed for _, _, changed in seen["positional"]]
    assert all(changed is not None for changed in changes)
    assert sorted({index for changed in changes if changed for index in changed}) == [0, 1, 2]
    for name in new:
        assert [(job, status) for job, status, _ in seen[name]] == [
            (job, status) for job, status, _ in reference
        ], name
        assert [changed for _, _, changed in seen[name]] == changes, name
    assert {job for job, _, _ in reference} == {job_id}


def test_a_receiver_whose_signature_cannot_be_read_is_called_the_old_way(
    calls: Calls,
) -> None:
    """When the signature cannot be read, the receiver gets the call every receiver has
    always taken, ``receiver(sender, job=...)``, at every event, and its signature is
    read once, not once per event."""
    unreadable = Unreadable()
    _, errors = run_job([unreadable, before_changed_files], files=4)
    assert errors == []
    assert calls.seen["unreadable"] == calls.seen["old"]
    assert len(calls.seen["old"]) > 2
    reads = Unreadable.reads
    assert reads > 0
    _, errors = run_job([unreadable, before_changed_files], files=4)
    assert errors == []
    assert calls.seen["unreadable"] == calls.seen["old"]
    assert Unreadable.reads == reads  # not read again


def test_each_receiver_is_looked_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Decided once per receiver: per function, per partial, per callable object, and
    per function for bound methods (blinker makes a new one for each event, and every
    method bound from one function answers alike); a callable that cannot be weakly
    referenced, or hashed, is looked at each time instead (and still answered right)."""
    looked_at: list[object] = []
    real = _receivers._takes_changed_files

    def counting(receiver: Callable[..., Any]) -> bool:
        looked_at.append(receiver)
        return real(receiver)

    monkeypatch.setattr(_receivers, "_takes_changed_files", counting)
    decisions = _Decisions()
    first, second = Listener(), Listener()
    partial = functools.partial(named, "p")
    for _ in range(3):
        assert decisions.takes_changed_files(keyword_only)
        assert not decisions.takes_changed_files(before_changed_files)
        assert not decisions.takes_changed_files(first.old)
        assert not decisions.takes_changed_files(second.old)
        assert decisions.takes_changed_files(first.new)
        assert decisions.takes_changed_files(partial)
    assert len(looked_at) == 5  # keyword_only, before_changed_files, old, new, partial

    class Slotted:
        __slots__ = ()  # no __weakref__: cannot be remembered weakly

        def __call__(self, sender: Any, **extra: Any) -> None:
            """Takes any keyword."""

    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, sender: Any, job: tq.TransferJob) -> None:
            """The old shape."""

    looked_at.clear()
    slotted, unhashable = Slotted(), Unhashable()
    for _ in range(2):
        assert decisions.takes_changed_files(slotted)
        assert not decisions.takes_changed_files(unhashable)
    assert looked_at == [slotted, unhashable, slotted, unhashable]


def test_a_dropped_receiver_is_not_kept_alive() -> None:
    """The decisions hold their receivers weakly: a receiver dropped after its events
    (blinker holds receivers weakly; the web front connects one per client) goes."""

    def receive(sender: Any, *, job: tq.TransferJob, changed_files: tuple[int, ...]) -> None:
        """A per-client receiver."""

    bound = Listener()
    gone: list[weakref.ref[Any]] = [weakref.ref(receive), weakref.ref(bound)]
    _receivers.decisions.takes_changed_files(receive)
    _receivers.decisions.takes_changed_files(bound.new)
    del receive, bound
    gc.collect()
    assert [ref() for ref in gone] == [None, None]


def test_threads_deciding_at_once_agree() -> None:
    """Several queues' event threads may decide at once: they all get the right answer
    for receivers none of them had seen."""
    decisions = _Decisions()

    def make(index: int) -> Callable[..., None]:
        if index % 2:

            def new(sender: Any, *, job: Any, changed_files: Any) -> None:
                """Takes changed_files."""

            return new

        def old(sender: Any, job: Any) -> None:
            """Does not."""

        return old

    receivers = [make(index) for index in range(200)]
    barrier = threading.Barrier(4)
    answers: list[list[bool]] = []

    def decide() -> None:
        barrier.wait(WAIT)
        answers.append([decisions.takes_changed_files(receiver) for receiver in receivers])

    threads = [threading.Thread(target=decide) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert answers == [[bool(index % 2) for index in range(200)]] * 4


FORK_WHILE_HELD = """
    import json, os, signal, threading, warnings
    import transferqueue as tq
    from transferqueue._events import receivers as _receivers

    # Python 3.12+: forking a process with threads warns; that is the point here.
    warnings.filterwarnings("ignore", message=".*fork", category=DeprecationWarning)
    held, release = threading.Event(), threading.Event()

    def hold():
        with _receivers.decisions._lock:
            held.set()
            release.wait(30)

    def old_shape(sender, job):
        seen.append(job.status.value)

    seen = []
    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(30)
    pid = os.fork()
    if pid == 0:
        signal.alarm(20)  # a lock inherited held would hang the child: SIGALRM ends it
        with tq.TransferQueue(1) as queue, tq.job_updated.connected_to(old_shape, sender=queue):
            queue.wait(queue.queue_job("local-upload", [], lambda f, p: None), timeout=20)
        print(json.dumps({"child": seen[-1]}), flush=True)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    release.set()
    holder.join()
    print(json.dumps({"child_status": status}))
"""


def test_a_child_forked_while_the_decisions_are_locked_decides_on_its_own() -> None:
    """A child forked while another thread of the parent held the decisions' lock gets a
    lock of its own: its event thread delivers to a receiver it had not seen (before, it
    would wait for the lock for ever)."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(FORK_WHILE_HELD)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines == [{"child": "completed"}, {"child_status": 0}]
