"""Running a planned copy for the command line: ``transferqueue cp`` and the terminal
demo hand :func:`copy` the files :func:`~.plan.plan` listed, and get its exit
status back.

The copy runs on a queue of its own, shown as :mod:`.output` shows a job; Ctrl-C,
SIGTERM and SIGHUP (see :mod:`.exit_status`) cancel it, wait for the transfers to stop and
leave no partial file.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any, TextIO

from transferqueue._core.queue import TransferQueue
from transferqueue._core.retry import RetryPolicy
from transferqueue._records.enums import TransferFileStatus, TransferStatus
from transferqueue.executors._routing import Transfer, location_kind, transfer_type_for

from .display import _display
from .exit_status import EXIT_FAILED, EXIT_OK, _interrupted_status
from .output import _say, _size, _skipped_note, _up_to_date_note

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from transferqueue._records import TransferJob

_KEEPALIVE = 0.5
# A file is where it belongs once copied, or skipped as already up to date.
_ARRIVED = (TransferFileStatus.COMPLETED, TransferFileStatus.SKIPPED)


@contextlib.contextmanager
def _copy_queue(concurrency: int, bandwidth_limit: float | None = None) -> Iterator[TransferQueue]:
    """A queue of ``concurrency`` slots (and ``bandwidth_limit`` bytes per second, if
    given) for one copy, shut down when the block ends.

    When the block ends with an exception, wherever it was raised (a Ctrl-C or a
    cancelling signal while the job is being queued included), the queue's jobs are
    cancelled before it waits for them: a copy the command no longer watches must not
    run on to its end, as a plain shutdown would let it.
    """
    queue = TransferQueue(concurrency, bandwidth_limit=bandwidth_limit)
    try:
        yield queue
    except BaseException:
        queue.shutdown(wait=True, cancel_jobs=True)
        raise
    queue.shutdown(wait=True)


def copy(
    files: list[dict[str, Any]],
    *,
    concurrency: int,
    retries: int,
    overwrite: bool,
    bandwidth_limit: float | None = None,
    checksum: bool = False,
    as_json: bool = False,
    quiet: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
    skipped: Sequence[dict[str, str]] = (),
    s3_client: Callable[[], Any] | None = None,
) -> int:
    """Copy ``files`` (as :func:`plan` lists them) on a queue of ``concurrency`` slots,
    showing the progress on ``out``; return the exit status.

    ``skipped`` names what the listing left out (``{"path": ..., "error": ...}`` each,
    already reported on stderr): it goes into each JSON line and the summary, and makes
    the exit status 1, though every listed file arrived. ``bandwidth_limit`` caps the
    bytes per second of all the files together (None: no cap); with ``checksum`` each
    copy is checked against its source. ``s3_client`` gives the
    client of the S3 transfers (the listings', so that a copy makes one).
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    policy = RetryPolicy(max_attempts=retries + 1)
    with contextlib.ExitStack() as closing:
        transfer = closing.enter_context(_transfer(files, overwrite, s3_client, closing, checksum))
        return _copy_on_queue(
            files,
            transfer,
            concurrency,
            policy,
            as_json,
            quiet,
            out,
            err,
            skipped,
            bandwidth_limit,
        )


def _transfer(
    files: list[dict[str, Any]],
    overwrite: bool,
    s3_client: Callable[[], Any] | None,
    closing: contextlib.ExitStack,
    checksum: bool = False,
) -> Transfer:
    """The executor of a copy; its S3 executor, made here when S3 files come and a client
    was given, is closed with ``closing`` (after the queue, which the copy leaves first)."""
    if s3_client is None or not any(
        location_kind(file[side]) == "s3"
        for file in files
        for side in ("source_path", "destination_path")
    ):
        return Transfer(overwrite=overwrite, checksum=checksum)
    from transferqueue.executors._s3 import S3Transfer

    s3 = closing.enter_context(
        S3Transfer(client=s3_client(), overwrite=overwrite, checksum=checksum)
    )
    return Transfer(overwrite=overwrite, s3=s3, checksum=checksum)


def _copy_on_queue(
    files: list[dict[str, Any]],
    transfer: Transfer,
    concurrency: int,
    policy: RetryPolicy,
    as_json: bool,
    quiet: bool,
    out: TextIO,
    err: TextIO,
    skipped: Sequence[dict[str, str]],
    bandwidth_limit: float | None = None,
) -> int:
    """:func:`copy`'s work, on a queue of its own."""
    with _copy_queue(concurrency, bandwidth_limit) as queue:
        display = _display(out, as_json=as_json, quiet=quiet, skipped=skipped)
        job_type = {
            transfer_type_for(file["source_path"], file["destination_path"]) for file in files
        }
        kind = job_type.pop() if len(job_type) == 1 else "cross-storage"
        job_id = queue.queue_job(kind, files, transfer, retry=policy)
        final: TransferJob | None = None
        try:
            with queue.watch(job_id, keepalive=_KEEPALIVE) as snapshots:
                for job in snapshots:
                    if job is not None:
                        display.show(job, snapshots.changed_files)
                        final = job
        except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM / SIGHUP (_Signalled)
            display.close()
            queue.cancel_job(job_id)
            # Every executor returns once it sees the cancel, leaving no partial file.
            queue.shutdown(wait=True)
            if as_json:
                # JSON lines end with the job's end, an interrupted copy's too: the job
                # cancelled, once nothing is left behind. The watch was left where the
                # interrupt landed, so every file is listed (a no-op if it had ended).
                display.show(queue.wait(job_id), None)
            print("cancelled", file=err, flush=True)
            return _interrupted_status(interrupt)
        # Anything else (a closed pipe, a display error) leaves the queue's block, which
        # cancels the job: it must not run on unseen.
        display.close()
    assert final is not None
    assert final.status.is_terminal
    failed = [file for file in final.files if file.status not in _ARRIVED]
    for file in failed:
        if file.error_type == "FileExistsError":  # the executor's message names its option
            reason = f"{file.destination_path} exists (use --overwrite to replace it)"
        else:
            reason = file.error or ""
        _say(f"failed {file.source_path}: {reason}", err)
    if not as_json and not quiet:
        progress = final.progress
        copied = sum(file.size for file in final.files if file.status == "completed")
        _say(
            f"{progress.completed_files} of {progress.total_files} files copied "
            f"({_size(copied)}){_up_to_date_note(progress.skipped_files)}, "
            f"{progress.failed_files} failed{_skipped_note(skipped)}",
            out,
        )
    arrived = final.status is TransferStatus.COMPLETED and not failed
    return EXIT_OK if arrived and not skipped else EXIT_FAILED
