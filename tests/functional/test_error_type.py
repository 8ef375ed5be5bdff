"""The kind of a failed file's error, ``TransferFile.error_type``, and how it is named.

A built-in exception is named bare, any other by module and qualified name, the library's
own by the package they are exported from. Reading a name or a message must never raise,
whatever the exception's class does.
"""

from __future__ import annotations

import json
import ssl
from typing import Any

import pytest

import transferqueue as tq
from tests.conftest import WAIT, make_files
from transferqueue._core.failure import Failure, describe_error, error_type_name


class Outer:
    class InnerError(Exception):
        """A nested class: its qualified name has a dot of its own."""


class OddText(str):
    """A str subclass whose truth value raises, as a __str__ may return."""

    def __bool__(self) -> bool:
        raise SystemExit("from __bool__")


class OddStrError(Exception):
    def __str__(self) -> str:
        return OddText("odd")


class NumberedModuleError(Exception):
    __module__ = 42  # type: ignore[assignment]


def class_without_module() -> type[BaseException]:
    """A class made where no ``__name__`` is defined: it has no ``__module__`` at all."""
    namespace: dict[str, Any] = {"__builtins__": __builtins__}
    exec("Orphan = type('OrphanError', (Exception,), {})", namespace)
    orphan: type[BaseException] = namespace["Orphan"]
    return orphan


@pytest.mark.parametrize(
    ("cls", "expected"),
    [
        (FileExistsError, "FileExistsError"),
        (TimeoutError, "TimeoutError"),
        (KeyboardInterrupt, "KeyboardInterrupt"),
        (ssl.SSLCertVerificationError, "ssl.SSLCertVerificationError"),
        (json.JSONDecodeError, "json.decoder.JSONDecodeError"),
        (Outer.InnerError, "tests.functional.test_error_type.Outer.InnerError"),
        (tq.TransferCancelled, "transferqueue.TransferCancelled"),
        (tq.QueueShutdownError, "transferqueue.QueueShutdownError"),
        (NumberedModuleError, "NumberedModuleError"),
        (class_without_module(), "OrphanError"),
    ],
)
def test_error_type_names(cls: type[BaseException], expected: str) -> None:
    """Built-ins bare, others by module and qualified name; a class whose module is
    missing or not a str by its qualified name alone."""
    assert error_type_name(cls) == expected


def test_the_executors_and_redis_errors_are_named_where_they_are_exported() -> None:
    """Each public exception of ``transferqueue.executors`` and ``transferqueue.redis``
    is named by that package, not by the private module that defines it, so that an
    ``error_type`` stays the same when the modules move; and each is found there under
    that name (pickle finds it the same way)."""
    import transferqueue.executors
    import transferqueue.redis

    for package in (transferqueue.executors, transferqueue.redis):
        errors = [
            getattr(package, name)
            for name in package.__all__
            if name.endswith("Error") and name in vars(package)
        ]
        assert errors
        for cls in errors:
            assert error_type_name(cls) == f"{package.__name__}.{cls.__name__}"


def test_error_type_names_are_shared() -> None:
    """Files failing with one kind share one string, not a copy each (memory)."""
    for cls in (OSError, Outer.InnerError):
        assert error_type_name(cls) is error_type_name(cls)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (OSError("disk full"), Failure("disk full", "OSError")),
        (ValueError(), Failure("ValueError", "ValueError")),
        (OddStrError(), Failure("odd", "tests.functional.test_error_type.OddStrError")),
    ],
)
def test_describe_error(exc: BaseException, expected: Failure) -> None:
    """The message is str(exc) as an exact str, or the class name where it is empty."""
    failure = describe_error(exc)
    assert failure == expected
    assert type(failure.message) is str


def test_a_failed_files_kind_in_a_real_queue(queue: tq.TransferQueue) -> None:
    """A failed file records its error's kind with its message; a completed one neither,
    and the snapshot's JSON carries it (``error_type``, ``errorType``)."""

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        if file.source_path == "src/file-1":
            raise Outer.InnerError("nested")

    job = queue.wait(queue.queue_job("s3-upload", make_files(2), executor), timeout=WAIT)
    assert [(f.error, f.error_type) for f in job.files] == [
        (None, None),
        ("nested", "tests.functional.test_error_type.Outer.InnerError"),
    ]
    assert (
        job.to_dict()["files"][1]["error_type"]
        == "tests.functional.test_error_type.Outer.InnerError"
    )
    camel = job.to_dict(camel_case=True)["files"]
    assert "errorType" not in camel[0]
    assert camel[1]["errorType"] == "tests.functional.test_error_type.Outer.InnerError"


def test_every_file_of_a_cancelled_job_has_the_cancelled_kind(queue: tq.TransferQueue) -> None:
    """S9: the files a cancel ends, running or waiting, are of the kind TransferCancelled."""
    job_id = queue.queue_job("s3-upload", make_files(3), lambda f, p: p.wait_cancelled(WAIT))
    assert queue.cancel_job(job_id)
    job = queue.wait(job_id, timeout=WAIT)
    assert {(f.error, f.error_type) for f in job.files} == {
        ("Cancelled by user", "transferqueue.TransferCancelled")
    }
