"""The Hugging Face executor's partial file: owned by one download, never followed through a
link, resumed only when the server proves it has the same file, checked on disk at the end.

Before, two downloads of one file into one destination corrupted it silently; a link
planted as the partial file made the download write through it; a planted or stale partial
was resumed as it was; an LFS file was checked over the bytes received, not over the file on
disk; a destination name of 235-255 bytes always failed. Every test runs against the fake hub
on 127.0.0.1; concurrent downloads meet on its ``Stall`` Events.
"""

from __future__ import annotations

import email.utils
import errno
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from tests.helpers.fake_hub import (
    CONFIG,
    TRAIN,
    WEIGHTS,
    FakeProgress,
    RunningHub,
    Stall,
    Validators,
    assert_file,
    partials,
    run,
    sample_hub,
    start_hub,
)
from transferqueue.executors import (
    FileBusyError,
    HubChecksumError,
    HuggingFaceDownload,
)
from transferqueue.executors._files.file_lock import open_locked
from transferqueue.executors._hub import partial as _hub_partial
from transferqueue.executors._hub.partial import (
    PARTIAL_SUFFIX,
    RECORD_SUFFIX,
    OwnedPartial,
    ResumeRecord,
)

TRAIN_URL = "hf://datasets/owner/data/train.csv"
CONFIG_URL = "hf://owner/model/config.json"
WEIGHTS_URL = "hf://owner/model/weights.bin"


@pytest.fixture
def hub() -> Iterator[RunningHub]:
    yield from start_hub(sample_hub())


def record_of(part: Path) -> Path:
    """Where the resume record of the partial file ``part`` is kept."""
    return part.with_name(part.name[: -len(PARTIAL_SUFFIX)] + RECORD_SUFFIX)


def validator(kind: Validators, content: bytes) -> str:
    """The validator the fake hub gives ``content`` (as its _validators does)."""
    digest = hashlib.sha1(content).hexdigest()
    if kind == "etag":
        return f'"{digest}"'
    return email.utils.formatdate(1_600_000_000 + int(digest[:6], 16), usegmt=True)


def plant(part: Path, data: bytes, if_range: str | None) -> None:
    """A partial file, and a record vouching for it with ``if_range`` (None: no record)."""
    part.write_bytes(data)
    if if_range is not None:
        record_of(part).write_text(json.dumps({"if_range": if_range, "sha256": None}))


