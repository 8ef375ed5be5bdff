"""Checking a local copy against its source (``LocalCopy(checksum=True)``, ``cp
--checksum``): a copy that differs fails the file, names it and both checksums, and
leaves nothing; a copy resumed after a pause is checked whole, its kept bytes included.

A local source whose bytes differ at every read (``/proc/self/io``, the process's I/O
counters, which the copy's own reads move on) stands for a source that changed under the
copy. Each test also shows that without the check the damage goes unnoticed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from transferqueue._cli import main as _cli
from transferqueue.executors import ChecksumMismatchError, LocalCopy, S3Transfer, Transfer

MiB = 1 << 20
# This process's I/O counters: every read of it counts, so no two reads hold the same.
COUNTERS = Path("/proc/self/io")

needs_counters = pytest.mark.skipif(
    not COUNTERS.exists(), reason="needs Linux's /proc with I/O accounting"
)


def _one_file(source: str, destination: str, size: int) -> list[dict[str, Any]]:
    return [{"source_path": source, "destination_path": destination, "size": size}]


def _run(executor: tq.Executor, kind: str, files: list[dict[str, Any]]) -> tq.TransferJob:
    with tq.TransferQueue(1) as queue:
        return queue.wait(queue.queue_job(kind, files, executor), timeout=WAIT)


# -- local copies ----------------------------------------------------------------------


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel-copy", "read-write"])
def test_a_checked_local_copy_arrives_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel: bool
) -> None:
    if not kernel:
        from transferqueue.executors._local import kernel_copy as _kernel_copy

        monkeypatch.setattr(_kernel_copy, "_WAYS", ())
    data = os.urandom(3 * MiB + 11)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    destination = tmp_path / "out" / "copy.bin"
    job = _run(
        LocalCopy(checksum=True, chunk_size=MiB),
        "local-upload",
        _one_file(str(source), str(destination), len(data)),
    )
    assert job.status == "completed", job.files[0].error
    assert destination.read_bytes() == data


@needs_counters
def test_a_local_copy_that_differs_from_its_source_fails_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    destination = tmp_path / "out" / "io"
    job = _run(
        LocalCopy(checksum=True), "local-upload", _one_file(str(COUNTERS), str(destination), 0)
    )
    (file,) = job.files
    assert file.status == "error"
    assert file.error_type == "transferqueue.executors.ChecksumMismatchError"
    assert file.error is not None
    match = re.fullmatch(
        rf"{re.escape(str(destination))}: the copy does not match its source: sha256 "
        r"([0-9a-f]{64}), expected ([0-9a-f]{64}); the copy was removed",
        file.error,
    )
    assert match is not None, file.error
    assert match.group(1) != match.group(2)
    assert list(destination.parent.iterdir()) == []  # no copy, no temporary

    unchecked = _run(LocalCopy(), "local-upload", _one_file(str(COUNTERS), str(destination), 0))
    assert unchecked.status == "completed"  # without the check, nothing noticed


@needs_counters
def test_a_direct_call_raises_the_mismatch_with_both_checksums(tmp_path: Path) -> None:
    destination = tmp_path / "io"
    file = tq.TransferFile(source_path=str(COUNTERS), destination_path=str(destination), size=0)
    with pytest.raises(ChecksumMismatchError) as raised:
        LocalCopy(checksum=True)(file, lambda loaded: None)
    error = raised.value
    assert (error.path, error.algorithm) == (str(destination), "sha256")
    assert error.expected != error.actual
    assert error.actual in str(error)
    assert error.expected in str(error)
    assert isinstance(error, OSError)
    assert tq.RetryPolicy(max_attempts=2).is_transient(error)  # worth another attempt
    assert not destination.exists()


def test_a_checked_copy_reads_the_source_it_cannot_read_as_a_source_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read of the source for the check that fails is reported as the source's."""
    source = tmp_path / "a.bin"
    source.write_bytes(b"abc")
    real = os.pread
    reads = {"count": 0}

    def pread(fd: int, size: int, offset: int) -> bytes:
        reads["count"] += 1
        if reads["count"] == 1:  # the check's first read: the source's
            raise OSError(5, "Input/output error")
        return real(fd, size, offset)

    monkeypatch.setattr(os, "pread", pread)
    file = tq.TransferFile(
        source_path=str(source), destination_path=str(tmp_path / "b.bin"), size=3
    )
    with pytest.raises(OSError, match=r"cannot read source .*a\.bin: Input/output error"):
        LocalCopy(checksum=True)(file, lambda loaded: None)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.bin"]


