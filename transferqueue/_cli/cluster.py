"""``transferqueue jobs``, ``watch`` and ``cancel``: the jobs of a cluster of Redis-backed
queues (docs/howto/redis.rst), seen and cancelled from a shell.

Each command reads the cluster through a :class:`~transferqueue.redis.RedisBackend` that
serves no queue: it reads the shared registry and the jobs' event streams, and ``cancel``
asks a job's owner to cancel it, as ``cancel_job`` of a Redis-backed queue does. It holds
no slot, stores no limit and starts no transfer: a queue would store its limit in Redis
if none were stored yet, and so change the cluster it only meant to look at.

The URL comes from ``--redis`` or the environment variable ``TRANSFERQUEUE_REDIS_URL``
(better: a command line is seen by every user of the host); it is checked before use and
its password is never printed. Exit statuses are in :mod:`.exit_status`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from typing import TYPE_CHECKING, Any, TextIO

from transferqueue._errors import JobNotFoundError
from transferqueue._log import logger
from transferqueue._records.enums import TransferFileStatus, TransferStatus
from transferqueue.redis import DEFAULT_NAMESPACE, RedisBackendError
from transferqueue.redis._settings import check_namespace
from transferqueue.redis._url import redact_url

from .display import _display
from .exit_status import (
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    _interrupted_status,
)
from .output import _help_text, _say, _size
from .plan import _UsageError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from transferqueue._records import TransferJob
    from transferqueue.redis import RedisBackend

COMMANDS = ("jobs", "watch", "cancel")
ENV_URL = "TRANSFERQUEUE_REDIS_URL"

# What a queue of a cluster names its jobs: transfer-<ms>-<n>-<token of its process>.
_JOB_ID = re.compile(r"transfer-[0-9]{1,20}-[0-9]{1,20}-[0-9a-f]{1,64}")
# A Redis URL is printable ASCII without spaces; anything else (a newline, an escape) is
# refused before it reaches redis-py, which would drop some of it silently.
_URL_CHARACTERS = re.compile(r"[!-~]+")
# The database of a redis:// or rediss:// URL: none, or a number. redis-py ignores a path
# that is not one, and would read database 0 instead of the one meant.
_DATABASE_PATH = re.compile(r"/?[0-9]*")


class _Failure(Exception):
    """The command cannot do what was asked; ``status`` is its exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


# The examples of each command's --help, kept as written (RawDescriptionHelpFormatter);
# tests/integration/test_cli_help.py parses every one of them. The URL goes in the environment: a
# command line is seen by every user of the host.
_JOBS_EXAMPLES = f"""\
examples:
  export {ENV_URL}=redis://localhost:6379/0
  transferqueue jobs                           # a table, oldest first
  transferqueue jobs --namespace staging       # the jobs of another cluster
  transferqueue jobs --json | jq -r '.[] | select(.status == "active") | .id'"""

_WATCH_EXAMPLES = f"""\
examples:
  export {ENV_URL}=redis://localhost:6379/0
  transferqueue watch transfer-1796306161312-1-e775dd317e64
  transferqueue watch -q transfer-1796306161312-1-e775dd317e64 && echo done
  transferqueue watch --json transfer-1796306161312-1-e775dd317e64 | tail -n 1"""

_CANCEL_EXAMPLES = f"""\
examples:
  export {ENV_URL}=redis://localhost:6379/0
  transferqueue jobs                        # the ids, with each job's status
  transferqueue cancel transfer-1796306161312-1-e775dd317e64"""


