"""The ``transferqueue`` command line: ``transferqueue cp SRC... DEST``, ``transferqueue demo``
and the cluster's ``jobs``, ``watch`` and ``cancel``.

Exit status: 0 when every file arrived, 1 when some failed or something was left out (a
folder below a source that could not be read, one of several sources missing or unreadable,
a remote name that cannot safely become a local path: each reported on stderr and skipped,
the rest copied, as ``cp -r`` does), 2 for bad usage (a bad option, an unsupported pair, a
single source missing or unreadable, two sources onto one destination, a source whose name
would lead out of DEST), 130 after Ctrl-C, 143 after SIGTERM and 129 after SIGHUP (each
cancels the copy, waits for the transfers to stop and leaves no partial file).

What ``cp`` copies is planned in :mod:`._cli_plan`, and what it prints is
:mod:`._cli_output`'s; the exit statuses and the signals are :mod:`._cli_exit`'s. The
commands that follow a cluster of Redis-backed queues (``jobs``, ``watch``, ``cancel``)
are in :mod:`._cli_cluster`. This module parses the command line, runs the copy on a
queue of its own and turns signals and errors into exit statuses.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sys
import tempfile
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from . import _cli_cluster
from ._cli_exit import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    _cancelling_signals,
    _interrupted_status,
)
from ._cli_output import _display, _printable, _say, _size, _skipped, _skipped_note
from ._cli_plan import LazyS3Client, _UsageError, plan
from ._config import get_max_concurrent_transfers
from ._enums import TransferFileStatus, TransferStatus
from ._queue import TransferQueue
from ._retry import RetryPolicy
from .executors._routing import Transfer, location_kind, transfer_type_for
from .redis._url import redact_url

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from ._records import TransferJob

_KEEPALIVE = 0.5
_DEMO_SIZES_MIB = (1, 2, 4, 8, 16, 32, 64)


# A URL as argparse may quote one in an error (an extra argument, an unknown command).
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose error messages show any URL they quote without its
    password: ``transferqueue jobs redis://:secret@host`` (``--redis`` forgotten) must not
    print the secret."""

    def error(self, message: str) -> NoReturn:
        """Print the usage and the message, URLs redacted; exit 2."""
        super().error(_URL.sub(lambda found: redact_url(found.group()), message))


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="transferqueue",
        description="Copy files between local folders, S3 and Hugging Face, several at once.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    cp = commands.add_parser(
        "cp",
        help="copy files, folders, S3 prefixes or Hugging Face repositories",
        description=(
            "Copy SRC to DEST. Sources are local paths, s3://bucket/key-or-prefix or "
            "hf://[datasets/]owner/repo[@revision][/path]; folders, prefixes and "
            "repositories are copied recursively. With several sources DEST is a folder. "
            "A folder below a source that cannot be read is reported on stderr and "
            "skipped, the rest is copied, and the exit status is 1; so is an S3 key "
            "that cannot safely become a path below DEST. Ctrl-C, SIGTERM and SIGHUP "
            "cancel the copy, leaving no partial file (exit 130, 143, 129)."
        ),
    )
    cp.add_argument("paths", nargs="+", metavar="SRC... DEST")
    cp.add_argument(
        "-j",
        "--concurrency",
        type=_positive_int,
        default=None,
        help="files transferred at once (default: MAX_CONCURRENT_TRANSFERS, or 2)",
    )
    cp.add_argument(
        "--retries",
        type=_non_negative_int,
        default=2,
        help="times a file is tried again after a transient error (default: 2)",
    )
    cp.add_argument("--overwrite", action="store_true", help="replace existing destinations")
    cp.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be copied (one JSON object with --json), copy nothing",
    )
    output = cp.add_mutually_exclusive_group()
    output.add_argument(
        "--json",
        action="store_true",
        help="print the job as JSON lines: whole first and last, its changes in between",
    )
    output.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    commands.add_parser("demo", help="copy a few generated files, showing the live progress")
    _cli_cluster.add_commands(commands)
    return parser


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


