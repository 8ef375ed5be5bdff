"""The transfer routes without a web framework: what each answers, and its SSE streams.

The Flask blueprint and the Django views are thin adapters around :class:`TransferEndpoints`:
they hand it their request object and turn its :class:`Reply` (status and JSON body) or its
stream (an iterator of ``text/event-stream`` chunks) into their own response.

SSE format: ``data: <json>`` per job message, ``: keep-alive`` comments after
``keepalive`` quiet seconds, and on a job's stream after its terminal message ``id: end`` /
``event: end``. A browser that reconnects after that sends ``Last-Event-ID: end`` and is
answered 204 No Content, which ends ``EventSource``'s reconnecting for good.

A job message is ``{"job": JOB}`` with the job whole, the first time a client is sent the
job, or ``{"job": TOTALS, "changedFiles": [{"index": I, "file": FILE}, ...]}`` with the job
without its files and the files changed since the client's previous message of that job
(the shape of ``transferqueue cp --json``'s lines; docs/howto/flask.rst, "The messages").

On a job's stream each message carries ``id: <n>``, the number of the job's last event it
includes (the same in every process of a cluster). A browser that reconnects sends it
back as ``Last-Event-ID``: if the job has not changed since, the stream sends nothing
again; otherwise it starts with the files changed since that event, when these endpoints
saw every step in between go out (:class:`~._messages.ChangeHistory`), else with the job
whole. The all-jobs stream carries no ids (a reconnect gets the list anew).

On a queue with a backend, the routes serve every job of the cluster: the list and the
job's routes read the shared registry, a cancel reaches the job's owner, and the streams
follow other processes' jobs through Redis.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator
from typing import Any, Generic, TypeVar

import attrs

import transferqueue
from transferqueue._core.queue import TransferQueue
from transferqueue._core.validation import check_positive_seconds
from transferqueue._errors import JobNotFoundError, JobStateError, QueueShutdownError
from transferqueue._events.signals import job_created, job_updated
from transferqueue._events.watch import JobWatch
from transferqueue._log import logger
from transferqueue._records import TransferJob, job_changes_to_dict
from transferqueue._records.enums import TransferStatus

from ._hidden_paths import hide_file_paths, hide_paths
from ._messages import ChangeHistory, MessageCache

RequestT = TypeVar("RequestT")

AccessHook = Callable[[RequestT, "TransferJob | None", str], bool]
"""``can_access(request, job, action)``: may this request do ``action`` to ``job``?

``action`` is ``"view"``, ``"cancel"``, ``"pause"`` or ``"resume"``. ``job`` is None when
the request asks for the
collection (the list and the all-jobs stream); each job in it is then checked with its
own ``"view"`` call. ``request`` is the framework's request object.
"""

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
"""Headers of every stream: no caching, and no buffering in an nginx in front."""

END_EVENT_ID = "end"
"""The ``id`` of a job stream's last event, which a reconnecting browser sends back."""

_KEEPALIVE = ": keep-alive\n\n"


@attrs.frozen
class Reply:
    """A JSON answer: the HTTP status and the body to serialise."""

    status: int
    body: Any


NOT_CONFIGURED = (
    "the transfer routes refuse every request until the application passes them "
    "can_access (an access hook) or public=True"
)
"""The error of every route that was given neither an access hook nor ``public=True``."""


def _not_configured() -> Reply:
    # The same answer whatever was asked: it tells nothing about the jobs.
    return Reply(403, {"error": NOT_CONFIGURED})


def _allow_all(request: object, job: TransferJob | None, action: str) -> bool:
    return True


def _deny_all(request: object, job: TransferJob | None, action: str) -> bool:
    return False


def _event_number(last_event_id: str | None) -> int | None:
    """The event number a reconnecting client sent as ``Last-Event-ID``; None for no
    header or anything but a number as the streams write them."""
    if (
        last_event_id is None
        or not 0 < len(last_event_id) <= 18
        or not (last_event_id.isascii() and last_event_id.isdigit())
        or last_event_id != str(int(last_event_id))
    ):
        return None
    return int(last_event_id)