def add_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``jobs``, ``watch`` and ``cancel`` to the subcommands of ``transferqueue``."""
    jobs = commands.add_parser(
        "jobs",
        help="list the jobs of a cluster of Redis-backed queues",
        description="List every job of the cluster, oldest first: one line each.",
        epilog=_JOBS_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_cluster_options(jobs)
    jobs.add_argument(
        "--json", action="store_true", help="print one JSON array of the jobs (job.to_dict())"
    )
    watch = commands.add_parser(
        "watch",
        help="show the progress of a job of the cluster until it ends",
        description=_help_text(
            "Show the live progress of a job that another process runs, as cp shows its "
            "own, until the job ends; exit 0 if it completed, 1 if it failed or was "
            "cancelled. Ctrl-C stops watching; the job goes on."
        ),
        epilog=_WATCH_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    watch.add_argument("job_id", metavar="JOB_ID")
    _add_cluster_options(watch)
    output = watch.add_mutually_exclusive_group()
    output.add_argument(
        "--json", action="store_true", help="print the job as JSON lines, as cp --json does"
    )
    output.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    cancel = commands.add_parser(
        "cancel",
        help="cancel a job of the cluster",
        description=_help_text(
            "Ask the process that runs the job to cancel it, and wait until it did (a few "
            "seconds at most)."
        ),
        epilog=_CANCEL_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cancel.add_argument("job_id", metavar="JOB_ID")
    _add_cluster_options(cancel)


def _add_cluster_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--redis",
        metavar="URL",
        default=None,
        help=f"the cluster's Redis server (default: ${ENV_URL})",
    )
    command.add_argument(
        "--namespace",
        default=None,
        help="the cluster's namespace (default: transferqueue)",
    )


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run ``jobs``, ``watch`` or ``cancel`` as parsed into ``args``; return the exit
    status. Raises :class:`_UsageError` for bad usage, before anything is read."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    job_id = None if args.command == "jobs" else _check_job_id(args.job_id)
    backend: RedisBackend | None = None
    warnings = _Warnings(err)
    logger.addHandler(warnings)
    try:
        backend = _backend(args.redis, args.namespace)
        if job_id is None:
            return _jobs(backend, as_json=args.json, out=out)
        if args.command == "watch":
            return _watch(backend, job_id, as_json=args.json, quiet=args.quiet, out=out, err=err)
        return _cancel(backend, job_id, out=out, err=err)
    except _Failure as failure:
        _say(f"transferqueue: error: {failure}", err)
        return failure.status
    except JobNotFoundError:
        _say(f"transferqueue: error: no job {job_id} in the cluster", err)
        return EXIT_NOT_FOUND
    except RedisBackendError as exc:  # its message shows the URL without the password
        _say(f"transferqueue: error: {exc}", err)
        return EXIT_UNAVAILABLE
    except KeyboardInterrupt as interrupt:  # a read or a cancel request cut short
        print("interrupted", file=err, flush=True)
        return _interrupted_status(interrupt)
    finally:
        logger.removeHandler(warnings)
        if backend is not None:
            backend.close()


class _Warnings(logging.Handler):
    """The library's warnings while a command reads the cluster (an entry it skipped as
    malformed, a stream it read again), as lines of the command on stderr: escaped, as
    they may quote what Redis holds."""

    def __init__(self, err: TextIO) -> None:
        super().__init__(logging.WARNING)
        self._err = err

    def emit(self, record: logging.LogRecord) -> None:
        """Print the record's message."""
        _say(f"transferqueue: warning: {record.getMessage()}", self._err)


def _check_job_id(text: str) -> str:
    if len(text) > 200 or _JOB_ID.fullmatch(text) is None:
        shown = text if len(text) <= 60 else text[:60] + "..."
        raise _UsageError(
            f"not a job id: {shown!r} (a cluster's job ids read transfer-<ms>-<n>-<token>)"
        )
    return text


def _backend(url_option: str | None, namespace_option: str | None) -> RedisBackend:
    """A backend for reading the cluster: checked, not connected yet."""
    where = "--redis" if url_option is not None else ENV_URL
    url = url_option if url_option is not None else os.environ.get(ENV_URL, "")
    if not url:
        raise _UsageError(f"no Redis URL: give --redis URL or set {ENV_URL}")
    # Never shown as given: it may hold a password.
    if _URL_CHARACTERS.fullmatch(url) is None:
        raise _UsageError(
            f"{where} is not a usable Redis URL: it holds spaces, control characters "
            "or characters that are not ASCII"
        )
    scheme, _, rest = url.partition("://")
    path = rest.partition("?")[0].partition("/")[2]
    if scheme in ("redis", "rediss") and _DATABASE_PATH.fullmatch(path) is None:
        raise _UsageError(
            f"{where} is not a usable Redis URL: its database is not a number: {redact_url(url)}"
        )
    try:
        namespace = check_namespace(
            DEFAULT_NAMESPACE if namespace_option is None else namespace_option
        )
    except ValueError as exc:
        raise _UsageError(f"--namespace: {exc}") from None
    try:
        from transferqueue.redis import RedisBackend
    except ImportError as exc:  # redis-py is the extra transferqueue[redis]
        raise _Failure(str(exc), EXIT_UNAVAILABLE) from None
    try:
        return RedisBackend(url, namespace=namespace)
    except ValueError as exc:  # its message shows the URL without the password
        raise _UsageError(f"{where}: {exc}") from None