def in_thread(call: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    """Run ``call`` in a started thread; what it raises lands in the list."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, errors


# --- one owner -----------------------------------------------------------------------------


def test_a_second_download_of_the_same_file_finds_it_busy(hub: RunningHub, tmp_path: Path) -> None:
    """While a download holds its partial file (stalled mid-file by the server), a second
    download of the same file into the same destination fails at once with FileBusyError
    naming the partial file, without a request and without touching it; the first then
    completes, whole."""
    stall = Stall(path="train.csv", after=20_000, resume=True)
    hub.hub.stall = stall
    dest = tmp_path / "train.csv"
    first = HuggingFaceDownload(endpoint=hub.url, chunk_size=4096, timeout=WAIT)
    thread, errors = in_thread(lambda: run(first, TRAIN_URL, dest, len(TRAIN)))
    assert stall.reached.wait(WAIT)
    second = HuggingFaceDownload(endpoint=hub.url, timeout=1)
    with pytest.raises(FileBusyError) as caught:
        run(second, TRAIN_URL, dest, len(TRAIN))
    part = second.partial_path(dest, TRAIN_URL)
    assert caught.value.errno == errno.EBUSY
    assert caught.value.filename == str(part)
    assert "another download" in str(caught.value)
    assert str(dest) in str(caught.value)
    # Documented: an OSError the default policy retries (by then the first has finished).
    assert tq.RetryPolicy().is_transient(caught.value)
    assert len(hub.hub.seen()) == 1
    stall.release.set()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert errors == []
    assert_file(dest, TRAIN)
    assert partials(tmp_path) == []


def test_a_job_naming_one_file_twice_downloads_it_once(hub: RunningHub, tmp_path: Path) -> None:
    """A job (say, from a listing) naming the same file and destination twice: the two run
    at once; one holds the partial file and completes, the other fails as busy, and the
    file on disk is whole."""
    stall = Stall(path="train.csv", after=20_000, resume=True)
    hub.hub.stall = stall
    dest = tmp_path / "train.csv"
    mapping = {"source_path": TRAIN_URL, "destination_path": str(dest), "size": len(TRAIN)}
    one_failed = threading.Event()

    def on_update(sender: object, *, job: tq.TransferJob, **extra: object) -> None:
        if any(f.status is tq.TransferFileStatus.ERROR for f in job.files):
            one_failed.set()

    executor = HuggingFaceDownload(endpoint=hub.url, timeout=WAIT)
    with (
        tq.TransferQueue(2, retry=tq.NO_RETRY, update_interval=0) as q,
        tq.job_updated.connected_to(on_update, q),
    ):
        job_id = q.queue_job("huggingface", [mapping, dict(mapping)], executor)
        assert stall.reached.wait(WAIT)
        assert one_failed.wait(WAIT)  # the other one, while the first held the partial
        stall.release.set()
        job = q.wait(job_id, timeout=WAIT)
    assert sorted(f.status.value for f in job.files) == ["completed", "error"]
    (error,) = [f.error for f in job.files if f.error]
    assert "another download" in error
    assert_file(dest, TRAIN)
    assert partials(tmp_path) == []
    assert len(hub.hub.seen()) == 1


def test_a_partial_taken_over_between_open_and_lock_is_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The owner of a partial file may move it into place (or remove it) between another
    download's open and its lock: the name then leads elsewhere, and the latecomer does
    not write into the file it opened (now the destination)."""
    path = tmp_path / f".x.abc{PARTIAL_SUFFIX}"
    path.write_bytes(b"finished")
    real = open_locked

    def open_while_the_owner_finishes(target: Path, flags: int, mode: int = 0o666) -> int:
        fd = real(target, flags, mode)
        os.rename(target, tmp_path / "x")  # the owner moved it into place meanwhile
        return fd

    monkeypatch.setattr(_hub_partial, "open_locked", open_while_the_owner_finishes)
    with pytest.raises(FileBusyError, match="taken over"):
        OwnedPartial.take(path)
    assert (tmp_path / "x").read_bytes() == b"finished"


def test_a_partial_created_by_another_meanwhile_is_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partial file found missing, then made by another download before this one could
    create it, is that download's: busy."""
    path = tmp_path / f".x.abc{PARTIAL_SUFFIX}"
    real = open_locked

    def open_while_another_creates(target: Path, flags: int, mode: int = 0o666) -> int:
        if not flags & os.O_CREAT:
            target.write_bytes(b"theirs")  # made by the other download just after our look
            raise FileNotFoundError(errno.ENOENT, "no such file", str(target))
        return real(target, flags, mode)

    monkeypatch.setattr(_hub_partial, "open_locked", open_while_another_creates)
    with pytest.raises(FileBusyError, match="created by another"):
        OwnedPartial.take(path)
    assert path.read_bytes() == b"theirs"


# --- links and other files on the partial's name -------------------------------------------


@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-file", "dangling"])
def test_a_link_planted_as_the_partial_file_is_not_followed(
    hub: RunningHub, tmp_path: Path, dangling: bool
) -> None:
    """A symbolic link planted at the partial file's name (even with a record vouching for
    a resume) is removed, not followed: its target is neither written nor created, and the
    destination is a regular file with the right bytes, downloaded from byte 0."""
    target = tmp_path / "elsewhere" / "precious"
    target.parent.mkdir()
    if not dangling:
        target.write_bytes(b"precious")
    dest = tmp_path / "out" / "config.json"
    dest.parent.mkdir()
    executor = HuggingFaceDownload(endpoint=hub.url)
    part = executor.partial_path(dest, CONFIG_URL)
    part.symlink_to(target)
    record_of(part).write_text(json.dumps({"if_range": validator("etag", CONFIG), "sha256": None}))
    run(executor, CONFIG_URL, dest)
    assert not dest.is_symlink()
    assert_file(dest, CONFIG)
    if dangling:
        assert not target.exists()
    else:
        assert target.read_bytes() == b"precious"
    assert sorted(dest.parent.iterdir()) == [dest]  # no partial file, no record
    assert [r.range for r in hub.hub.seen()] == [None]


def test_a_fifo_on_the_partial_name_is_replaced(hub: RunningHub, tmp_path: Path) -> None:
    """A FIFO at the partial file's name is neither opened for ever nor written to."""
    dest = tmp_path / "config.json"
    executor = HuggingFaceDownload(endpoint=hub.url)
    os.mkfifo(executor.partial_path(dest, CONFIG_URL))
    run(executor, CONFIG_URL, dest)
    assert_file(dest, CONFIG)
    assert list(tmp_path.iterdir()) == [dest]


def test_a_folder_on_the_partial_name_fails_the_download(hub: RunningHub, tmp_path: Path) -> None:
    """A folder at the partial file's name is not removed: the download fails naming it."""
    dest = tmp_path / "config.json"
    executor = HuggingFaceDownload(endpoint=hub.url)
    folder = executor.partial_path(dest, CONFIG_URL)
    folder.mkdir()
    with pytest.raises(IsADirectoryError) as caught:
        run(executor, CONFIG_URL, dest)
    assert caught.value.filename == str(folder)
    assert folder.is_dir()
    assert hub.hub.seen() == []


def test_a_link_planted_as_the_record_is_not_trusted_nor_followed(
    hub: RunningHub, tmp_path: Path
) -> None:
    """A resume record reached through a link is no proof (the partial starts again), and
    the new record replaces the link without writing through it."""
    dest = tmp_path / "train.csv"
    executor = HuggingFaceDownload(endpoint=hub.url)
    part = executor.partial_path(dest, TRAIN_URL)
    plant(part, TRAIN[:5000], None)
    vouching = tmp_path / "vouching.json"
    vouching.write_text(json.dumps({"if_range": validator("etag", TRAIN), "sha256": None}))
    record_of(part).symlink_to(vouching)
    hub.hub.break_after["train.csv"] = 1000  # so that a record is written, and kept
    with pytest.raises(ConnectionError):
        run(executor, TRAIN_URL, dest)
    assert [r.range for r in hub.hub.seen()] == [None]
    assert not record_of(part).is_symlink()
    assert json.loads(vouching.read_text())["if_range"] == validator("etag", TRAIN)
    run(executor, TRAIN_URL, dest)
    assert_file(dest, TRAIN)


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_link_planted_at_the_destination_is_never_written_through(
    hub: RunningHub, tmp_path: Path, overwrite: bool
) -> None:
    """A dangling link at the destination's own name: refused as an existing destination,
    or with ``overwrite`` replaced by the file; its target is never created."""
    elsewhere = tmp_path / "elsewhere"
    dest = tmp_path / "config.json"
    dest.symlink_to(elsewhere)
    executor = HuggingFaceDownload(endpoint=hub.url, overwrite=overwrite)
    if overwrite:
        run(executor, CONFIG_URL, dest)
        assert not dest.is_symlink()
        assert_file(dest, CONFIG)
    else:
        with pytest.raises(FileExistsError):
            run(executor, CONFIG_URL, dest)
        assert dest.is_symlink()
    assert not elsewhere.exists()
    assert partials(tmp_path) == []


# --- resume only what the server proves unchanged ------------------------------------------


def test_a_planted_partial_without_a_record_is_not_resumed(hub: RunningHub, tmp_path: Path) -> None:
    """A regular partial file with wrong bytes and nothing to vouch for it (planted, or
    left by an older version) is not resumed: the file comes whole from byte 0."""
    dest = tmp_path / "train.csv"
    executor = HuggingFaceDownload(endpoint=hub.url)
    plant(executor.partial_path(dest, TRAIN_URL), b"#" * 5000, None)
    run(executor, TRAIN_URL, dest)
    assert_file(dest, TRAIN)
    assert [r.range for r in hub.hub.seen()] == [None]


def test_a_planted_partial_with_a_wrong_validator_comes_whole(
    hub: RunningHub, tmp_path: Path
) -> None:
    """A partial file whose record names another validator is asked for with If-Range: the
    server sends the whole file (200), which replaces the partial's bytes."""
    dest = tmp_path / "train.csv"
    executor = HuggingFaceDownload(endpoint=hub.url)
    plant(executor.partial_path(dest, TRAIN_URL), b"#" * 5000, '"not-this-file"')
    run(executor, TRAIN_URL, dest)
    assert_file(dest, TRAIN)
    ((asked, condition),) = [(r.range, r.if_range) for r in hub.hub.seen()]
    assert (asked, condition) == ("bytes=5000-", '"not-this-file"')


@pytest.mark.parametrize(
    "record",
    [
        b"not json",
        b"[]",
        b'{"if_range": null, "sha256": null}',
        b'{"if_range": "\\"a\\"\\r\\nX-Injected: 1", "sha256": null}',
        b'{"if_range": 5, "sha256": null}',
        b'{"if_range": null, "sha256": "not-a-sha256"}',
        b'{"if_range": "\\"a\\"", "sha256": null, "more": 1}',
        b'{"if_range": "' + b"a" * 5000 + b'", "sha256": null}',
        b"[" * 100_000,
    ],
    ids=[
        "not-json",
        "not-an-object",
        "no-proof",
        "header-injection",
        "not-a-string",
        "bad-sha256",
        "other-keys",
        "too-long",
        "too-deep",
    ],
)
def test_a_record_that_is_not_ours_whole_and_valid_proves_nothing(
    hub: RunningHub, tmp_path: Path, record: bytes
) -> None:
    """A resume record that is not one of ours, whole and valid (planted or half-written)
    is ignored: the partial file starts again, and no header is built from it."""
    dest = tmp_path / "train.csv"
    executor = HuggingFaceDownload(endpoint=hub.url)
    part = executor.partial_path(dest, TRAIN_URL)
    plant(part, TRAIN[:5000], None)
    record_of(part).write_bytes(record)
    run(executor, TRAIN_URL, dest)
    assert_file(dest, TRAIN)
    assert [(r.range, r.if_range) for r in hub.hub.seen()] == [(None, None)]
    assert list(tmp_path.iterdir()) == [dest]


@pytest.mark.parametrize("kind", ["etag", "last-modified"])
def test_a_resume_asks_if_range_and_continues_the_same_file(
    hub: RunningHub, tmp_path: Path, kind: Validators
) -> None:
    """After a broken connection, the next attempt asks for the rest with If-Range set to
    the validator the first reply gave (its strong ETag, else Last-Modified); the server's
    file is the same, so it answers 206 and the part is continued."""
    hub.hub.validators = kind
    hub.hub.break_after["train.csv"] = 5000
    dest = tmp_path / "train.csv"
    executor = HuggingFaceDownload(endpoint=hub.url)
    with pytest.raises(ConnectionError):
        run(executor, TRAIN_URL, dest)
    progress = run(executor, TRAIN_URL, dest)
    assert_file(dest, TRAIN)
    assert progress.values[0] == 5000
    first, second = hub.hub.seen()
    assert (first.range, first.if_range) == (None, None)
    assert (second.range, second.if_range) == ("bytes=5000-", validator(kind, TRAIN))
    assert list(tmp_path.iterdir()) == [dest]


@pytest.mark.parametrize("kind", ["etag", "last-modified"])
def test_a_file_changed_on_the_hub_comes_whole_instead(
    hub: RunningHub, tmp_path: Path, kind: Validators
) -> None:
    """If the file changed on the server between two attempts, If-Range makes the server
    send the whole new file (200), which replaces the part: no mix of two versions."""
    hub.hub.validators = kind
    hub.hub.break_after["train.csv"] = 5000
    dest = tmp_path / "train.csv"
    executor = HuggingFaceDownload(endpoint=hub.url)
    with pytest.raises(ConnectionError):
        run(executor, TRAIN_URL, dest)
    changed = TRAIN.replace(b"1", b"7")  # as long, other bytes
    hub.hub.repos[("dataset", "owner/data")]["train.csv"] = changed
    progress = run(executor, TRAIN_URL, dest)
    assert_file(dest, changed)
    assert progress.values[-1] == len(changed)
    second = hub.hub.seen()[1]
    assert (second.range, second.if_range) == ("bytes=5000-", validator(kind, TRAIN))


@pytest.mark.parametrize("kind", ["weak-etag", "none"])
def test_without_a_validator_a_broken_download_starts_again(
    hub: RunningHub, tmp_path: Path, kind: Validators
) -> None:
    """A file whose server gives no validator usable with If-Range (a weak ETag, none) and
    no sha256 cannot be proven unchanged: its part is not kept, and the next attempt
    starts from byte 0."""
    hub.hub.validators = kind
    hub.hub.break_after["train.csv"] = 5000
    dest = tmp_path / "train.csv"
    executor = HuggingFaceDownload(endpoint=hub.url)
    with pytest.raises(ConnectionError):
        run(executor, TRAIN_URL, dest)
    assert list(tmp_path.iterdir()) == []
    run(executor, TRAIN_URL, dest)
    assert_file(dest, TRAIN)
    assert [r.range for r in hub.hub.seen()] == [None, None]


def test_an_lfs_part_resumes_on_its_sha256_alone(hub: RunningHub, tmp_path: Path) -> None:
    """An LFS file from a CDN without validators: its sha256 (from the hub's redirect)
    proves the file the same, and the resumed file is checked against it on disk."""
    hub.hub.validators = "none"
    hub.hub.break_after["weights.bin"] = 100_000
    dest = tmp_path / "weights.bin"
    executor = HuggingFaceDownload(endpoint=hub.url)
    with pytest.raises(ConnectionError):
        run(executor, WEIGHTS_URL, dest)
    run(executor, WEIGHTS_URL, dest)
    assert_file(dest, WEIGHTS)
    assert [(r.range, r.if_range) for r in hub.hub.seen("cdn")] == [
        (None, None),
        ("bytes=100000-", None),
    ]


def test_an_lfs_file_replaced_on_the_hub_is_not_resumed(hub: RunningHub, tmp_path: Path) -> None:
    """If the hub announces another sha256 than the part was started with, the server's
    206 for the rest is not appended: the file is asked for again from byte 0."""
    hub.hub.validators = "none"
    hub.hub.break_after["weights.bin"] = 100_000
    dest = tmp_path / "weights.bin"
    executor = HuggingFaceDownload(endpoint=hub.url)
    with pytest.raises(ConnectionError):
        run(executor, WEIGHTS_URL, dest)
    replaced = os.urandom(len(WEIGHTS))
    hub.hub.repos[("model", "owner/model")]["weights.bin"] = replaced
    run(executor, WEIGHTS_URL, dest)
    assert_file(dest, replaced)
    assert [r.range for r in hub.hub.seen("cdn")] == [None, "bytes=100000-", None]


def test_a_partial_longer_than_the_file_starts_again(hub: RunningHub, tmp_path: Path) -> None:
    """A partial file longer than the file (416 for its Range) is emptied and the file
    asked for whole."""
    dest = tmp_path / "config.json"
    executor = HuggingFaceDownload(endpoint=hub.url)
    plant(executor.partial_path(dest, CONFIG_URL), CONFIG + b"extra", validator("etag", CONFIG))
    run(executor, CONFIG_URL, dest)
    assert_file(dest, CONFIG)
    assert [r.range for r in hub.hub.seen()] == [f"bytes={len(CONFIG) + 5}-", None]


def test_a_header_value_unfit_for_if_range_is_not_remembered() -> None:
    """A validator that could not be sent back as a header proves nothing."""
    assert ResumeRecord.from_reply('"caf\u00e9"', None, None) is None
    assert ResumeRecord.from_reply('W/"weak"', "x" * 600, None) is None
    assert ResumeRecord.from_reply('W/"weak"', " Tue, 1 Dec 2026 ", None) == ResumeRecord(
        "Tue, 1 Dec 2026", None
    )


# --- the file on disk is what is checked ---------------------------------------------------


def stalled_download(
    hub: RunningHub, tmp_path: Path, name: str, source: str
) -> tuple[Stall, threading.Thread, list[BaseException], Path]:
    """A download of ``source`` stalled by the server after 20,000 bytes, resumed when the
    test releases it, once at least 12,000 bytes are in the partial file (progress counts
    bytes written to it, every 4 KiB); and its partial file."""
    stall = Stall(path=name, after=20_000, resume=True)
    hub.hub.stall = stall
    executor = HuggingFaceDownload(endpoint=hub.url, chunk_size=4096, timeout=WAIT)
    dest = tmp_path / name
    progress = FakeProgress()
    file = tq.TransferFile(source, str(dest), 0)
    thread, errors = in_thread(lambda: executor(file, cast(tq.ProgressCallback, progress)))
    assert stall.reached.wait(WAIT)
    progress.wait_for(12_000)
    return stall, thread, errors, executor.partial_path(dest, source)


def test_an_lfs_file_is_checked_as_it_is_on_disk(hub: RunningHub, tmp_path: Path) -> None:
    """The sha256 of an LFS file is taken over the file on disk at the end, not over the
    bytes received: bytes spoiled on disk during the download fail it, and nothing is
    left."""
    stall, thread, errors, part = stalled_download(hub, tmp_path, "weights.bin", WEIGHTS_URL)
    with open(part, "r+b") as spoil:
        spoil.write(bytes(16))  # bytes the download wrote already, and will not write again
    stall.release.set()
    thread.join(WAIT)
    assert [type(e) for e in errors] == [HubChecksumError]
    assert list(tmp_path.iterdir()) == []


def test_only_the_hub_vouches_for_an_lfs_files_sha256(hub: RunningHub, tmp_path: Path) -> None:
    """The sha256 an LFS file is checked against is the one the hub
    announced (``X-Linked-Etag`` on its redirect), not one the CDN it redirects to sends
    with its reply: a CDN serving bytes of its own, with their sha256, fails the check
    and leaves nothing. Before, the CDN's header replaced the hub's."""
    hub.hub.cdn_swap = b"not the weights" * 1000
    dest = tmp_path / "weights.bin"
    with pytest.raises(HubChecksumError, match=hashlib.sha256(WEIGHTS).hexdigest()):
        run(HuggingFaceDownload(endpoint=hub.url), WEIGHTS_URL, dest, len(hub.hub.cdn_swap))
    assert list(tmp_path.iterdir()) == []


def test_a_partial_grown_on_disk_fails_the_download(hub: RunningHub, tmp_path: Path) -> None:
    """A file without sha256 is checked by its size on disk at the end: a partial file
    another writer (not a download: it would find the file busy) made longer is
    discarded."""
    stall, thread, errors, part = stalled_download(hub, tmp_path, "train.csv", TRAIN_URL)
    os.truncate(part, 2 * len(TRAIN))  # longer than the file, whatever was written yet
    stall.release.set()
    thread.join(WAIT)
    assert [type(e) for e in errors] == [ConnectionError]
    assert "holds" in str(errors[0])
    assert list(tmp_path.iterdir()) == []


def test_a_partial_replaced_during_the_download_is_not_moved_into_place(
    hub: RunningHub, tmp_path: Path
) -> None:
    """If the partial file's name leads to another file at the end (replaced under the
    download), that file is neither moved into place nor removed."""
    stall, thread, errors, part = stalled_download(hub, tmp_path, "train.csv", TRAIN_URL)
    part.rename(tmp_path / "moved-away")
    part.write_bytes(b"someone else's")
    stall.release.set()
    thread.join(WAIT)
    assert [type(e) for e in errors] == [ConnectionError]
    assert "replaced" in str(errors[0])
    assert not (tmp_path / "train.csv").exists()
    assert part.read_bytes() == b"someone else's"


# --- long names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["n" * 251 + ".bin", "n" + "\u00e9" * 125 + ".bin"],
    ids=["ascii", "cut-inside-a-character"],
)
def test_a_255_byte_name_downloads_and_resumes(hub: RunningHub, tmp_path: Path, name: str) -> None:
    """A destination name of 255 bytes (the usual limit): the partial file's name is cut
    (at a whole character) to fit, the download resumes and completes; two names alike in
    their first 234 bytes still get different partial files."""
    assert len(os.fsencode(name)) == 255
    dest = tmp_path / name
    executor = HuggingFaceDownload(endpoint=hub.url)
    part = executor.partial_path(dest, TRAIN_URL)
    assert len(os.fsencode(part.name)) <= 255
    part.name.encode()  # whole characters only
    hub.hub.break_after["train.csv"] = 5000
    with pytest.raises(ConnectionError):
        run(executor, TRAIN_URL, dest)
    assert part.read_bytes() == TRAIN[:5000]
    run(executor, TRAIN_URL, dest)
    assert_file(dest, TRAIN)
    assert [r.range for r in hub.hub.seen()] == [None, "bytes=5000-"]
    twin = tmp_path / (name[:-5] + "m.bin")
    assert executor.partial_path(twin, TRAIN_URL) != part


