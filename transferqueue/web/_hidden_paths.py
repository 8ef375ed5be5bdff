"""What the routes send with ``hide_paths=True``: each file's name instead of its paths.

A job's JSON names every file by its full source and destination path, which on a server
tells a visitor how its disks are laid out (``/srv/app/uploads/...``). With
``hide_paths=True`` each file's ``source_path`` and ``destination_path`` become the last
component of the path (``/srv/in/a.bin`` and ``s3://bucket/k/a.bin`` both give ``a.bin``),
so a page can still show what is being copied. The file's ``error`` says which path failed
(``cannot read source /srv/in/a.bin: ...``, with the folder that failed after ``at``): in
it, the file's two paths become their names too, and the folders above them ``…``.
Whatever else an executor writes into its message is sent as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from transferqueue._records.records import TransferFile, TransferJob

_SEPARATORS = "/\\"
HIDDEN_FOLDER = "…"
"""What a folder above a file becomes in its error message."""


def file_name(path: str) -> str:
    """The last component of ``path``, after its last ``/`` or ``\\``."""
    trimmed = path.rstrip(_SEPARATORS)
    cut = max(trimmed.rfind("/"), trimmed.rfind("\\"))
    return trimmed[cut + 1 :]


def folders(path: str) -> Iterator[str]:
    """The folders above ``path`` that contain a separator, deepest first.

    ``/srv/in/a.bin`` gives ``/srv/in`` and ``/srv``; ``s3://bucket/k/a.bin`` gives
    ``s3://bucket/k`` and ``s3://bucket``. A single component (``dst`` of ``dst/a``, the
    root, the ``s3:/`` of a URL) names no place on the server and is not given.
    """
    while True:
        cut = max(path.rfind("/"), path.rfind("\\"))
        path = path[:cut] if cut > 0 else ""
        if not path or path[-1] in _SEPARATORS:
            return
        if not any(separator in path for separator in _SEPARATORS):
            return
        yield path


def hidden_error(file: TransferFile, error: str) -> str:
    """``error`` with ``file``'s paths replaced by their names, the folders above by ``…``."""
    paths = (file.source_path, file.destination_path)
    for path in paths:
        error = error.replace(path, file_name(path))
    # Longest first, so that a deeper folder goes whole rather than as its parent plus a rest.
    for folder in sorted({f for path in paths for f in folders(path)}, key=len, reverse=True):
        error = error.replace(folder, HIDDEN_FOLDER)
    return error


def hide_paths(job: TransferJob, data: dict[str, Any], *, camel_case: bool) -> None:
    """Replace the paths in ``data``, the new dict of ``job.to_dict(camel_case=...)``."""
    for file, file_data in zip(job.files, data["files"], strict=True):
        hide_file_paths(file, file_data, camel_case=camel_case)


def hide_file_paths(file: TransferFile, data: dict[str, Any], *, camel_case: bool) -> None:
    """Replace the paths in ``data``, the new dict of ``file.to_dict(camel_case=...)``."""
    source_key, destination_key = (
        ("sourcePath", "destinationPath") if camel_case else ("source_path", "destination_path")
    )
    data[source_key] = file_name(file.source_path)
    data[destination_key] = file_name(file.destination_path)
    if file.error is not None:
        data["error"] = hidden_error(file, file.error)