# -- jobs ---------------------------------------------------------------------------------


def _jobs(backend: RedisBackend, *, as_json: bool, out: TextIO) -> int:
    jobs = backend.read_jobs(())
    if as_json:
        print(json.dumps([job.to_dict() for job in jobs], sort_keys=True), file=out, flush=True)
        return EXIT_OK
    if not jobs:
        _say(f"no jobs in namespace {backend.namespace}", out)
        return EXIT_OK
    for line in _table(jobs):
        _say(line, out)
    return EXIT_OK


_HEADINGS = ("ID", "STATUS", "TYPE", "FILES", "FAILED", "DONE", "SIZE", "CREATED")


def _table(jobs: Sequence[TransferJob]) -> list[str]:
    """One line per job under a line of headings, the columns aligned."""
    rows = [_HEADINGS]
    for job in jobs:
        progress = job.progress
        rows.append(
            (
                job.id,
                str(job.status),
                str(job.type),
                f"{progress.completed_files + progress.failed_files + progress.skipped_files}"
                f"/{progress.total_files}",
                str(progress.failed_files),
                f"{progress.percentage}%",
                f"{_size(progress.loaded_bytes)} of {_size(progress.total_bytes)}",
                job.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),  # records hold UTC
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(_HEADINGS))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


# -- watch --------------------------------------------------------------------------------


def _watch(
    backend: RedisBackend, job_id: str, *, as_json: bool, quiet: bool, out: TextIO, err: TextIO
) -> int:
    final: TransferJob | None = None
    with backend.watch(job_id, None, None) as snapshots:
        display = _display(out, as_json=as_json, quiet=quiet, skipped=())
        try:
            for job in snapshots:
                display.show(job, snapshots.changed_files)
                final = job
        except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM / SIGHUP (_Signalled)
            display.close()
            _say(f"stopped watching: job {job_id} goes on", err)
            return _interrupted_status(interrupt)
        finally:
            display.close()  # also when Redis went away: the terminal gets its cursor back
    assert final is not None  # a watch yields the job first
    if not final.status.is_terminal:
        raise _Failure(f"job {job_id} left the cluster's registry before it ended", EXIT_NOT_FOUND)
    if final.status is TransferStatus.CANCELLED:
        _say(f"job {job_id} cancelled: {final.error or 'no reason given'}", err)
    else:
        for file in final.files:
            if file.status is TransferFileStatus.ERROR:
                _say(f"failed {file.source_path}: {file.error or file.error_type or ''}", err)
    progress = final.progress
    if not as_json and not quiet:
        done = sum(file.size for file in final.files if file.status is TransferFileStatus.COMPLETED)
        _say(
            f"job {job_id} {final.status}: {progress.completed_files} of "
            f"{progress.total_files} files transferred ({_size(done)}), "
            + (f"{progress.skipped_files} up to date, " if progress.skipped_files else "")
            + f"{progress.failed_files} failed",
            out,
        )
    if final.status is TransferStatus.COMPLETED and progress.failed_files == 0:
        return EXIT_OK
    return EXIT_FAILED


# -- cancel -------------------------------------------------------------------------------


def _cancel(backend: RedisBackend, job_id: str, *, out: TextIO, err: TextIO) -> int:
    job = backend.read_job(job_id)
    if job is None:
        raise JobNotFoundError(job_id)
    if not job.status.is_terminal:
        try:
            cancelled = backend.request_cancel(job_id)
        except TimeoutError as exc:  # it names the owner
            raise _Failure(str(exc), EXIT_UNAVAILABLE) from None
        if cancelled:
            _say(f"cancelled {job_id}", out)
            return EXIT_OK
        job = backend.read_job(job_id)
        if job is None:  # ended and forgotten meanwhile
            raise JobNotFoundError(job_id)
        if not job.status.is_terminal:
            raise _Failure(
                f"job {job_id} is {job.status}, but the registry names no other process "
                "that runs it to ask",
                EXIT_UNAVAILABLE,
            )
    _say(f"job {job_id} has already ended: {job.status}", err)
    return EXIT_FAILED
