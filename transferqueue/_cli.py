"""The ``transferqueue`` command line: ``transferqueue cp SRC... DEST`` and ``transferqueue demo``.

Exit status: 0 when every file arrived, 1 when some failed or something was left out (a
folder below a source that could not be read, one of several sources missing or unreadable,
a remote name that cannot safely become a local path: each reported on stderr and skipped,
the rest copied, as ``cp -r`` does), 2 for bad usage (a bad option, an unsupported pair, a
single source missing or unreadable, two sources onto one destination, a source whose name
would lead out of DEST), 130 after Ctrl-C, 143 after SIGTERM and 129 after SIGHUP (each
cancels the copy, waits for the transfers to stop and leaves no partial file).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import posixpath
import re
import shutil
import signal
import sys
import tempfile
import threading
from typing import TYPE_CHECKING, Any, TextIO

import attrs

from ._config import get_max_concurrent_transfers
from ._enums import TransferFileStatus, TransferStatus
from ._queue import TransferQueue
from ._retry import RetryPolicy
from .executors._hub_errors import HubEntryError, HubError
from .executors._remote_names import UnsafeRemoteNameError, relative_parts
from .executors._routing import Transfer, list_files, location_kind, transfer_type_for

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from types import FrameType

    from ._records import TransferJob

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a process Ctrl-C ended

_KEEPALIVE = 0.5
_SHUTDOWN_TIMEOUT = 30.0
_DEMO_SIZES_MIB = (1, 2, 4, 8, 16, 32, 64)


class _UsageError(Exception):
    """Bad usage found after parsing: exit status 2."""


class _Signalled(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread so that it takes Ctrl-C's path (the
    job cancelled, the transfers waited for, no partial file); the exit status is
    128 + ``signum``, as for a process the signal killed."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


# Handled like Ctrl-C: a service manager's stop (SIGTERM), a closed terminal (SIGHUP).
_CANCELLING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def _cancelling_signals() -> Iterator[None]:
    """Turn the first SIGTERM or SIGHUP into :class:`_Signalled` in the main thread, for
    the duration of the block; later ones are ignored, so that they cannot cut the
    clean-up short. The previous handlers come back afterwards. A signal that was
    ignored when the block began (``nohup`` ignores SIGHUP) stays ignored, and one whose
    handler was not set from Python (which could not be put back) is left alone; off the
    main thread, where Python cannot set handlers, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        if not fired:
            fired = True
            raise _Signalled(signum)

    previous = {}
    for number in _CANCELLING_SIGNALS:
        old = signal.getsignal(number)
        if old is not None and old is not signal.SIG_IGN:
            previous[number] = old
    try:
        for number in previous:
            signal.signal(number, handler)
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


def _interrupted_status(interrupt: KeyboardInterrupt) -> int:
    """The exit status after Ctrl-C (130) or a cancelling signal (128 + its number)."""
    if isinstance(interrupt, _Signalled):
        return 128 + interrupt.signum
    return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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


def _is_folder(destination: str) -> bool:
    if location_kind(destination) == "s3":
        # s3://bucket names no object: a bucket is where objects go, like a folder.
        return destination.endswith("/") or "/" not in destination[len("s3://") :]
    return destination.endswith(("/", os.sep)) or os.path.isdir(destination)


def _name(source: str) -> str:
    """The last part of a source's path, as ``cp`` names the copy inside a folder."""
    if location_kind(source) == "s3":
        rest = source[len("s3://") :].rstrip("/")
        return posixpath.basename(rest) or rest
    return os.path.basename(os.path.normpath(source))


def _folder_name(source: str, destination: str) -> str:
    """:func:`_name` of ``source``, which must name something inside the folder
    ``destination``: never ``..``, and for S3 a single safe segment (a key is taken
    literally, so ``.`` would not mean "the prefix itself"); a ``_UsageError`` naming
    the source otherwise."""
    name = _name(source)
    if location_kind(source) == "s3":
        try:
            relative_parts(name, where=source)
        except UnsafeRemoteNameError as exc:
            raise _UsageError(
                f"cannot copy {source} into {destination}: its name {name!r} {exc.reason}"
            ) from None
    elif name == os.pardir:  # "." or "" (the root) copy the contents, as cp -r does
        raise _UsageError(
            f"cannot copy {source} into {destination}: its name {name!r} leads out of it"
        )
    return name


