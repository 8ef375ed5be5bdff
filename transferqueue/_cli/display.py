"""How a command shows a job's progress: the display chosen for its output (JSON lines,
rich bars on a terminal when the ``cli`` extra is installed, or plain lines)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TextIO

from .output import _Json, _Plain

if TYPE_CHECKING:
    from collections.abc import Sequence

    from transferqueue._records import TransferJob


class _Display(Protocol):
    """What shows a job's progress: plain lines, JSON lines or rich bars."""

    def show(self, job: TransferJob, changed: Sequence[int] | None) -> None:
        """Show ``job``, whose files at the indexes ``changed`` changed since the snapshot
        shown before (None: every file may have)."""

    def close(self) -> None:
        """Stop showing; nothing is shown after."""


def _display(
    out: TextIO, *, as_json: bool, quiet: bool, skipped: Sequence[dict[str, str]]
) -> _Display:
    if as_json:
        return _Json(out, skipped)
    if not quiet and out.isatty():
        try:
            from .bars import _Rich
        except ImportError:
            pass  # rich is the "cli" extra: without it, plain lines
        else:
            return _Rich(out)
    return _Plain(out, quiet=quiet)
