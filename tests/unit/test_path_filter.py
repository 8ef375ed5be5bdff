"""The glob patterns of :class:`~transferqueue.executors.PathFilter`: ``*`` within a
folder, ``**`` across, ``?``, classes and escapes, excludes winning; bad patterns refused
by name; hostile patterns and names matched in time bounded by their lengths."""

from __future__ import annotations

import time

import pytest

from tests.helpers.file_lists import PATTERN_PATHS as PATHS
from transferqueue.executors import PathFilter


def kept(path_filter: PathFilter) -> list[str]:
    return [path for path in PATHS if path_filter.matches(path)]


# --- the patterns --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # Unanchored: matched at the end of the path, from a "/" on.
        ("*.txt", ["a.txt", "sub/c.txt", "sub/deeper/d.txt", "other/sub/f.txt", "x[1].txt"]),
        ("c.txt", ["sub/c.txt"]),
        ("deeper/*", ["sub/deeper/d.txt", "sub/deeper/e.bin"]),
        # "*" stays within a folder; "**" goes across.
        ("sub/*", ["sub/c.txt", "other/sub/f.txt"]),
        ("sub/**", ["sub/c.txt", "sub/deeper/d.txt", "sub/deeper/e.bin", "other/sub/f.txt"]),
        # Anchored at the source by a leading "/".
        ("/sub/**", ["sub/c.txt", "sub/deeper/d.txt", "sub/deeper/e.bin"]),
        ("/*.txt", ["a.txt", "x[1].txt"]),
        ("/**.bin", ["b.bin", "sub/deeper/e.bin"]),
        ("/**/d.txt", ["sub/deeper/d.txt"]),
        # One character, classes, escapes.
        ("?.txt", ["a.txt", "sub/c.txt", "sub/deeper/d.txt", "other/sub/f.txt"]),
        ("[a-c].*", ["a.txt", "b.bin", "sub/c.txt"]),
        ("[!a-c].txt", ["sub/deeper/d.txt", "other/sub/f.txt"]),
        ("[^a-c].txt", ["sub/deeper/d.txt", "other/sub/f.txt"]),
        ("x\\[1\\].txt", ["x[1].txt"]),
        ("x[[]1].txt", ["x[1].txt"]),
        ("*\\*", []),
        # A complete name only: "txt" is no file's whole name.
        ("txt", []),
        ("***.bin", ["b.bin", "sub/deeper/e.bin"]),
    ],
)
def test_pattern_semantics(pattern: str, expected: list[str]) -> None:
    """``*`` within a folder, ``**`` across folders, ``?``, classes and escapes; a
    pattern without a leading ``/`` matches the end of the path from a ``/`` on."""
    assert kept(PathFilter(include=[pattern])) == expected
    assert kept(PathFilter(exclude=[pattern])) == [p for p in PATHS if p not in expected]


def test_excludes_win_over_includes_whatever_their_order() -> None:
    """A file is kept when it matches no exclude and, with includes, one of them."""
    both = PathFilter(include=["*.txt", "*.bin"], exclude=["/sub/**"])
    assert kept(both) == ["a.txt", "b.bin", "other/sub/f.txt", "x[1].txt"]
    assert PathFilter(exclude=["/sub/**"], include=["*.txt"]).matches("sub/c.txt") is False
    assert kept(PathFilter()) == PATHS
    assert not PathFilter()
    assert PathFilter(exclude=["x"])
    assert PathFilter(include=("a",), exclude=["b"]).include == ("a",)
    assert PathFilter(include=("a",), exclude=["b"]).exclude == ("b",)
    assert repr(PathFilter(include=["a"])) == "PathFilter(include=['a'], exclude=[])"


def test_character_class_details() -> None:
    """A ``]`` first in a class and a ``-`` at its end are characters; a class never
    matches ``/``; a range may be escaped."""
    assert PathFilter(include=["[]x]"]).matches("]")
    assert PathFilter(include=["[a-]"]).matches("-")
    assert not PathFilter(include=["a[!x]b"]).matches("a/b")
    assert not PathFilter(include=["a?b"]).matches("a/b")
    assert PathFilter(include=["[\\]-\\^]"]).matches("^")
    assert PathFilter(include=["[\\a]"]).matches("a")


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "empty pattern"),
        ("logs/", "ends with '/'"),
        ("a[bc", "without its ']'"),
        ("a[b\\", "lone"),
        ("a[b-\\", "lone"),
        ("a\\", "lone"),
        ("*.{jpg,png}", "alternatives"),
        ("[z-a]", "empty range"),
    ],
)
def test_bad_patterns_are_refused_by_name(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PathFilter(exclude=[pattern])


def test_bad_pattern_arguments() -> None:
    with pytest.raises(TypeError, match="include must be an iterable of patterns, not str"):
        PathFilter(include="*.txt")
    with pytest.raises(TypeError, match="exclude must be an iterable of patterns, not int"):
        PathFilter(exclude=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="patterns must be str, not bytes"):
        PathFilter(include=[b"*.txt"])  # type: ignore[list-item]


def test_hostile_patterns_and_names_cost_what_their_lengths_do() -> None:
    """A pattern that makes a backtracking matcher exponential (``*a*a*...b`` against a
    long run of ``a``), and names holding the pattern characters, NUL, newlines, lone
    surrogates: matched correctly, and within a fraction of a second."""
    hostile = PathFilter(include=["*a*a*a*a*a*a*a*a*a*a*a*a*b", "**a**a**a**a**a**a**b"])
    name = "a" * 4000
    started = time.monotonic()
    assert not hostile.matches(name)
    assert not hostile.matches("a/" * 2000)
    assert hostile.matches(name + "b")
    assert time.monotonic() - started < 5  # exponential would be years
    odd = ["*", "[", "\\", "a\x00b", "line\nbreak", "caf\udce9", "../../etc/passwd", "{a,b}"]
    everything = PathFilter(include=["**"])
    starred = PathFilter(include=["\\*"])
    for path in odd:
        assert everything.matches(path)
        assert starred.matches(path) is (path == "*")
    assert PathFilter(include=["*\\{a,b\\}"]).matches("{a,b}")
    assert PathFilter(exclude=["/**/passwd"]).matches("../../etc/passwd") is False
