"""The blinker signals the queue sends.

Both are sent with ``sender`` = the :class:`~transferqueue.TransferQueue` and one keyword
argument, ``job``: a :class:`~transferqueue.TransferJob` snapshot. Write receivers as
``def receiver(sender, *, job, **extra)``. Receivers run in the queue's event-delivery
thread, one event at a time; see README.rst, "Receiving events".
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

job_created = _signals.signal(
    "job-created",
    doc="Sent once per job, before any ``job-updated`` for it. Kwargs: ``job``.",
)
job_updated = _signals.signal(
    "job-updated",
    doc=(
        "Sent after every status change of a job and, coalesced, after changes of its "
        "files; the terminal snapshot comes exactly once and last. Kwargs: ``job``."
    ),
)