# --- pausing ---------------- ----------------------------------------------------------


def test_a_paused_download_keeps_its_part_and_resumes_by_range(
    hub: RunningHub, tmp_path: Path
) -> None:
    """Paused mid-file through a queue, the download keeps its partial file; resumed, it
    asks only for the bytes after it (Range, If-Range): the file arrives whole, and no
    byte the first attempt wrote is asked for again."""
    from tests.helpers.job_waits import wait_for_job

    chunk = 4096
    hub.hub.stall = Stall("train.csv", after=4 * chunk, resume=True)
    dest = tmp_path / "train.csv"
    executor = HuggingFaceDownload(endpoint=hub.url, chunk_size=chunk)
    files = [{"source_path": TRAIN_URL, "destination_path": str(dest), "size": len(TRAIN)}]
    with tq.TransferQueue(1) as queue:
        job_id = queue.queue_job("huggingface", files, executor)
        assert hub.hub.stall.reached.wait(WAIT)
        wait_for_job(queue, job_id, lambda job: job.files[0].loaded >= 2 * chunk)
        queue.pause_job(job_id)
        hub.hub.stall.release.set()  # the next chunk's report says: pause

        def stopped(job: tq.TransferJob) -> bool:
            return job.files[0].status is tq.TransferFileStatus.QUEUED

        paused = wait_for_job(queue, job_id, stopped)
        (part,) = partials(tmp_path)
        kept = part.stat().st_size
        assert paused.files[0].loaded <= kept < len(TRAIN)
        assert not dest.exists()
        queue.resume_job(job_id)
        done = queue.wait(job_id, timeout=WAIT)
    assert done.status is tq.TransferStatus.COMPLETED
    assert_file(dest, TRAIN)
    first, second = hub.hub.seen()
    assert first.range is None
    assert (second.range, second.if_range) == (f"bytes={kept}-", validator("etag", TRAIN))
    assert list(tmp_path.iterdir()) == [dest]


