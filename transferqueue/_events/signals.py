"""The blinker signals the queue sends.

Both are sent with ``sender`` = the :class:`~transferqueue.TransferQueue` and the keyword
argument ``job``: a :class:`~transferqueue.TransferJob` snapshot; ``job-updated`` also with
``changed_files``, to the receivers that take it (see :mod:`._receivers`: one written
before it existed, ``def on_update(sender, job)``, is called without it). Write receivers
as ``def receiver(sender, *, job, **extra)``, so that keyword arguments added later do not
break them. Receivers run in the queue's event-delivery thread, one event at a time, and
are called as blinker's ``Signal.send`` calls them: an ``async def`` receiver is refused
with the ``RuntimeError`` blinker raises (logged, since the thread sends it); see
README.rst, "Receiving events", for the bridge to asyncio.
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
        "files; the terminal snapshot comes exactly once and last. Kwargs: ``job``, and, "
        "for a receiver that takes it (a parameter so named, or ``**kwargs``), "
        "``changed_files``: the indexes (a tuple, ascending) of the files that changed "
        "since the job's previous ``job-updated``; every other file has the same record "
        "as in that event's snapshot."
    ),
)
