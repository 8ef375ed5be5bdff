"""The destination folders a writer knows to exist, so that its next file there skips the
folder's creation and its sweep for stale temporaries.

Copying many small files into few folders, making sure of the folder (``mkdir``, then a
``stat`` when it exists) and asking the sweep about it cost more than the file itself on
a fast file system. A :class:`KnownFolders` remembers each folder made or found, and
swept, for as long as :mod:`._temporaries` waits before sweeping a folder again. A
remembered folder that was removed or replaced meanwhile is noticed when the temporary
file cannot be created in it; the writer then forgets it and makes sure of it again.
"""

from __future__ import annotations

import time

from . import temporaries as _temporaries

__all__ = ["KnownFolders"]

# Beyond this many folders the memory starts afresh (a copy into more folders makes each
# one once more, which is correct, only slower).
_REMEMBERED = 4096


class KnownFolders:
    """Folders known to exist and swept recently, by their path as written.

    No lock: each method makes one dict operation, which is atomic in CPython (and takes
    the dict's own lock in free-threaded builds), so many writer threads share one
    instance without waiting for each other. A race makes at most two threads make sure
    of one folder at once, which is harmless: creating a folder that exists is allowed,
    and the sweep runs once per folder by its own account.
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}  # folder -> time.monotonic() when made sure of

    def knows(self, folder: str) -> bool:
        """Whether ``folder`` was made sure of less than the sweep's interval ago."""
        seen = self._seen.get(folder)
        return seen is not None and time.monotonic() - seen < _temporaries._RESWEEP_SECONDS

    def learn(self, folder: str) -> None:
        """Remember that ``folder`` exists and was swept, now."""
        if len(self._seen) >= _REMEMBERED:
            self._seen.clear()
        self._seen[folder] = time.monotonic()

    def forget(self, folder: str) -> None:
        """Forget ``folder`` (it turned out to be gone or no folder)."""
        self._seen.pop(folder, None)
