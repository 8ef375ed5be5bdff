"""The process-wide queue, made on first use.

Importing the package has no side effect: neither the environment is read nor a queue
made until ``transferqueue.transfer_queue`` is first looked up (through the package's
module ``__getattr__``). So a bad ``MAX_CONCURRENT_TRANSFERS`` fails only the code that
uses the shared queue, with that code's own handling, not every import.
"""

from __future__ import annotations

import os
import threading

from .config import get_max_concurrent_transfers
from .queue import TransferQueue
from .validation import check_limit

_shared: TransferQueue | None = None
# The limit the shared queue is made with instead of the environment's (set by a
# framework's configuration, see set_shared_limit); guarded by _shared_lock.
_configured_limit: int | None = None
# Guards the making of _shared, so that threads that look it up at once get one queue.
# Held only while the queue is made (which takes the process registry's lock inside, see
# process.py, never the other way round). Renewed in a forked child (see below).
_shared_lock = threading.Lock()


def shared_queue() -> TransferQueue:
    """Return the queue shared by the whole process, making it on the first call.

    The first call reads ``MAX_CONCURRENT_TRANSFERS`` for its limit, and raises the
    ``ValueError`` of :func:`get_max_concurrent_transfers` if the value is bad (a later
    call tries again). The queue starts no thread until its first job is queued.
    """
    queue = _shared
    if queue is None:
        queue = _make_shared()
    return queue


def _make_shared() -> TransferQueue:
    global _shared
    with _shared_lock:
        if _shared is None:
            limit = _configured_limit
            _shared = TransferQueue(get_max_concurrent_transfers() if limit is None else limit)
        return _shared


def set_shared_limit(limit: int) -> None:
    """Give :data:`transfer_queue` the concurrency limit ``limit``, from configuration.

    Made later, the queue gets it without reading ``MAX_CONCURRENT_TRANSFERS`` (so a bad
    value there fails nothing); already made, its limit is changed. Nothing is made here.
    """
    global _configured_limit
    with _shared_lock:
        _configured_limit = check_limit(limit)
        queue = _shared
    if queue is not None:
        # Outside the lock: the queue takes locks of its own.
        queue.update_concurrency_limit(limit)


def update_transfer_queue_concurrency(new_limit: int) -> None:
    """Change the concurrency limit of :data:`transfer_queue` (making it if need be)."""
    shared_queue().update_concurrency_limit(new_limit)


def _renew_lock_in_child() -> None:
    # A thread of the parent may have held the lock at the fork; it does not exist in the
    # child, so the lock would stay held. Nothing is half-made: _shared is only set to a
    # whole queue (one the parent was still making stays unset and unused in the child).
    global _shared_lock
    _shared_lock = threading.Lock()


os.register_at_fork(after_in_child=_renew_lock_in_child)
