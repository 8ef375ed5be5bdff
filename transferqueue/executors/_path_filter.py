"""Include and exclude patterns: which files below a source a listing keeps.

The patterns are rclone's globs, matched against a file's path relative to the source
(``/``-separated, whatever the operating system):

- ``*`` matches any run of characters but ``/`` (within one folder name or file name),
  ``**`` any run of characters, ``/`` included (across folders), ``?`` one character but
  ``/``, ``[abc]``, ``[a-z]``, ``[!a-z]`` (or ``[^a-z]``) one character of a class (never
  ``/``), and ``\\c`` the character ``c`` itself (``\\*``, ``\\[``, ``\\\\``).
- A pattern that starts with ``/`` is anchored at the source: ``/a.txt`` matches
  ``a.txt`` only, not ``sub/a.txt``. Any other pattern matches the end of the path from
  a ``/`` on: ``a.txt`` matches ``a.txt`` and ``sub/a.txt`` but not ``ba.txt``;
  ``sub/**`` matches everything below any folder ``sub``.

A file is kept when it matches no exclude pattern and, if any include pattern is given,
at least one of them: excludes win, whatever the order they came in (docs/howto/sync.rst
compares this with rclone and aws-cli).

Matching costs at most the pattern's length times the path's, however the two are built
(a name is chosen by whoever owns the bucket or the repository, and a pattern such as
``*a*a*a*a*b`` makes a backtracking matcher exponential): the matcher follows the set of
positions the pattern may have reached, never backtracks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

_LITERAL = 0
_ONE = 1  # one character but "/", of a class (or any, for "?")
_STAR = 2  # "*": any run of characters but "/"
_GLOBSTAR = 3  # "**": any run of characters

# (kind, value): the text of a _LITERAL, the test of a _ONE, None for the stars.
_Token = tuple[int, Any]


class PathFilter:
    """Which relative paths a listing keeps: those that match none of ``exclude`` and, if
    ``include`` is not empty, one of ``include``. Excludes win, whatever the order of the
    patterns.

    The patterns are rclone's globs, matched against a file's path relative to the
    source, ``/``-separated on every system: ``*`` matches any run of characters but
    ``/``, ``**`` any run of characters (across folders), ``?`` one character but ``/``,
    ``[abc]``, ``[a-z]`` and ``[!a-z]`` (or ``[^a-z]``) one character of a class (never
    ``/``), and ``\\c`` the character ``c`` itself. A pattern that starts with ``/`` is
    anchored at the source (``/a.txt`` matches ``a.txt`` only); any other matches the end
    of the path from a ``/`` on (``a.txt`` matches ``a.txt`` and ``sub/a.txt``, not
    ``ba.txt``; ``cache/**`` everything below any folder ``cache``). Matching costs at
    most the pattern's length times the path's, whatever either holds.

    Raises ``TypeError`` when ``include`` or ``exclude`` is a single string or holds
    something that is not one, and ``ValueError`` naming the pattern for a pattern that is
    empty, ends with ``/`` (write ``folder/**``), or holds an unclosed ``[``, a trailing
    ``\\`` or a ``{`` (rclone's alternatives, not supported: give several patterns).
    """

    __slots__ = ("_exclude", "_excluders", "_include", "_includers")

    def __init__(self, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> None:
        self._include = _patterns(include, "include")
        self._exclude = _patterns(exclude, "exclude")
        self._includers = [_compile(pattern) for pattern in self._include]
        self._excluders = [_compile(pattern) for pattern in self._exclude]

    @property
    def include(self) -> tuple[str, ...]:
        """The include patterns, as given."""
        return self._include

    @property
    def exclude(self) -> tuple[str, ...]:
        """The exclude patterns, as given."""
        return self._exclude

    def __bool__(self) -> bool:
        """False when the filter keeps everything (no pattern at all)."""
        return bool(self._include or self._exclude)

    def __repr__(self) -> str:
        return f"PathFilter(include={list(self._include)!r}, exclude={list(self._exclude)!r})"

    def matches(self, path: str) -> bool:
        """Whether the file at ``path`` (relative to the source, ``/``-separated) is kept."""
        if any(match(path) for match in self._excluders):
            return False
        return not self._includers or any(match(path) for match in self._includers)


def path_filter(include: Iterable[str], exclude: Iterable[str]) -> PathFilter | None:
    """The listing helpers' ``include`` and ``exclude`` as a :class:`PathFilter`, checked
    at once; None when both are empty (every file kept, nothing to match)."""
    made = PathFilter(include, exclude)
    return made if made else None


def _patterns(patterns: Iterable[str], name: str) -> tuple[str, ...]:
    if isinstance(patterns, (str, bytes)) or not isinstance(patterns, Iterable):
        raise TypeError(f"{name} must be an iterable of patterns, not {type(patterns).__name__}")
    found = tuple(patterns)
    for pattern in found:
        if not isinstance(pattern, str):
            raise TypeError(f"{name} patterns must be str, not {type(pattern).__name__}")
    return found


def _compile(pattern: str) -> Callable[[str], bool]:
    """The matcher of one pattern: a function of a relative path."""
    if not pattern:
        raise ValueError("an empty pattern matches nothing: leave it out")
    if pattern.endswith("/"):
        raise ValueError(
            f"pattern {pattern!r} ends with '/': patterns match files; "
            f"write {pattern + '**'!r} for every file below a folder"
        )
    anchored = pattern.startswith("/")
    tokens = _tokens(pattern[1:] if anchored else pattern, pattern)

    def match(path: str) -> bool:
        if anchored:
            starts = {0}
        else:  # the end of the path, from a "/" on: after each "/", or at its start
            starts = {0}
            starts.update(index + 1 for index, char in enumerate(path) if char == "/")
        return _match(tokens, path, starts)

    return match


def _tokens(text: str, pattern: str) -> list[_Token]:
    tokens: list[_Token] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            tokens.append((_LITERAL, "".join(literal)))
            literal.clear()

    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            if index + 1 == len(text):
                raise ValueError(f"pattern {pattern!r} ends with a lone '\\'")
            literal.append(text[index + 1])
            index += 2
            continue
        if char in "{}":
            raise ValueError(
                f"pattern {pattern!r} holds {char!r}: alternatives ({{a,b}}) are not "
                "supported; give one pattern each, or write \\{ for the character"
            )
        if char == "*":
            flush()
            if text.startswith("**", index):  # "**", "***", ...: one run of any characters
                while index < len(text) and text[index] == "*":
                    index += 1
                tokens.append((_GLOBSTAR, None))
                continue
            tokens.append((_STAR, None))
            index += 1
            continue
        if char == "?":
            flush()
            tokens.append((_ONE, _anything))
            index += 1
            continue
        if char == "[":
            flush()
            test, index = _character_class(text, index, pattern)
            tokens.append((_ONE, test))
            continue
        literal.append(char)
        index += 1
    flush()
    return tokens


def _anything(char: str) -> bool:
    return True


def _character_class(text: str, start: int, pattern: str) -> tuple[Callable[[str], bool], int]:
    """The test of the class that opens at ``text[start]`` (``[``), and the index after
    its ``]``."""
    index = start + 1
    negated = index < len(text) and text[index] in "!^"
    if negated:
        index += 1
    singles: set[str] = set()
    ranges: list[tuple[str, str]] = []
    first = True
    while True:
        if index >= len(text):
            raise ValueError(f"pattern {pattern!r} has a '[' without its ']'")
        char = text[index]
        if char == "]" and not first:
            index += 1
            break
        first = False
        if char == "\\":
            if index + 1 == len(text):
                raise ValueError(f"pattern {pattern!r} ends with a lone '\\'")
            char = text[index + 1]
            index += 1
        index += 1
        if index + 1 < len(text) and text[index] == "-" and text[index + 1] != "]":
            high = text[index + 1]
            if high == "\\":
                if index + 2 == len(text):
                    raise ValueError(f"pattern {pattern!r} ends with a lone '\\'")
                high = text[index + 2]
                index += 1
            if high < char:
                raise ValueError(f"pattern {pattern!r} has the empty range {char}-{high}")
            ranges.append((char, high))
            index += 2
        else:
            singles.add(char)
    frozen = frozenset(singles)
    bounds = tuple(ranges)

    def test(candidate: str) -> bool:
        inside = candidate in frozen or any(low <= candidate <= high for low, high in bounds)
        return inside != negated

    return test, index


def _match(tokens: list[_Token], path: str, starts: set[int]) -> bool:
    """Whether ``tokens`` match ``path`` from one of ``starts`` to its end: the set of
    positions reached, token by token (at most ``len(path) + 1`` of them each)."""
    end = len(path)
    positions = starts
    for kind, value in tokens:
        if not positions:
            return False
        if kind == _LITERAL:
            size = len(value)
            positions = {at + size for at in positions if path.startswith(value, at)}
        elif kind == _ONE:
            positions = {
                at + 1 for at in positions if at < end and path[at] != "/" and value(path[at])
            }
        elif kind == _STAR:
            reached: set[int] = set()
            for at in sorted(positions):
                if at in reached:
                    continue  # within a run already reached: nothing new from here
                stop = path.find("/", at)
                reached.update(range(at, end + 1 if stop < 0 else stop + 1))
            positions = reached
        else:
            positions = set(range(min(positions), end + 1))
    return end in positions