def test_a_download_paused_while_the_hub_sends_nothing_stops_at_once(
    hub: RunningHub, tmp_path: Path
) -> None:
    """The hub stalls mid-body; the job is paused: the download notices while it waits
    for bytes (not at its next chunk, which is not coming), keeps its part and gives its
    slot back; resumed, it asks for the rest."""
    from tests.helpers.job_waits import wait_for_job

    chunk = 4096
    hub.hub.stall = Stall("train.csv", after=4 * chunk)  # hangs up once released
    dest = tmp_path / "train.csv"
    executor = HuggingFaceDownload(endpoint=hub.url, chunk_size=chunk)
    files = [{"source_path": TRAIN_URL, "destination_path": str(dest), "size": len(TRAIN)}]
    with tq.TransferQueue(1) as queue:
        job_id = queue.queue_job("huggingface", files, executor)
        assert hub.hub.stall.reached.wait(WAIT)
        wait_for_job(queue, job_id, lambda job: job.files[0].loaded >= 2 * chunk)
        queue.pause_job(job_id)
        paused = wait_for_job(
            queue, job_id, lambda job: job.files[0].status is tq.TransferFileStatus.QUEUED
        )
        hub.hub.stall.release.set()
        hub.hub.stall = None
        (part,) = partials(tmp_path)
        kept = part.stat().st_size
        assert paused.files[0].loaded <= kept
        queue.resume_job(job_id)
        done = queue.wait(job_id, timeout=WAIT)
    assert done.status is tq.TransferStatus.COMPLETED
    assert_file(dest, TRAIN)
    assert hub.hub.seen()[1].range == f"bytes={kept}-"