def _differing(
    before: TransferJob, after: TransferJob, changes: tuple[int, ...]
) -> tuple[int, ...]:
    """The files among ``changes`` whose records differ between two snapshots: a file
    changed since the previous event may be one a snapshot taken in between has already
    (the first snapshot of a watch holds the changes not yet sent as an event)."""
    old, new = before.files, after.files
    return tuple(index for index in changes if old[index] is not new[index])


def sse_message(data: Any, event: str | None = None, event_id: str | None = None) -> str:
    """One SSE message with ``data`` as compact JSON (on one line, as SSE requires)."""
    head = "" if event_id is None else f"id: {event_id}\n"
    if event is not None:
        head += f"event: {event}\n"
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n"


class EventStream(Iterator[str]):
    """An SSE response body: its chunks as text, and ``close()`` for when the client is gone.

    Servers close a response's iterable when they stop sending it (PEP 3333). Closing this
    one releases what the stream holds at once, even before its first chunk was taken (a
    generator closed before it started would not run its cleanup).

    A stream that :attr:`can_poll` can also be driven without blocking, by an event loop:
    :meth:`listen` for a callback at each new snapshot, :meth:`poll` for the chunk then
    due, and :attr:`keepalive` chunks on the caller's own timer. Iterate it one way only.
    """

    def __init__(
        self,
        chunks: Generator[str, None, None],
        release: Callable[[], None] | None = None,
        *,
        poll: Callable[[], str | None] | None = None,
        listen: Callable[[Callable[[], None] | None], None] | None = None,
        keepalive: float | None = None,
    ) -> None:
        self._chunks = chunks
        self._release = release
        self._poll = poll
        self._listen = listen
        self.keepalive = keepalive
        """Seconds without a chunk after which a poller sends a keep-alive comment."""

    def __next__(self) -> str:
        return next(self._chunks)

    @property
    def can_poll(self) -> bool:
        """True if :meth:`poll` and :meth:`listen` work: the stream of a job of this
        process's queue, fed by its event thread. Others (a job of another process
        read from Redis, the all-jobs stream) block in ``next()``."""
        return self._poll is not None and self._listen is not None

    def poll(self) -> str | None:
        """The next chunk if one is due, else None at once; ``StopIteration`` once the
        stream has ended (after its end event). The same chunks as ``next()``, without
        keep-alives. Only where :attr:`can_poll`."""
        if self._poll is None:
            raise TypeError("this stream cannot be polled: iterate it")
        return self._poll()

    def listen(self, callback: Callable[[], None] | None) -> None:
        """Have ``callback()`` called, from the queue's event thread and with no lock held,
        whenever a chunk may have become due: it must be cheap, and never block nor raise.
        :meth:`poll` after setting it. Only where :attr:`can_poll`."""
        if self._listen is None:
            raise TypeError("this stream cannot be polled: iterate it")
        self._listen(callback)

    def close(self) -> None:
        """End the stream and release its subscription.

        Servers call it in the thread that iterates the stream, after the last chunk
        taken; like a generator's, it cannot stop a ``next()`` running in another thread.
        """
        if self._release is not None:
            self._release()
        self._chunks.close()


KEEPALIVE = _KEEPALIVE
"""The keep-alive comment, for a caller that polls an :class:`EventStream`."""


