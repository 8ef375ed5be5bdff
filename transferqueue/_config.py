"""Configuration from the environment (contract S13)."""

from __future__ import annotations

import os

MAX_CONCURRENT_TRANSFERS_ENV = "MAX_CONCURRENT_TRANSFERS"
DEFAULT_MAX_CONCURRENT_TRANSFERS = 2


def get_max_concurrent_transfers() -> int:
    """Return the concurrency limit set by ``MAX_CONCURRENT_TRANSFERS``, or 2 when unset.

    Surrounding whitespace is allowed. Any other value than a decimal integer ≥ 1
    (an empty one included) raises :class:`ValueError` naming the variable.
    """
    raw = os.environ.get(MAX_CONCURRENT_TRANSFERS_ENV)
    if raw is None:
        return DEFAULT_MAX_CONCURRENT_TRANSFERS
    text = raw.strip()
    # isascii() first: str.isdigit() also accepts digits such as "²" that int() rejects.
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ValueError(f"{MAX_CONCURRENT_TRANSFERS_ENV} must be an integer >= 1, got {raw!r}")
    return int(text)