def _paused_download(
    queue: tq.TransferQueue, hub: RunningHub, tmp_path: Path, *, wrapped: bool = False
) -> str:
    """Queue train.csv, pause it mid-body; its job's id, once its partial file and
    record are kept. ``wrapped``: the download is handed a stand-in around the queue's
    on_progress, which has its checks but no ``call_on_cancel``."""
    from tests.helpers.job_waits import wait_for_job

    chunk = 4096
    hub.hub.stall = Stall("train.csv", after=4 * chunk, resume=True)
    dest = tmp_path / "train.csv"
    download = HuggingFaceDownload(endpoint=hub.url, chunk_size=chunk)

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        if wrapped:
            on_progress = cast(tq.ProgressCallback, Wrapped(on_progress))
        download(file, on_progress)

    files = [{"source_path": TRAIN_URL, "destination_path": str(dest), "size": len(TRAIN)}]
    job_id = queue.queue_job("huggingface", files, executor)
    assert hub.hub.stall.reached.wait(WAIT)
    wait_for_job(queue, job_id, lambda job: job.files[0].loaded >= 2 * chunk)
    queue.pause_job(job_id)
    hub.hub.stall.release.set()  # the next chunk's report says: pause
    wait_for_job(queue, job_id, lambda job: job.files[0].status is tq.TransferFileStatus.QUEUED)
    (part,) = partials(tmp_path)
    assert record_of(part).exists()
    return job_id