def _within(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies below it, lexically (as planned, before
    anything exists)."""
    if location_kind(folder) == "s3":
        inner, outer = posixpath.normpath(path[5:]), posixpath.normpath(folder[5:])
        separator = "/"
    else:
        inner, outer = os.path.abspath(path), os.path.abspath(folder)
        separator = os.sep
    return inner == outer or inner.startswith(outer.rstrip(separator) + separator)


def _join(folder: str, name: str) -> str:
    if location_kind(folder) == "s3":
        return folder.rstrip("/") + "/" + name
    return os.path.join(folder, name)


def plan(
    sources: Sequence[str],
    destination: str,
    *,
    on_error: Callable[[Exception], None] | None = None,
) -> list[dict[str, Any]]:
    """The files that ``cp sources destination`` copies, as ``queue_job`` takes them.

    As ``cp -r``: a source goes into ``destination`` under its own name when there are
    several sources or ``destination`` is an existing folder (or ends with ``/``); a
    single source otherwise becomes ``destination``. ``hf://`` sources always go into
    ``destination`` as a folder. Raises ``_UsageError`` for an unsupported pair, a
    missing or unreadable source, an S3 source with nothing under it, two files planned
    onto one destination (the same source given twice included), and a destination that
    would not lie in (or be) ``destination``, such as ``s3://bucket/..`` copied into a
    folder.

    ``on_error`` is given to the listing of every source (see
    :func:`~transferqueue.executors.list_files`): with it, a folder below a source that
    cannot be read, an S3 key or a hub path that cannot safely become a path below the
    destination, and a hub entry that is not a usable file, are reported to it and left
    out, and so is a local source that is
    missing or cannot be read when there are several (one alone is a ``_UsageError``);
    without it, all of that is a ``_UsageError``.
    """
    into_folder = len(sources) > 1 or _is_folder(destination)
    files: list[dict[str, Any]] = []
    for source in sources:
        try:
            transfer_type_for(source, destination)
        except ValueError as exc:
            raise _UsageError(str(exc)) from None
        kind = location_kind(source)
        target = destination
        if kind != "hf" and into_folder:
            target = _join(destination, _folder_name(source, destination))
        if kind == "local" and location_kind(target) == "local" and _inside(target, source):
            raise _UsageError(f"cannot copy {source} into itself ({target})")
        try:
            found = list_files(source, target, on_error=on_error)
        except ImportError as exc:  # S3 without boto3
            raise _UsageError(f"{exc}; install it with: pip install 'transferqueue[s3]'") from None
        except OSError as exc:
            if on_error is not None and kind == "local" and len(sources) > 1:
                on_error(exc)  # as cp -r: the other sources are still copied
                continue
            raise _UsageError(f"cannot read {source}: {exc.strerror or exc}") from None
        except (ValueError, HubError) as exc:
            raise _UsageError(f"cannot read {source}: {exc}") from None
        if not found and kind == "s3":
            raise _UsageError(f"no such S3 object or prefix: {source}")
        for file in found:
            if not _within(file["destination_path"], destination):
                raise _UsageError(
                    f"cannot copy {source}: {file['source_path']} would be copied to "
                    f"{file['destination_path']}, outside {destination}"
                )
        files.extend(found)
    # Two files landing on one destination (the same source twice, too) would race,
    # and one would be lost.
    seen: dict[str, str] = {}
    for file in files:
        target = file["destination_path"]
        if target in seen:
            raise _UsageError(
                f"{seen[target]} and {file['source_path']} would both be copied to {target}"
            )
        seen[target] = file["source_path"]
    return files


def _inside(target: str, source: str) -> bool:
    """Whether the local path ``target`` lies in (or is) the local folder ``source``."""
    if not os.path.isdir(source):
        return False
    folder = os.path.realpath(source)
    path = os.path.realpath(target)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


# Control characters: C0 (newline, escape, ...), DEL and C1. A remote name or a server's
# message may hold them; written raw, they would move the cursor, recolour or retitle the
# terminal, or print a fake line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _printable(text: str, stream: TextIO) -> str:
    """``text`` as ``stream`` can write it and a terminal shows it, as GNU tools print odd
    names: each byte of a file name that is not valid UTF-8 (which Python holds as a lone
    surrogate) and each C0 control character or DEL as ``\\xNN``, each C1 control
    character and each other character the stream's encoding cannot take as ``\\uNNNN``
    (or ``\\UNNNNNNNN``); the rest as it is. A stream without an encoding counts as UTF-8."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        pass
    else:
        if _CONTROL.search(text) is None:
            return text
    return "".join(_escaped(char, encoding) for char in text)


def _escaped(char: str, encoding: str) -> str:
    code = ord(char)
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if 0x80 <= code <= 0x9F:  # C1: "\\x85" would read as the undecodable byte 0x85
        return f"\\u{code:04x}"
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the undecodable byte code - 0xDC00
            return f"\\x{code - 0xDC00:02x}"
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    return char


def _say(line: str, stream: TextIO) -> None:
    """Print a line holding paths: never a UnicodeEncodeError, nor a control character
    (see _printable)."""
    print(_printable(line, stream), file=stream, flush=True)


def _indexes(job: TransferJob, changed: Sequence[int] | None) -> Sequence[int]:
    """The files to look at in ``job``: those that changed (every one when unknown)."""
    return range(len(job.files)) if changed is None else changed


class _Plain:
    """One line per file finished, and a summary; failures go to stderr at the end."""

    def __init__(self, out: TextIO, *, quiet: bool) -> None:
        self._out = out
        self._quiet = quiet
        self._done: set[int] = set()

    def show(self, job: TransferJob, changed: Sequence[int] | None) -> None:
        """Print the files completed among ``changed`` (indexes; None: every file)."""
        if self._quiet:
            return
        files = job.files
        for index in _indexes(job, changed):
            file = files[index]
            if file.status is TransferFileStatus.COMPLETED and index not in self._done:
                self._done.add(index)
                _say(
                    f"done {file.source_path} -> {file.destination_path} ({_size(file.size)})",
                    self._out,
                )

    def close(self) -> None:
        """Nothing to tear down."""


def _skipped(error: Exception) -> dict[str, str]:
    """What the listing left out, and why: a path that could not be read (an
    ``OSError``), or a remote name that cannot safely become a local path."""
    if isinstance(error, UnsafeRemoteNameError):
        name = error.name if isinstance(error.name, str) and error.name.isprintable() else None
        return {
            "path": name if name is not None else repr(error.name),
            "error": f"{error.reason} (from {error.where})",
        }
    if isinstance(error, HubEntryError):
        path = error.entry.get("path") if isinstance(error.entry, dict) else None
        return {
            "path": path if isinstance(path, str) and path.isprintable() else "?",
            "error": f"{error.reason} (from {error.where})",
        }
    if isinstance(error, OSError):
        path = str(error.filename) if error.filename is not None else "?"
        return {"path": path, "error": error.strerror or str(error)}
    return {"path": "?", "error": str(error) or type(error).__name__}


def _skipped_note(skipped: Sequence[dict[str, str]]) -> str:
    return f", {len(skipped)} skipped (unreadable)" if skipped else ""


class _Json:
    """JSON lines, linear in the job's size: the whole job first and last, and in between
    only what changed (README.rst, "The command line", describes the format)::

        {"event": "created", "job": JOB, "skipped": [...]}
        {"event": "updated", "job": JOB_WITHOUT_FILES, "changed_files": CHANGED}
        {"event": "ended", "job": JOB, "changed_files": CHANGED, "skipped": [...]}

    JOB is ``job.to_dict()``; CHANGED lists ``{"index": i, "file": file.to_dict()}`` for
    each file changed since the line before, by index in ``job["files"]``.
    """

    def __init__(self, out: TextIO, skipped: Sequence[dict[str, str]]) -> None:
        self._out = out
        self._skipped = list(skipped)
        self._first = True

    def show(self, job: TransferJob, changed: Sequence[int] | None) -> None:
        """Print ``job``: whole the first time and once terminal, else its totals and the
        files among ``changed`` (indexes; None: every file)."""
        if self._first:
            self._first = False
            self._write({"event": "created", "job": job.to_dict(), "skipped": self._skipped})
            if not job.status.is_terminal:
                return
            changed = ()  # nothing since the line just written
        files = job.files
        listed = [
            {"index": index, "file": files[index].to_dict()} for index in _indexes(job, changed)
        ]
        if job.status.is_terminal:
            document = {
                "event": "ended",
                "job": job.to_dict(),
                "changed_files": listed,
                "skipped": self._skipped,
            }
        else:
            totals = attrs.evolve(job, files=()).to_dict()
            del totals["files"]
            document = {"event": "updated", "job": totals, "changed_files": listed}
        self._write(document)

    def _write(self, document: dict[str, Any]) -> None:
        # ensure_ascii (the default) escapes every non-ASCII character, an undecodable
        # byte of a name included (as "\\udcNN", which json.loads and os.fsencode undo).
        print(json.dumps(document, sort_keys=True), file=self._out, flush=True)

    def close(self) -> None:
        """Nothing to tear down."""


class _Rich:
    """A rich Progress: a bar for the job (bytes, percentage, speed, ETA) and one per
    file being transferred."""

    def __init__(self, out: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            # markup=False: a file's name is shown as it is, never read as rich markup
            # ("[blink]", "[link=...]" in a name).
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            TaskProgressColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(file=out),
        )
        self._out = out
        self._job_task: Any = None
        self._file_tasks: dict[int, Any] = {}
        self._progress.start()

    def show(self, job: TransferJob, changed: Sequence[int] | None) -> None:
        """Update the job's bar, and the bars of the files among ``changed`` (indexes;
        None: every file): one for each file transferring."""
        progress = job.progress
        description = (
            f"{progress.completed_files + progress.failed_files}/{progress.total_files} files"
        )
        if self._job_task is None:
            self._job_task = self._progress.add_task(description, total=progress.total_bytes)
        self._progress.update(
            self._job_task, description=description, completed=progress.loaded_bytes
        )
        files = job.files
        for index in _indexes(job, changed):
            file = files[index]
            task = self._file_tasks.get(index)
            if file.status is TransferFileStatus.TRANSFERRING:
                if task is None:
                    name = "  " + _printable(_name(file.source_path), self._out)
                    task = self._progress.add_task(name, total=file.size)
                    self._file_tasks[index] = task
                self._progress.update(task, completed=file.loaded)
            elif task is not None:
                self._progress.remove_task(task)
                del self._file_tasks[index]

    def close(self) -> None:
        self._progress.stop()


def _display(
    out: TextIO, *, as_json: bool, quiet: bool, skipped: Sequence[dict[str, str]]
) -> _Plain | _Json | _Rich:
    if as_json:
        return _Json(out, skipped)
    if not quiet and out.isatty():
        try:
            return _Rich(out)
        except ImportError:
            pass  # rich is the "cli" extra: without it, plain lines
    return _Plain(out, quiet=quiet)


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
) -> int:
    """Copy ``files`` (as :func:`plan` lists them) on a queue of ``concurrency`` slots,
    showing the progress on ``out``; return the exit status.

    ``skipped`` names what the listing left out (``{"path": ..., "error": ...}`` each,
    already reported on stderr): it goes into each JSON line and the summary, and makes
    the exit status 1, though every listed file arrived.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    policy = RetryPolicy(max_attempts=retries + 1)
    with _copy_queue(concurrency) as queue:
        display = _display(out, as_json=as_json, quiet=quiet, skipped=skipped)
        job_type = {
            transfer_type_for(file["source_path"], file["destination_path"]) for file in files
        }
        kind = job_type.pop() if len(job_type) == 1 else "cross-storage"
        job_id = queue.queue_job(kind, files, Transfer(overwrite=overwrite), retry=policy)
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

    files = plan(sources, destination, on_error=report)
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
            return _cp(args)
    except _UsageError as exc:  # it may name a source, or quote a listing's entry
        _say(f"transferqueue: error: {exc}", sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as interrupt:  # before the copy started: nothing to clean up
        print("cancelled", file=sys.stderr, flush=True)
        return _interrupted_status(interrupt)
