"""What happens to the queues of a process at interpreter exit and across ``os.fork()``.

Exit: ``concurrent.futures`` joins its worker threads at interpreter exit, so a script
interrupted while transfers run would wait for every one of them. Before that join, every
queue cancels its unfinished jobs: cooperative executors then stop at their next
``on_progress`` call and the process exits.

Fork: the child of a process with running queues inherits their state but none of their
threads, and any lock another thread held at the fork stays held for ever. Before the fork
every queue's lock is taken (so no state is half-changed); the child then gives each queue
fresh locks and threads and forgets the parent's unfinished jobs, which go on running in
the parent only.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Protocol

from . import job as _job


class _ProcessAware(Protocol):
    def cancel_at_exit(self) -> None: ...
    def before_fork(self) -> None: ...
    def after_fork_in_parent(self) -> None: ...
    def after_fork_in_child(self) -> None: ...


# Every queue alive in the process. The lock guards the set. The fork hooks take it first,
# then each queue's lock, then the job-id lock: the order in which queue_job nests them.
_queues: weakref.WeakSet[_ProcessAware] = weakref.WeakSet()
_queues_lock = threading.Lock()


def register(queue: _ProcessAware) -> None:
    """Have the queue cancel its jobs at interpreter exit and survive a fork."""
    with _queues_lock:
        _queues.add(queue)


def _live_queues() -> list[_ProcessAware]:
    with _queues_lock:
        return list(_queues)


def _cancel_jobs_at_exit() -> None:
    for queue in _live_queues():
        queue.cancel_at_exit()


# The queues taken by _before_fork, released or renewed in the same order after it.
_forking: list[_ProcessAware] = []


def _before_fork() -> None:
    global _forking
    _queues_lock.acquire()
    _forking = list(_queues)
    for queue in _forking:
        queue.before_fork()
    _job.id_lock.acquire()


def _after_fork_in_parent() -> None:
    global _forking
    _job.id_lock.release()
    for queue in _forking:
        queue.after_fork_in_parent()
    _forking = []
    _queues_lock.release()


def _after_fork_in_child() -> None:
    global _forking, _queues_lock
    # Locks held by this thread can simply be renewed: no other thread exists here.
    _queues_lock = threading.Lock()
    _job.id_lock = threading.Lock()
    for queue in _forking:
        queue.after_fork_in_child()
    _forking = []


# threading._register_atexit callbacks run, last registered first, before the threads of
# concurrent.futures are joined (it registers its own join at import, before this line).
threading._register_atexit(_cancel_jobs_at_exit)  # type: ignore[attr-defined]
os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)