class Wrapped:
    """An application's wrapper of on_progress: the bytes and the checks passed on, but
    not the job (no ``job_id``, no ``call_on_cancel``)."""

    def __init__(self, on_progress: tq.ProgressCallback) -> None:
        self.on_progress = on_progress

    def __call__(self, loaded: int) -> None:
        self.on_progress(loaded)

    def __getattr__(self, name: str) -> Any:
        if name in ("job_id", "call_on_cancel"):
            raise AttributeError(name)
        return getattr(self.on_progress, name)


@pytest.mark.parametrize("wrapped", [False, True], ids=["on_progress", "wrapped"])
def test_cancelling_a_paused_download_removes_its_part_and_record(
    hub: RunningHub, tmp_path: Path, wrapped: bool
) -> None:
    """A paused job that is cancelled never resumes: the cancel removes the partial file
    and its record before cancel_job returns (handed a wrapper of on_progress too)."""
    with tq.TransferQueue(1) as queue:
        job_id = _paused_download(queue, hub, tmp_path, wrapped=wrapped)
        assert queue.cancel_job(job_id)
        assert list(tmp_path.iterdir()) == []
        assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.CANCELLED


def test_a_shutdown_removes_the_part_of_a_paused_download(hub: RunningHub, tmp_path: Path) -> None:
    queue = tq.TransferQueue(1)
    try:
        _paused_download(queue, hub, tmp_path)
    finally:
        queue.shutdown()
    assert list(tmp_path.iterdir()) == []


