"""Remote names (S3 keys, hub paths) become paths below the destination, or are refused."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from transferqueue import TransferQueueError
from transferqueue.executors._files.remote_names import (
    UnsafeRemoteNameError,
    join_below,
    relative_parts,
)

HOSTILE = [
    ("/tmp/x", "absolute"),
    ("//tmp/x", "absolute"),
    ("a//b", "empty segment"),
    ("a/", "empty segment"),
    ("", "empty"),
    (".", "'.'"),
    ("..", "'..'"),
    ("a/../../b", "'..'"),
    ("a/./b", "'.'"),
    ("..\\..\\etc\\passwd", "backslash"),
    ("a\\b", "backslash"),
    ("a\x00b", "NUL"),
]


@pytest.mark.parametrize(("name", "reason"), HOSTILE)
def test_hostile_names_are_refused_naming_the_problem(name: str, reason: str) -> None:
    with pytest.raises(UnsafeRemoteNameError) as caught:
        relative_parts(name, where="s3://bucket/prefix")
    message = str(caught.value)
    assert reason in message
    assert repr(name) in message
    assert "s3://bucket/prefix" in message
    assert caught.value.name == name


@pytest.mark.parametrize("name", [None, 3, b"a/b", ["a"]])
def test_a_name_that_is_no_string_is_refused(name: object) -> None:
    with pytest.raises(UnsafeRemoteNameError, match="not a string"):
        relative_parts(name, where="hub")


def test_the_error_is_a_value_error_of_the_library() -> None:
    assert issubclass(UnsafeRemoteNameError, ValueError)
    assert issubclass(UnsafeRemoteNameError, TransferQueueError)


def test_the_error_survives_pickling() -> None:
    """As it crosses a process boundary (a multiprocessing pool, a task queue)."""
    error = UnsafeRemoteNameError("../x", "has a '.' or '..' segment", where="s3://b/p/")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is UnsafeRemoteNameError
    assert (copy.name, copy.reason, copy.where, str(copy)) == (
        error.name,
        error.reason,
        error.where,
        str(error),
    )


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("a", ("a",)),
        ("a/b/c.txt", ("a", "b", "c.txt")),
        ("..a/b..", ("..a", "b..")),  # dots inside a segment are only a name
        (".hidden", (".hidden",)),
        ("sp ace/ü", ("sp ace", "ü")),
    ],
)
def test_ordinary_names_give_their_segments(name: str, parts: tuple[str, ...]) -> None:
    assert relative_parts(name, where="hub") == parts


def test_join_below_keeps_the_result_below_the_root(tmp_path: Path) -> None:
    joined = join_below(tmp_path, "a/b.txt", where="hub")
    assert joined == os.path.join(tmp_path, "a", "b.txt")
    relative = join_below("out", "x", where="hub")
    assert relative == os.path.join("out", "x")


@pytest.mark.parametrize(("name", "_reason"), HOSTILE)
def test_join_below_refuses_what_relative_parts_refuses(
    tmp_path: Path, name: str, _reason: str
) -> None:
    with pytest.raises(UnsafeRemoteNameError):
        join_below(tmp_path, name, where="hub")
