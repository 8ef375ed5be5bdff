"""The library's logger: ``transferqueue``, silent until the application configures logging.

Lifecycle events go to it at these levels: a job queued, completed or cancelled and a
limit changed at INFO; a failed attempt that will be retried at INFO with its traceback;
a failed file and a failed job at WARNING, the file with its traceback; a receiver that
raised at ERROR; a crashed worker thread at CRITICAL.
"""

from __future__ import annotations

import contextlib
import logging

logger = logging.getLogger("transferqueue")
# A library must not print: without this, logging's last-resort handler would write
# warnings to stderr of applications that never configured logging.
logger.addHandler(logging.NullHandler())


def log_in_queue_thread(
    level: int, message: str, *args: object, exc_info: BaseException | None = None
) -> None:
    """Log from one of the queue's own threads (a worker, the event thread).

    Filters and handlers are the application's code, and one may raise, even
    ``SystemExit``. Raised here, that would end the thread with its work half-done (a
    slot never given back, events never delivered), so the record is dropped instead:
    logging is what failed, so there is nowhere left to report it. Threads of the
    caller log through :data:`logger` directly: what is raised there (a Ctrl-C above
    all) belongs to the caller.
    """
    with contextlib.suppress(BaseException):  # see above: the thread's work comes first
        logger.log(level, message, *args, exc_info=exc_info, stacklevel=2)
