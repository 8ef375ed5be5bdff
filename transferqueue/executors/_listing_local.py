"""Listing a local file or folder as the file mappings ``queue_job`` takes."""

from __future__ import annotations

import os
import stat


def list_local_files(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
) -> list[dict[str, object]]:
    """Return the files to copy from ``source`` to ``destination``, for ``queue_job``.

    Each item is a new mapping ``{"source_path", "destination_path", "size"}`` (paths as
    ``str``, ``size`` in bytes as listed now), ready for
    ``queue.queue_job("local-upload", files, LocalCopy())``.

    - ``source`` a file (or a symlink to one): one mapping, whose destination is
      ``destination`` itself (the file's new path, not a folder to put it in).
    - ``source`` a folder (or a symlink to one): every regular file below it, at any
      depth, sorted by relative path; each lands at the same relative path under
      ``destination``, as ``cp -r source destination`` does when ``destination`` does not
      exist. An empty folder gives an empty list (and empty sub-folders are not copied).

    Below a source folder, symlinks to files are followed (the file they point to is
    listed, under the link's name); symlinks to folders are not descended into (this
    keeps a link cycle from listing forever) and are left out, as are broken symlinks and
    anything else that is not a regular file (FIFOs, sockets, devices).

    Raises ``FileNotFoundError`` if ``source`` does not exist, ``OSError`` (for example
    ``PermissionError``) for a folder below it that cannot be read, and ``OSError`` if
    ``source`` is neither a file nor a folder.
    """
    source_path = os.fspath(source)
    destination_path = os.fspath(destination)
    info = os.stat(source_path)  # FileNotFoundError names the missing path
    if stat.S_ISREG(info.st_mode):
        return [
            {"source_path": source_path, "destination_path": destination_path, "size": info.st_size}
        ]
    if not stat.S_ISDIR(info.st_mode):
        raise OSError(f"{source_path} is neither a regular file nor a folder")
    found: list[tuple[str, int]] = []
    _walk(source_path, "", found)
    found.sort()
    return [
        {
            "source_path": os.path.join(source_path, relative),
            "destination_path": os.path.join(destination_path, relative),
            "size": size,
        }
        for relative, size in found
    ]


def _walk(folder: str, prefix: str, found: list[tuple[str, int]]) -> None:
    """Append ``(relative path, size)`` for each regular file below ``folder``."""
    with os.scandir(folder) as entries:
        for entry in entries:
            relative = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                _walk(entry.path, relative + os.sep, found)
                continue
            try:
                info = entry.stat()  # follows a symlink to its file
            except FileNotFoundError:
                continue  # a broken symlink, or a file deleted while listing
            if stat.S_ISREG(info.st_mode):
                found.append((relative, info.st_size))
