"""Redis URLs as they may be shown: with the password replaced by ``***``.

A URL names its password in the user part (``redis://user:secret@host``) or in the query
(``?password=secret``, which redis-py also reads); both are hidden wherever this package
shows the URL, in messages and logs alike.
"""

from __future__ import annotations

import urllib.parse

MASK = "***"
_UNPARSABLE = "<a Redis URL that cannot be parsed>"


def _query_fields(query: str) -> list[tuple[str, str, str]]:
    """``(name, separator, value)`` of each ``&``-separated field, as written."""
    return [field.partition("=") for field in query.split("&")] if query else []


def _is_password(name: str) -> bool:
    return urllib.parse.unquote_plus(name).strip().lower() == "password"


def redact_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``; a URL that cannot even be
    split into its parts is not shown at all."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return _UNPARSABLE
    userinfo, at, hostport = parts.netloc.rpartition("@")
    netloc = parts.netloc
    if at:
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}{':' + MASK if colon else ''}@{hostport}"
    query = "&".join(
        f"{name}={MASK}" if _is_password(name) else f"{name}{sep}{value}"
        for name, sep, value in _query_fields(parts.query)
    )
    # Put together by hand: urlunsplit would drop the "//" of "unix:///path".
    head = f"{parts.scheme}:" if parts.scheme else ""
    if url[len(head) :].startswith("//"):
        head += "//"
    shown = head + netloc + parts.path
    if parts.query:
        shown += "?" + query
    if parts.fragment:
        shown += "#" + parts.fragment
    return shown


def url_secrets(url: str) -> tuple[str, ...]:
    """The passwords ``url`` carries, as written and as decoded, to scrub from messages."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return (url,) if url else ()
    found: list[str] = []
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at:
        _, colon, password = userinfo.partition(":")
        if colon:
            found.append(password)
    found.extend(value for name, _, value in _query_fields(parts.query) if _is_password(name))
    variants = {
        text
        for secret in found
        for text in (secret, urllib.parse.unquote(secret), urllib.parse.unquote_plus(secret))
    }
    # Longest first, so that a secret containing another is scrubbed whole.
    return tuple(sorted((text for text in variants if text), key=lambda text: (-len(text), text)))


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every one of ``secrets`` replaced by ``***``."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text
