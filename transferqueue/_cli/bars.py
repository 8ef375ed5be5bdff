"""The command line's progress on a terminal: rich bars (the ``cli`` extra), a bar for the
job and one per file in flight, sizes and speeds in the binary units of every other line
the command prints (:func:`.output._size`): rich's own columns would show decimal
megabytes beside a summary in MiB.

Imported only when rich is to draw (:func:`.display._display`), so that the command
line works without rich.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from transferqueue._records.enums import TransferFileStatus

from .output import _indexes, _printable, _size
from .plan import _name

if TYPE_CHECKING:
    from collections.abc import Sequence

    from transferqueue._records import TransferJob


class _BytesColumn(ProgressColumn):
    """What a bar has transferred of its total: ``12.0 MiB of 127.0 MiB``."""

    def render(self, task: Task) -> Text:
        """The task's bytes done and total."""
        total = "?" if task.total is None else _size(int(task.total))
        return Text(f"{_size(int(task.completed))} of {total}", style="progress.download")


class _SpeedColumn(ProgressColumn):
    """A bar's speed, as rich estimates it: ``2.5 MiB/s``, ``?`` before it can tell."""

    def render(self, task: Task) -> Text:
        """The task's speed per second."""
        speed = task.finished_speed or task.speed
        shown = "?" if speed is None else f"{_size(int(speed))}/s"
        return Text(shown, style="progress.data.speed")


class _Rich:
    """A rich Progress: a bar for the job (bytes, percentage, speed, ETA) and one per
    file being transferred."""

    def __init__(self, out: TextIO) -> None:
        self._progress = Progress(
            # markup=False: a file's name is shown as it is, never read as rich markup
            # ("[blink]", "[link=...]" in a name).
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            TaskProgressColumn(),
            _BytesColumn(),
            _SpeedColumn(),
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
            f"{progress.completed_files + progress.failed_files + progress.skipped_files}"
            f"/{progress.total_files} files"
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
        """Stop drawing: the terminal gets its cursor back."""
        self._progress.stop()