def test_local_copy_checksum_option() -> None:
    assert LocalCopy(checksum=True).checksum
    assert not LocalCopy().checksum
    with pytest.raises(TypeError, match="checksum must be a bool, not str"):
        LocalCopy(checksum="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="checksum must be a bool, not int"):
        Transfer(checksum=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="checksum must be a bool, not NoneType"):
        S3Transfer(checksum=None)  # type: ignore[arg-type]


@needs_counters
def test_cp_checksum_fails_a_copy_that_differs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    destination = tmp_path / "io"
    assert _cli.main(["cp", "-q", "--checksum", str(COUNTERS), str(destination)]) == 1
    err = capsys.readouterr().err
    assert f"failed {COUNTERS}: {destination}: the copy does not match its source: sha256" in err
    assert not destination.exists()
    assert _cli.main(["cp", "-q", str(COUNTERS), str(destination)]) == 0  # unchecked: copied


def test_cp_checksum_copies_what_matches(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"hello")
    assert _cli.main(["cp", "-q", "--checksum", str(tmp_path / "a.txt"), str(tmp_path / "b")]) == 0
    assert (tmp_path / "b").read_bytes() == b"hello"


# -- a copy paused and resumed ---------------------------------------------------------------

KiB = 1 << 10


def _paused_at(mark: int) -> Any:
    """An ``on_progress`` that raises TransferPaused once ``mark`` bytes are reported,
    as a paused job's does."""

    def on_progress(loaded: int) -> None:
        if loaded >= mark:
            raise tq.TransferPaused("paused")

    return on_progress


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel-copy", "read-write"])
@pytest.mark.parametrize("checksum", [True, False], ids=["checked", "unchecked"])
def test_a_resumed_copy_is_checked_whole_its_kept_bytes_included(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel: bool, checksum: bool
) -> None:
    """Paused, a copy keeps what it wrote; a byte of that which changes while it waits
    (on the disk, say) is found when the resumed copy is checked, since the check reads
    the whole copy, not only what was written after the resumption. Unchecked, the
    damage stays."""
    if not kernel:
        from transferqueue.executors._local import kernel_copy as _kernel_copy

        monkeypatch.setattr(_kernel_copy, "_WAYS", ())
    data = os.urandom(300 * KiB)
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    source.write_bytes(data)
    file = tq.TransferFile(source_path=str(source), destination_path=str(destination), size=0)
    copy = LocalCopy(chunk_size=64 * KiB, checksum=checksum)
    with pytest.raises(tq.TransferPaused):
        copy(file, _paused_at(128 * KiB))
    (kept,) = tmp_path.glob(".dst.bin.*")
    assert kept.stat().st_size == 128 * KiB
    with open(kept, "r+b") as stream:  # the same file, changed in place
        stream.write(bytes([data[0] ^ 0xFF]))
    reported: list[int] = []
    if not checksum:
        copy(file, reported.append)
        copied = destination.read_bytes()
        assert copied[1:] == data[1:]
        assert copied[0] != data[0]
        assert reported[1] == 192 * KiB  # it did go on from the kept bytes
        return
    with pytest.raises(ChecksumMismatchError) as raised:
        copy(file, reported.append)
    assert raised.value.path == str(destination)
    assert reported[1] == 192 * KiB
    assert sorted(path.name for path in tmp_path.iterdir()) == ["src.bin"]  # nothing left


class _PausedInTheCheck:
    """An ``on_progress`` whose job is paused once the copy is written: the check's first
    look (``raise_if_stopped``) raises TransferPaused."""

    def __init__(self) -> None:
        self.values: list[int] = []

    def __call__(self, loaded: int) -> None:
        self.values.append(loaded)

    def raise_if_cancelled(self) -> None:
        """Not cancelled."""

    def raise_if_stopped(self) -> None:
        raise tq.TransferPaused("paused")


def test_a_pause_during_the_check_keeps_the_whole_copy_and_the_resumption_only_checks(
    tmp_path: Path,
) -> None:
    data = os.urandom(300 * KiB)
    source, destination = tmp_path / "src.bin", tmp_path / "dst.bin"
    source.write_bytes(data)
    file = tq.TransferFile(source_path=str(source), destination_path=str(destination), size=0)
    copy = LocalCopy(chunk_size=64 * KiB, checksum=True)
    paused = _PausedInTheCheck()
    with pytest.raises(tq.TransferPaused):
        copy(file, paused)
    assert paused.values[-1] == len(data)  # all copied before the check began
    (kept,) = tmp_path.glob(".dst.bin.*")
    assert kept.stat().st_size == len(data)
    reported: list[int] = []
    copy(file, reported.append)
    assert reported == [0]  # a plain callable's first look: nothing more was copied
    assert destination.read_bytes() == data
    assert sorted(path.name for path in tmp_path.iterdir()) == ["dst.bin", "src.bin"]