class TransferEndpoints(Generic[RequestT]):
    """What each route answers, given the framework's request object.

    Who may do what is the application's decision, and the routes refuse everything until
    it is made: without ``can_access`` and without ``public=True`` every route answers 403
    (with an error that says so, the same whatever was asked, and a warning logged when
    the endpoints are made). ``can_access(request, job, action)`` (see
    :data:`AccessHook`) decides each request; ``public=True`` lets every caller that
    reaches the routes view and cancel every job, for apps whose every visitor may (an
    intranet tool, a service behind an authenticating proxy, a demo on this machine).
    Passing both is a ``ValueError``.

    ``hide_paths=True`` sends each file's name (the last component of its path) instead of
    its source and destination paths, in the JSON routes and in both streams; in a file's
    ``error`` its two paths become their names and the folders above them ``…``.
    ``queue`` defaults to the process-wide ``transferqueue.transfer_queue``, looked up at
    each request. ``camel_case`` picks the JSON keys (``to_dict(camel_case=...)``, also
    for the error bodies' ``jobId``/``job_id``). ``keepalive`` is the number of quiet
    seconds after which a stream sends a comment; a WSGI server notices a dropped client
    only when it writes, so this also bounds how long a dropped client stays subscribed.
    """

    def __init__(
        self,
        queue: TransferQueue | None = None,
        *,
        camel_case: bool = True,
        can_access: AccessHook[RequestT] | None = None,
        public: bool = False,
        hide_paths: bool = False,
        keepalive: float = 15.0,
    ) -> None:
        self.keepalive = check_positive_seconds(keepalive, "keepalive")
        for name, flag in (("public", public), ("hide_paths", hide_paths)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, not {flag!r}")
        if can_access is not None and not callable(can_access):
            raise TypeError(f"can_access must be callable, not {type(can_access).__name__}")
        if can_access is not None and public:
            raise ValueError(
                "pass either can_access (who may do what) or public=True (everyone may do "
                "everything), not both"
            )
        self.camel_case = camel_case
        self.hide_paths = hide_paths
        self._queue = queue
        # Closed: the application said nothing, and every route answers 403 before it
        # looks at anything (an unknown and a hidden job are refused alike); the hook
        # then denies too, should a route ever ask it.
        self._closed = can_access is None and not public
        self._allowed: AccessHook[RequestT] = (
            _allow_all if public else _deny_all if can_access is None else can_access
        )
        if self._closed:
            logger.warning("transferqueue.web: %s", NOT_CONFIGURED)
        self._id_key = "jobId" if camel_case else "job_id"
        self._messages = MessageCache()
        self._history = ChangeHistory()

    @property
    def queue(self) -> TransferQueue:
        """The queue these endpoints serve."""
        return transferqueue.transfer_queue if self._queue is None else self._queue

    # -- JSON routes ---------------------------------------------------------------------

    def list_jobs(self, request: RequestT) -> Reply:
        """``GET /``: every job the request may view; 403 when it may not list."""
        if self._closed:
            return _not_configured()
        if not self._allowed(request, None, "view"):
            return self._error(403, "not allowed to list transfer jobs")
        return Reply(200, self._viewable_dicts(request, self.queue.get_all_jobs()))

    def get_job(self, request: RequestT, job_id: str) -> Reply:
        """``GET /<id>``: the job; 404 when unknown or hidden from the request."""
        if self._closed:
            return _not_configured()
        job = self._viewable(request, job_id)
        return self._not_found(job_id) if job is None else Reply(200, self._as_dict(job))

    def cancel_job(self, request: RequestT, job_id: str) -> Reply:
        """``DELETE /<id>``: cancel; 404 unknown or hidden, 403 denied, 409 finished, 504
        when the process that owns the job (on a Redis-backed queue) did not confirm in
        time (the request stays with it)."""
        if self._closed:
            return _not_configured()
        queue = self.queue
        job = self._viewable(request, job_id)
        if job is None:
            return self._not_found(job_id)
        if not self._allowed(request, job, "cancel"):
            return self._error(403, f"not allowed to cancel transfer job {job_id}", job_id)
        try:
            cancelled_now = not job.status.is_terminal and queue.cancel_job(job_id)
        except TimeoutError as exc:
            return self._error(504, str(exc), job_id)
        if not cancelled_now:
            return self._error(409, f"transfer job {job_id} has finished already", job_id)
        cancelled = queue.get_job(job_id)
        if cancelled is None:  # dropped by retention in between
            return self._not_found(job_id)
        return Reply(200, self._as_dict(cancelled))

    def pause_job(self, request: RequestT, job_id: str) -> Reply:
        """``PUT /<id>/pause``: pause; 404 unknown or hidden, 403 denied, 409 finished
        (or the queue shut down), 504 when the job's owning process did not confirm in
        time. A paused job answers 200 as it is: the request asks for a state, which it
        has."""
        return self._pause_or_resume(request, job_id, "pause")

    def resume_job(self, request: RequestT, job_id: str) -> Reply:
        """``PUT /<id>/resume``: resume; as :meth:`pause_job`, a job that is not paused
        answering 200 as it is."""
        return self._pause_or_resume(request, job_id, "resume")

    def _pause_or_resume(self, request: RequestT, job_id: str, action: str) -> Reply:
        if self._closed:
            return _not_configured()
        queue = self.queue
        job = self._viewable(request, job_id)
        if job is None:
            return self._not_found(job_id)
        if not self._allowed(request, job, action):
            return self._error(403, f"not allowed to {action} transfer job {job_id}", job_id)
        if job.status.is_terminal:
            return self._error(409, f"transfer job {job_id} has finished already", job_id)
        pausing = action == "pause"
        if (job.status is TransferStatus.PAUSED) is not pausing:
            try:
                if pausing:
                    queue.pause_job(job_id)
                else:
                    queue.resume_job(job_id)
            except JobNotFoundError:  # dropped by retention in between
                return self._not_found(job_id)
            except TimeoutError as exc:  # another process's job, its owner silent
                return self._error(504, str(exc), job_id)
            except (JobStateError, QueueShutdownError) as exc:
                # Finished meanwhile, another process's job, or the queue shut down; a
                # job another request paused or resumed meanwhile is as asked.
                now = queue.get_job(job_id)
                if now is None or (now.status is TransferStatus.PAUSED) is not pausing:
                    return self._error(409, str(exc), job_id)
        changed = queue.get_job(job_id)
        if changed is None:  # dropped by retention in between
            return self._not_found(job_id)
        return Reply(200, self._as_dict(changed))

    # -- streams -------------------------------------------------------------------------

    def job_events(
        self, request: RequestT, job_id: str, last_event_id: str | None = None
    ) -> Reply | EventStream:
        """``GET /<id>/events``: the job's stream, or a :class:`Reply` (404, or 204).

        The subscription is made here, before the response starts, so that the stream
        misses nothing between the status line and its first chunk. ``last_event_id`` is
        the request's ``Last-Event-ID`` header: a browser reconnecting after the end
        gets 204, which tells ``EventSource`` to stop; one reconnecting with the id of
        the job's current snapshot is not sent that snapshot again, one with an older id
        the changes since, where known (else the job whole).
        """
        if self._closed:
            return _not_configured()
        if self._viewable(request, job_id) is None:
            return self._not_found(job_id)
        if last_event_id == END_EVENT_ID:
            return Reply(204, None)
        try:
            watch = self.queue.watch(job_id, keepalive=self.keepalive)
        except JobNotFoundError:  # dropped by retention in between
            return self._not_found(job_id)

        step = self._job_stream_step(watch, _event_number(last_event_id))

        def stream() -> Generator[str, None, None]:
            for job in watch:
                if job is None:
                    yield _KEEPALIVE
                else:
                    yield from step(job)

        def poll() -> str | None:
            while True:
                job = watch.poll()  # StopIteration once the watch ended
                if job is None:
                    return None
                chunks = step(job)
                if chunks:  # else nothing to send for it (resumed at that very event)
                    return "".join(chunks)

        # Only a watch fed by this process's event thread can be polled (not one of
        # another process's job, read from Redis in the iterating thread).
        local = type(watch) is JobWatch
        return EventStream(
            stream(),
            watch.close,
            poll=poll if local else None,
            listen=watch.listen if local else None,
            keepalive=self.keepalive,
        )

    def _job_stream_step(
        self, watch: JobWatch[TransferJob | None], resumed_at: int | None
    ) -> Callable[[TransferJob], list[str]]:
        """What a job's stream sends for each snapshot its watch yields, whether it is
        iterated or polled: the job whole first (or, resumed from ``Last-Event-ID``
        ``resumed_at``, the changes since, or nothing if it is that very event's
        picture), then its changes, and after the terminal one the end event."""
        sent: int | None = None  # the number of the event the client's picture is at
        # The snapshot the client's picture is, exactly; None while it is one this
        # stream did not send (resumed with the picture the client has).
        picture: TransferJob | None = None

        def step(job: TransferJob) -> list[str]:
            nonlocal sent, picture
            chunks: list[str] = []
            event_id = watch.event_id
            assert event_id is not None  # a snapshot was yielded
            number = int(event_id)
            changes = watch.changed_files
            if sent is not None:
                if changes is not None:
                    self._history.record(sent, number, changes, job)
                    if picture is not None:  # less those the client has as they are
                        changes = _differing(picture, job, changes)
                chunks.append(self._message(job, changes=changes, event_id=event_id))
                picture = job
            elif resumed_at != number:  # else the client has this very event's picture
                if resumed_at is not None and resumed_at < number:
                    changes = self._history.changes(resumed_at, number, job)
                chunks.append(self._message(job, changes=changes, event_id=event_id))
                picture = job
            sent = number
            if job.status.is_terminal:
                end = {self._id_key: job.id, "status": job.status.value}
                chunks.append(sse_message(end, "end", END_EVENT_ID))
            return chunks

        return step

    def all_events(self, request: RequestT) -> Reply | EventStream:
        """``GET /events``: every viewable job's stream (never ends), or a 403 Reply.

        First ``event: jobs`` with the current list, then ``event: created`` (the job
        whole) and ``event: updated`` (its changes since the snapshot this client was
        sent last, or the job whole if none) with one job each. A client slower than the
        events skips to
        each job's latest snapshot, so what waits for it is bounded by the number of
        jobs. An update already on its way when the list was taken may follow it, showing
        that job briefly as it stood a moment before (the next update corrects it); a job
        the list shows finished is never followed by an older snapshot of it.
        """
        if self._closed:
            return _not_configured()
        if not self._allowed(request, None, "view"):
            return self._error(403, "not allowed to list transfer jobs")
        # Its subscription is made when the first chunk is taken, and released in there.
        queue = self.queue
        if queue._backend is not None:
            return EventStream(self._cluster_events_stream(request, queue))
        return EventStream(self._all_events_stream(request, queue))

    def _cluster_events_stream(
        self, request: RequestT, queue: TransferQueue
    ) -> Generator[str, None, None]:
        """The all-jobs stream of a queue with a backend: every job of the cluster, its
        news read from the namespace's event stream in Redis."""
        assert queue._backend is not None
        known: set[str] = set()
        # Follow first, then list: a job that changes in between is in the list or in
        # the news (or both; the duplicate is harmless), never in neither.
        news = queue._backend.follow_all(self.keepalive, known)
        try:
            jobs = queue.get_all_jobs()
            known.update(job.id for job in jobs)
            yield from self._job_news(request, jobs, news)
        finally:
            news.close()

    def _all_events_stream(
        self, request: RequestT, queue: TransferQueue
    ) -> Generator[str, None, None]:
        # ready guards pending: blinker receivers (the event thread) add, this generator
        # takes. Nothing is called while it is held.
        ready = threading.Condition()
        pending: OrderedDict[str, tuple[str, TransferJob]] = OrderedDict()

        def on_event(event: str) -> Callable[..., None]:
            def receive(sender: Any, *, job: TransferJob, **extra: Any) -> None:
                with ready:
                    earlier = pending.pop(job.id, None)
                    # A job created and updated before the client read it is news as "created".
                    created = earlier is not None and earlier[0] == "created"
                    pending[job.id] = ("created" if created else event, job)
                    ready.notify()

            return receive

        on_created, on_updated = on_event("created"), on_event("updated")
        # Subscribe before listing: a job created in between is then in the list or in
        # pending (or both; the duplicate is harmless), never in neither.
        job_created.connect(on_created, sender=queue, weak=False)
        job_updated.connect(on_updated, sender=queue, weak=False)

        def news() -> Iterator[tuple[str, TransferJob] | None]:
            while True:
                with ready:
                    if not pending:
                        ready.wait(self.keepalive)
                    item = pending.popitem(last=False)[1] if pending else None
                yield item

        try:
            jobs = queue.get_all_jobs()
            yield from self._job_news(request, jobs, news())
        finally:
            # Without a sender: disconnecting with one would leave blinker holding them.
            job_created.disconnect(on_created)
            job_updated.disconnect(on_updated)

    def _job_news(
        self,
        request: RequestT,
        jobs: list[TransferJob],
        news: Iterator[tuple[str, TransferJob] | None],
    ) -> Generator[str, None, None]:
        """The all-jobs stream's messages: the list ``jobs``, then each piece of ``news``
        (``(event, job)``, or None for a keep-alive) the request may view.

        A job the client was sent is then followed by its changes; each job's latest
        snapshot sent is kept (until its end) to tell what changed since.
        """
        finished = {job.id for job in jobs if job.status.is_terminal}
        viewable = [job for job in jobs if self._allowed(request, job, "view")]
        pictures = {job.id: job for job in viewable if not job.status.is_terminal}
        yield sse_message([self._as_dict(job) for job in viewable], "jobs")
        for item in news:  # pragma: no branch - the news end only once the stream was closed
            if item is None:
                yield _KEEPALIVE
                continue
            event, job = item
            if job.id in finished:  # posted before the list, which showed the job's end
                continue
            if not self._allowed(request, job, "view"):
                pictures.pop(job.id, None)  # should it be shown again: whole
                continue
            if event == "created":
                yield self._message(job, event)
            else:
                yield self._update_message(job, pictures.get(job.id))
            if job.status.is_terminal:
                pictures.pop(job.id, None)
            else:
                pictures[job.id] = job

    # -- helpers -------------------------------------------------------------------------

    def _message(
        self,
        job: TransferJob,
        event: str | None = None,
        event_id: str | None = None,
        changes: tuple[int, ...] | None = None,
    ) -> str:
        """The job message for ``job``: whole, or its totals and the files ``changes``."""
        return self._messages.message(
            job,
            event,
            lambda changes: sse_message(self._job_changes(job, changes)),
            event_id,
            changes,
        )

    def _job_changes(self, job: TransferJob, changes: tuple[int, ...] | None) -> dict[str, Any]:
        if changes is None:
            return {"job": self._as_dict(job)}
        data = job_changes_to_dict(job, changes, camel_case=self.camel_case)
        if self.hide_paths:
            for entry in data["changedFiles" if self.camel_case else "changed_files"]:
                hide_file_paths(
                    job.files[entry["index"]], entry["file"], camel_case=self.camel_case
                )
        return data

    def _update_message(self, job: TransferJob, sent: TransferJob | None) -> str:
        """An all-jobs stream's ``updated`` message for a client whose picture of the job
        is the snapshot ``sent`` (None: it has none, and gets the job whole)."""
        changes = None if sent is None else self._messages.changes_since(sent, job)
        return self._message(job, "updated", changes=changes)

    def _as_dict(self, job: TransferJob) -> dict[str, Any]:
        data = job.to_dict(camel_case=self.camel_case)
        if self.hide_paths:
            hide_paths(job, data, camel_case=self.camel_case)
        return data

    def _viewable_dicts(self, request: RequestT, jobs: list[TransferJob]) -> list[dict[str, Any]]:
        return [self._as_dict(job) for job in jobs if self._allowed(request, job, "view")]

    def _viewable(self, request: RequestT, job_id: str) -> TransferJob | None:
        job = self.queue.get_job(job_id)
        if job is None or not self._allowed(request, job, "view"):
            return None
        return job

    def _error(self, status: int, message: str, job_id: str | None = None) -> Reply:
        body: dict[str, Any] = {"error": message}
        if job_id is not None:
            body[self._id_key] = job_id
        return Reply(status, body)

    def _not_found(self, job_id: str) -> Reply:
        return self._error(404, f"no transfer job {job_id}", job_id)