@contextlib.contextmanager
def _copy_queue(concurrency: int) -> Iterator[TransferQueue]:
    """A queue of ``concurrency`` slots for one copy, shut down when the block ends.

    When the block ends with an exception, wherever it was raised (a Ctrl-C or a
    cancelling signal while the job is being queued included), the queue's jobs are
    cancelled before it waits for them: a copy the command no longer watches must not
    run on to its end, as a plain shutdown would let it.
    """
    queue = TransferQueue(concurrency)
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
    the exit status 1, though every listed file arrived. ``s3_client`` gives the client of
    the S3 transfers (the listings', so that a copy makes one).
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    policy = RetryPolicy(max_attempts=retries + 1)
    with contextlib.ExitStack() as closing:
        transfer = closing.enter_context(_transfer(files, overwrite, s3_client, closing))
        return _copy_on_queue(
            files, transfer, concurrency, policy, as_json, quiet, out, err, skipped
        )


def _transfer(
    files: list[dict[str, Any]],
    overwrite: bool,
    s3_client: Callable[[], Any] | None,
    closing: contextlib.ExitStack,
) -> Transfer:
    """The executor of a copy; its S3 executor, made here when S3 files come and a client
    was given, is closed with ``closing`` (after the queue, which the copy leaves first)."""
    if s3_client is None or not any(
        location_kind(file[side]) == "s3"
        for file in files
        for side in ("source_path", "destination_path")
    ):
        return Transfer(overwrite=overwrite)
    from .executors._s3 import S3Transfer

    s3 = closing.enter_context(S3Transfer(client=s3_client(), overwrite=overwrite))
    return Transfer(overwrite=overwrite, s3=s3)


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
) -> int:
    """:func:`copy`'s work, on a queue of its own."""
    with _copy_queue(concurrency) as queue:
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
    failed = [file for file in final.files if file.status is not TransferFileStatus.COMPLETED]
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
            f"({_size(copied)}), {progress.failed_files} failed{_skipped_note(skipped)}",
            out,
        )
    arrived = final.status is TransferStatus.COMPLETED and not failed
    return EXIT_OK if arrived and not skipped else EXIT_FAILED


def _cp(args: argparse.Namespace) -> int:
    if len(args.paths) < 2:
        raise _UsageError("cp needs at least one SRC and a DEST")
    *sources, destination = args.paths
    skipped: list[dict[str, str]] = []

    def report(error: Exception) -> None:
        # Said at once, as cp -r does; the copy goes on without it.
        entry = _skipped(error)
        skipped.append(entry)
        _say(f"skipped {entry['path']}: {entry['error']}", sys.stderr)

    s3_client = LazyS3Client()
    files = plan(sources, destination, on_error=report, s3_client=s3_client)
    if args.dry_run:
        _dry_run(files, skipped, as_json=args.json, quiet=args.quiet)
        return EXIT_FAILED if skipped else EXIT_OK
    concurrency = args.concurrency
    if concurrency is None:
        try:
            concurrency = get_max_concurrent_transfers()
        except ValueError as exc:
            raise _UsageError(str(exc)) from None
    return copy(
        files,
        concurrency=concurrency,
        retries=args.retries,
        overwrite=args.overwrite,
        as_json=args.json,
        quiet=args.quiet,
        skipped=skipped,
        s3_client=s3_client,
    )


def _dry_run(
    files: list[dict[str, Any]],
    skipped: Sequence[dict[str, str]],
    *,
    as_json: bool,
    quiet: bool,
) -> None:
    """Print what ``files`` would copy: a line each and the totals, or one JSON object
    with the same keys as a job's ``files`` and ``progress`` (``source_path``, ...,
    ``total_files``, ``total_bytes``), or nothing when ``quiet``."""
    total = sum(int(file["size"]) for file in files)
    if as_json:
        document = {
            "event": "dry-run",
            "files": [
                {key: file[key] for key in ("source_path", "destination_path", "size")}
                for file in files
            ],
            "total_files": len(files),
            "total_bytes": total,
            "skipped": list(skipped),
        }
        print(json.dumps(document, sort_keys=True), flush=True)
        return
    if quiet:
        return
    for file in files:
        line = f"{file['source_path']} -> {file['destination_path']} ({_size(file['size'])})"
        print(_printable(line, sys.stdout))
    note = _skipped_note(skipped)
    print(f"{len(files)} files, {_size(total)}{note} (dry run: nothing copied)", flush=True)


def demo() -> int:
    """Generate a few files of random bytes (1 to 64 MiB) in a temporary folder, copy
    them to another with the live progress, say where they went, and clean up."""
    try:
        concurrency = get_max_concurrent_transfers()
    except ValueError as exc:  # before any file is made
        raise _UsageError(str(exc)) from None
    root = tempfile.mkdtemp(prefix="transferqueue-demo-")
    try:
        source = os.path.join(root, "source")
        destination = os.path.join(root, "copies")
        os.mkdir(source)
        for size in _DEMO_SIZES_MIB:
            with open(os.path.join(source, f"sample-{size}MiB.bin"), "wb") as stream:
                stream.write(os.urandom(size * 1024 * 1024))
        print(f"generated {len(_DEMO_SIZES_MIB)} files in {source}", flush=True)
        files = plan([source], destination)
        status = copy(files, concurrency=concurrency, retries=0, overwrite=False)
        print(f"copied to {destination} (now removed again)", flush=True)
        return status
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or bad usage (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        with _cancelling_signals():
            if args.command == "demo":
                return demo()
            if args.command in _cli_cluster.COMMANDS:
                return _cli_cluster.run(args)
            return _cp(args)
    except _UsageError as exc:  # it may name a source, or quote a listing's entry
        _say(f"transferqueue: error: {exc}", sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as interrupt:  # before the copy started: nothing to clean up
        print("cancelled", file=sys.stderr, flush=True)
        return _interrupted_status(interrupt)
