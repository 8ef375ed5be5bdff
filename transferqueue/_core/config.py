"""Configuration from the environment (contract S13).

The environment is input from outside the process: it is read strictly, and a bad value
is refused with a message that names the variable and shows the value, shortened and
escaped (a value can be long, or hold terminal control characters).
"""

from __future__ import annotations

import os

MAX_CONCURRENT_TRANSFERS_ENV = "MAX_CONCURRENT_TRANSFERS"
DEFAULT_MAX_CONCURRENT_TRANSFERS = 2
MAX_CONCURRENT_TRANSFERS_CEILING = 1000
"""The largest limit the variable may set: each running file has a thread of its own,
so a larger value is more likely a typo than a wish (the API takes any limit)."""

# Only ASCII whitespace surrounds a value: str.strip() alone would also take Unicode
# spaces (U+00A0, U+3000) that no shell puts there.
_ASCII_WHITESPACE = " \t\n\r\v\f"
_SHOWN_CHARACTERS = 40  # of a bad value, in the error message


def get_max_concurrent_transfers() -> int:
    """Return the concurrency limit set by ``MAX_CONCURRENT_TRANSFERS``, or 2 when unset.

    The value is a whole number from 1 to 1000 in ASCII decimal digits, with surrounding
    whitespace allowed. Anything else (an empty value, a sign, a point, ``0x10``, Unicode
    digits, a larger number) raises :class:`ValueError` naming the variable and the value.
    """
    raw = os.environ.get(MAX_CONCURRENT_TRANSFERS_ENV)
    if raw is None:
        return DEFAULT_MAX_CONCURRENT_TRANSFERS
    text = raw.strip(_ASCII_WHITESPACE)
    # isascii() first: str.isdigit() also accepts digits such as "²" or "٣" (int() refuses
    # the one and reads the other). Leading zeros are dropped before the digits are counted:
    # int() of a long digit string is slow, and Python 3.11+ refuses it with its own message.
    significant = text.lstrip("0")
    if (
        not (text.isascii() and text.isdigit())
        or not significant
        or len(significant) > len(str(MAX_CONCURRENT_TRANSFERS_CEILING))
        or int(significant) > MAX_CONCURRENT_TRANSFERS_CEILING
    ):
        raise ValueError(
            f"{MAX_CONCURRENT_TRANSFERS_ENV} must be a whole number from 1 to "
            f"{MAX_CONCURRENT_TRANSFERS_CEILING}, got {_shown(raw)}"
        )
    return int(significant)


def _shown(raw: str) -> str:
    """``raw`` as an error message shows it: quoted, escaped, and cut if long."""
    if len(raw) <= _SHOWN_CHARACTERS:
        return repr(raw)
    return f"{raw[:_SHOWN_CHARACTERS]!r}... ({len(raw)} characters)"