def test_a_resumed_download_takes_back_what_the_cancel_would_remove(
    hub: RunningHub, tmp_path: Path
) -> None:
    """Paused, resumed and completed, a file's partial is no longer the job's: a later
    cancel of the job (another of its files still running) leaves alone the partial
    file that another download of the same file keeps there by then."""
    from tests.helpers.job_waits import wait_for_job

    chunk = 4096
    hub.hub.stall = Stall("train.csv", after=4 * chunk, resume=True)
    dest = tmp_path / "train.csv"
    download = HuggingFaceDownload(endpoint=hub.url, chunk_size=chunk, overwrite=True)
    blocking = threading.Event()

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        if file.source_path == TRAIN_URL:
            download(file, on_progress)
            return
        blocking.set()
        assert on_progress.wait_cancelled(WAIT)
        on_progress(0)  # raises TransferCancelled

    files = [
        {"source_path": TRAIN_URL, "destination_path": str(dest), "size": len(TRAIN)},
        {"source_path": "blocker", "destination_path": str(tmp_path / "b"), "size": 1},
    ]
    with tq.TransferQueue(1) as queue:
        job_id = queue.queue_job("huggingface", files, executor)
        assert hub.hub.stall.reached.wait(WAIT)
        wait_for_job(queue, job_id, lambda job: job.files[0].loaded >= 2 * chunk)
        queue.pause_job(job_id)
        hub.hub.stall.release.set()  # the next chunk's report says: pause
        wait_for_job(queue, job_id, lambda job: job.files[0].status is tq.TransferFileStatus.QUEUED)
        queue.resume_job(job_id)
        assert blocking.wait(WAIT)  # the first file is done, the second runs
        assert_file(dest, TRAIN)
        part = HuggingFaceDownload.partial_path(dest, TRAIN_URL)
        plant(part, b"abc", '"v"')  # as another job's paused download of it keeps it
        assert queue.cancel_job(job_id)
        assert queue.wait(job_id, timeout=WAIT).status is tq.TransferStatus.CANCELLED
    assert part.read_bytes() == b"abc"
    assert record_of(part).exists()


