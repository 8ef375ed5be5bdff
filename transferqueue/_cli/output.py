"""What ``transferqueue cp`` prints: the progress (plain lines, JSON lines, or rich bars:
:mod:`.bars`; :mod:`.display` chooses), sizes in binary units, and names and messages
made safe for the output.

Every line that may hold a name goes through :func:`_say` (or :func:`_printable`): a name
is chosen by whoever owns the folder, the bucket or the repository, and may hold bytes
that are not UTF-8 or control characters; printed raw, the one would stop the copy with
a ``UnicodeEncodeError`` and the other drive the terminal. The displays look only at the
files that changed since the snapshot before (``JobWatch.changed_files``), so that a job
of many files costs what changes, not its size per snapshot.
"""

from __future__ import annotations

import json
import re
import textwrap
from typing import TYPE_CHECKING, Any, TextIO

import attrs

from transferqueue._records.enums import TransferFileStatus
from transferqueue.executors._files.remote_names import UnsafeRemoteNameError
from transferqueue.executors._hub.errors import HubEntryError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from transferqueue._records import TransferJob


def _size(size: int) -> str:
    """``size`` bytes in binary units, as every line and bar of the command line shows
    sizes and speeds: ``512 B``, ``1.5 KiB``, ``127.0 MiB`` (1 KiB = 1024 bytes)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _help_text(*paragraphs: str) -> str:
    """``paragraphs`` filled to 78 columns, for a command's ``--help``: its formatter
    (``RawDescriptionHelpFormatter``) keeps the lines it is given, so that the examples
    below stay as written."""
    return "\n\n".join(textwrap.fill(paragraph, 78) for paragraph in paragraphs)


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
    return f", {len(skipped)} skipped" if skipped else ""


def _up_to_date_note(count: int) -> str:
    """The summary's count of the files skipped as up to date (``--compare``), if any:
    said apart from ``skipped``, which counts what could not be read."""
    return f", {count} up to date" if count else ""


class _Json:
    """JSON lines, linear in the job's size: the whole job first and last, and in between
    only what changed (docs/howto/cli.rst describes the format)::

        {"event": "created", "job": JOB, "skipped": [...]}
        {"event": "updated", "job": JOB_WITHOUT_FILES, "changed_files": CHANGED}
        {"event": "ended", "job": JOB, "changed_files": CHANGED, "skipped": [...]}

    JOB is ``job.to_dict()``; CHANGED lists ``{"index": i, "file": file.to_dict()}`` for
    each file changed since the line before, by index in ``job["files"]``. The ``ended``
    line is the last: nothing is printed after it.
    """

    def __init__(self, out: TextIO, skipped: Sequence[dict[str, str]]) -> None:
        self._out = out
        self._skipped = list(skipped)
        self._first = True
        self._ended = False

    def show(self, job: TransferJob, changed: Sequence[int] | None) -> None:
        """Print ``job``: whole the first time and once terminal, else its totals and the
        files among ``changed`` (indexes; None: every file). Once the terminal job was
        printed, nothing more is (an interrupted copy shows its end once more)."""
        if self._ended:
            return
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
            self._ended = True
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
        # One write, line and newline: an interrupt between two would leave a line open.
        self._out.write(json.dumps(document, sort_keys=True) + "\n")
        self._out.flush()

    def close(self) -> None:
        """Nothing to tear down."""
