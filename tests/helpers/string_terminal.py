"""An in-memory output stream that passes for a terminal."""

from __future__ import annotations

import io


class Terminal(io.StringIO):
    """A stream that says it is a terminal, so the rich progress is used."""

    def isatty(self) -> bool:
        return True