def test_a_cancel_leaves_a_part_another_download_holds(tmp_path: Path) -> None:
    """The cancel of a paused download finds its partial file held by another download
    (of the same file into the same destination): that one owns it, nothing is removed;
    nor is anything when the partial is gone, or another kind of file took its name."""
    part = tmp_path / ".train.csv.tag.hfpart"
    plant(part, b"abc", '"v"')
    fd = open_locked(part, os.O_RDWR)
    try:
        _hub_partial.discard_partial(part)
        assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
            [part.name, record_of(part).name]
        )
    finally:
        os.close(fd)
    _hub_partial.discard_partial(part)
    assert list(tmp_path.iterdir()) == []
    _hub_partial.discard_partial(part)  # gone already: nothing to do
    part.mkdir()
    _hub_partial.discard_partial(part)
    assert part.is_dir()


def test_a_cancel_leaves_a_part_moved_into_place_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The partial file was moved into place by its owner between the cancel's open and
    lock: the name leads elsewhere, and the file opened (now the destination) stays."""
    part = tmp_path / f".x.abc{PARTIAL_SUFFIX}"
    part.write_bytes(b"finished")
    real = open_locked

    def open_while_the_owner_finishes(target: Path, flags: int, mode: int = 0o666) -> int:
        fd = real(target, flags, mode)
        os.rename(target, tmp_path / "x")
        return fd

    monkeypatch.setattr(_hub_partial, "open_locked", open_while_the_owner_finishes)
    _hub_partial.discard_partial(part)
    assert [path.name for path in tmp_path.iterdir()] == ["x"]
    assert (tmp_path / "x").read_bytes() == b"finished"
