"""The Hugging Face executor's HTTP client against every way a server may frame a reply.

Issue 10 ("Hugging Face downloads fail against servers that close the connection"): with an
HTTP/1.0 reply, ``Connection: close`` or a body without a length, ``http.client`` lets go of
the socket when it hands the reply over, and a reader of its own on that socket waited on a
dead descriptor. Every test here runs against the fake hub on 127.0.0.1, its bodies (files
and tree pages) in several writes spaced by pauses longer than the client's poll interval,
so that each reply is read across several waits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

import transferqueue as tq
from tests.conftest import WAIT
from tests.helpers.fake_hub import (
    CONFIG,
    SUB_A,
    SUB_B,
    TRAIN,
    WEIGHTS,
    FakeProgress,
    Framing,
    RunningHub,
    Stall,
    assert_file,
    partials,
    run,
    sample_hub,
    start_hub,
)
from transferqueue.executors import (
    HubError,
    HubRequestError,
    HubSizeError,
    HuggingFaceDownload,
    list_hf_files,
)
from transferqueue.executors._hub.http import MAX_REDIRECTS, POLL_INTERVAL

FRAMINGS: list[Framing] = ["length", "close", "http10", "chunked"]
TRAIN_URL = "hf://datasets/owner/data/train.csv"
PAUSE = 3 * POLL_INTERVAL  # between the writes of a body: the client waits through each


@pytest.fixture
def hub() -> Iterator[RunningHub]:
    yield from start_hub(sample_hub())


def paced(hub: RunningHub, framing: Framing, pieces: int) -> None:
    hub.hub.framing = framing
    hub.hub.pieces = pieces
    hub.hub.pause = PAUSE


@pytest.mark.parametrize("framing", FRAMINGS)
def test_download_in_every_framing(hub: RunningHub, tmp_path: Path, framing: Framing) -> None:
    """A file from the hub, and an LFS file from the CDN (sha256-checked), arrive whole
    whatever the framing of their bodies, written in pieces with pauses between them."""
    paced(hub, framing, pieces=4)
    executor = HuggingFaceDownload(endpoint=hub.url, chunk_size=4096, timeout=WAIT)
    train = tmp_path / "train.csv"
    progress = run(executor, "hf://datasets/owner/data/train.csv", train, len(TRAIN))
    assert_file(train, TRAIN)
    assert progress.values[-1] == len(TRAIN)
    weights = tmp_path / "weights.bin"
    run(executor, "hf://owner/model/weights.bin", weights, len(WEIGHTS))
    assert_file(weights, WEIGHTS)
    assert partials(tmp_path) == []


@pytest.mark.parametrize("framing", FRAMINGS)
def test_listing_in_every_framing(hub: RunningHub, tmp_path: Path, framing: Framing) -> None:
    """Every page of a paginated tree arrives whole whatever its framing, its JSON in
    several writes with pauses, and its Link header is followed."""
    paced(hub, framing, pieces=3)
    hub.hub.page_size = 2
    mappings = list_hf_files("hf://owner/model", tmp_path, endpoint=hub.url, timeout=WAIT)
    assert [(m["source_path"], m["size"]) for m in mappings] == [
        ("hf://owner/model@main/config.json", len(CONFIG)),
        ("hf://owner/model@main/sub/a.txt", len(SUB_A)),
        ("hf://owner/model@main/sub/deeper/b.txt", len(SUB_B)),
        ("hf://owner/model@main/weights.bin", len(WEIGHTS)),
    ]
    assert len([r for r in hub.hub.seen() if "/tree/" in r.path]) == 3  # 6 entries, 2 a page


@pytest.mark.parametrize("framing", ["http10", "chunked"])
def test_cancel_while_a_server_without_length_says_nothing(
    hub: RunningHub, tmp_path: Path, framing: Framing
) -> None:
    """A cancel reaches a download whose server (a body ending with the connection, or
    chunked) stopped sending mid-file, long before the timeout; nothing is left."""
    hub.hub.framing = framing
    stall = Stall(path="train.csv", after=20_000)
    hub.hub.stall = stall
    dest = tmp_path / "train.csv"
    progress = FakeProgress()
    file = tq.TransferFile("hf://datasets/owner/data/train.csv", str(dest), len(TRAIN))
    errors: list[BaseException] = []

    def target() -> None:
        try:
            HuggingFaceDownload(endpoint=hub.url, chunk_size=4096, timeout=3 * WAIT)(
                file, cast(tq.ProgressCallback, progress)
            )
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    progress.wait_for(12_000)  # bytes after those that came with the headers arrived
    assert stall.reached.wait(WAIT)
    progress.cancel.set()
    thread.join(WAIT)
    assert not thread.is_alive(), "the cancel waited for the timeout"
    assert [type(e) for e in errors] == [tq.TransferCancelled]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("framing", ["close", "http10"])
def test_silent_closing_server_times_out_and_the_part_resumes(
    hub: RunningHub, tmp_path: Path, framing: Framing
) -> None:
    """A server that stops sending a body that would end with the connection cannot hang
    the download: TimeoutError after ``timeout`` (a stretch without data), the part kept,
    and the next call resumes it, with If-Range.

    The short timeout can count only the stall's silence: the client's checks between
    reads wait until the server has put every byte before the stall into the socket, so
    a server slow to answer on a loaded machine cannot look silent; and the resume runs
    with a long timeout. No stretch but the stall can time out."""
    hub.hub.framing = framing
    stall = Stall(path="train.csv", after=20_000)
    hub.hub.stall = stall
    dest = tmp_path / "train.csv"
    file = tq.TransferFile(TRAIN_URL, str(dest), len(TRAIN))
    progress = FakeProgress(checks_wait_for=stall.reached)
    with pytest.raises(TimeoutError, match=r"train\.csv"):
        HuggingFaceDownload(endpoint=hub.url, timeout=0.3)(
            file, cast(tq.ProgressCallback, progress)
        )
    (part,) = partials(tmp_path)
    assert part.read_bytes() == TRAIN[:20_000]
    hub.hub.stall = None
    stall.release.set()
    run(HuggingFaceDownload(endpoint=hub.url, timeout=WAIT), TRAIN_URL, dest, len(TRAIN))
    assert_file(dest, TRAIN)
    first, second = hub.hub.seen()
    assert (first.range, second.range) == (None, "bytes=20000-")
    assert second.if_range is not None


def test_a_link_to_another_scheme_is_refused(hub: RunningHub, tmp_path: Path) -> None:
    """A next-page link (as a redirect) to anything but http(s) is not followed."""
    endpoint = hub.url
    hub.hub.page_size = 1
    hub.hub.hub_url = "ftp://127.0.0.1:9"  # the fake writes its next-page links with it
    with pytest.raises(HubError, match="not an http"):
        list_hf_files("hf://owner/model", tmp_path, endpoint=endpoint)


def test_a_password_in_a_url_is_never_shown(hub: RunningHub, tmp_path: Path) -> None:
    """Review of issue 10: a user name and password in ``HF_ENDPOINT`` (which the client
    never sends: the token goes in a header) or in a link the server gives are shown as
    ``***`` in every message and field: a refusal's, a link's that is not followed, a bad
    endpoint's, and the executor's repr. The endpoint still works."""
    secret = "s3cret-pw"
    endpoint = hub.url.replace("http://", f"http://user:{secret}@")
    executor = HuggingFaceDownload(endpoint=endpoint)
    run(executor, "hf://owner/model/config.json", tmp_path / "config.json", len(CONFIG))
    assert_file(tmp_path / "config.json", CONFIG)
    with pytest.raises(HubRequestError) as missing:
        run(executor, "hf://owner/model/missing.bin", tmp_path / "missing.bin")
    assert secret not in str(missing.value)
    assert secret not in missing.value.url
    assert "***@127.0.0.1" in missing.value.url
    assert secret not in repr(executor)
    plain = hub.url
    hub.hub.page_size = 1
    hub.hub.hub_url = f"ftp://user:{secret}@127.0.0.1:9"  # the next-page links
    with pytest.raises(HubError, match="not an http") as link:
        list_hf_files("hf://owner/model", tmp_path / "listed", endpoint=plain)
    assert secret not in str(link.value)
    for bad in (f"ftp://user:{secret}@mirror.example", f"user:{secret}@mirror.example"):
        with pytest.raises(ValueError, match="must be an http") as refused:
            HuggingFaceDownload(endpoint=bad)
        assert secret not in str(refused.value)


# --- hostile bodies ------------------------------------------------------------------------


def test_a_body_longer_than_the_listed_size_fails_at_once(hub: RunningHub, tmp_path: Path) -> None:
    """A chunked body that goes on past the size the listing gave the file fails with
    HubSizeError as soon as it passes it (not retried), and no partial file is left."""
    hub.hub.endless = {"train.csv"}
    dest = tmp_path / "train.csv"
    with pytest.raises(HubSizeError, match="more than the") as caught:
        run(HuggingFaceDownload(endpoint=hub.url), TRAIN_URL, dest, len(TRAIN))
    assert not tq.RetryPolicy().is_transient(caught.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("framing", ["chunked", "http10"])
def test_an_endless_body_for_a_file_listed_empty_fails(
    hub: RunningHub, tmp_path: Path, framing: Framing
) -> None:
    """A file the listing gives as empty (size 0) whose server sends a body without a
    length (chunked, or ending with the connection) that never ends fails at its first
    byte with HubSizeError (not retried) naming the reason, through a queue as ``cp``
    runs it; nothing is left, neither the destination nor a partial file. Before, size 0
    meant "unknown" and the body was written to the end (64 MiB here) and completed."""
    hub.hub.repos[("dataset", "owner/data")]["empty.txt"] = b""
    hub.hub.framing = framing
    hub.hub.endless = {"empty.txt"}
    out = tmp_path / "out"
    listed = list_hf_files("hf://datasets/owner/data/empty.txt", out, endpoint=hub.url)
    assert [m["size"] for m in listed] == [0]
    executor = HuggingFaceDownload(endpoint=hub.url, timeout=WAIT)
    with tq.TransferQueue(1, retry=tq.RetryPolicy(max_attempts=3)) as q:
        job = q.wait(q.queue_job("huggingface", listed, executor), timeout=WAIT)
    (file,) = job.files
    assert (file.status, file.error_type, file.attempts) == (
        "error",
        "transferqueue.executors.HubSizeError",
        1,
    )
    assert "without announcing its length for a file queued with size 0" in (file.error or "")
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("framing", FRAMINGS)
def test_an_empty_file_arrives_empty_in_every_framing(
    hub: RunningHub, tmp_path: Path, framing: Framing
) -> None:
    """A file listed as empty and served empty arrives, an empty file, whatever the
    framing of its (empty) body."""
    hub.hub.repos[("dataset", "owner/data")]["empty.txt"] = b""
    hub.hub.framing = framing
    dest = tmp_path / "empty.txt"
    executor = HuggingFaceDownload(endpoint=hub.url)
    progress = run(executor, "hf://datasets/owner/data/empty.txt", dest)
    assert dest.read_bytes() == b""
    assert progress.values[-1] == 0
    assert partials(tmp_path) == []


def test_a_file_of_unknown_size_is_bounded_by_the_announced_length(
    hub: RunningHub, tmp_path: Path
) -> None:
    """A file queued with size 0 by a caller who did not know its size downloads whole
    when the reply announces its length (Content-Length), as before; without one (chunked)
    it fails at its first byte, as an empty file's body would."""
    dest = tmp_path / "train.csv"
    executor = HuggingFaceDownload(endpoint=hub.url)
    run(executor, TRAIN_URL, dest)
    assert_file(dest, TRAIN)
    hub.hub.framing = "chunked"
    with pytest.raises(HubSizeError, match="without announcing its length"):
        run(executor, TRAIN_URL, tmp_path / "again.csv")
    assert sorted(tmp_path.iterdir()) == [dest]


def test_a_resumed_body_longer_than_its_content_range_fails(
    hub: RunningHub, tmp_path: Path
) -> None:
    """A 206 whose chunked body goes on past the size its Content-Range announced fails
    with HubSizeError, even for a file queued with size 0 (unknown)."""
    hub.hub.break_after["train.csv"] = 5000
    dest = tmp_path / "train.csv"
    executor = HuggingFaceDownload(endpoint=hub.url)
    with pytest.raises(ConnectionError):
        run(executor, TRAIN_URL, dest)
    hub.hub.endless = {"train.csv"}
    with pytest.raises(HubSizeError, match=f"more than the {len(TRAIN)} bytes"):
        run(executor, TRAIN_URL, dest)
    assert list(tmp_path.iterdir()) == []
    assert [r.range for r in hub.hub.seen()] == [None, "bytes=5000-"]


def test_a_reply_announcing_more_than_the_listed_size_is_refused_unread(
    hub: RunningHub, tmp_path: Path
) -> None:
    """A reply whose Content-Length passes the listed size (the file changed since it was
    listed, or the server lies) is refused before its body is read."""
    dest = tmp_path / "train.csv"
    with pytest.raises(HubSizeError, match="list it again") as caught:
        run(HuggingFaceDownload(endpoint=hub.url), TRAIN_URL, dest, len(TRAIN) - 1)
    assert f"announces {len(TRAIN)} bytes" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_a_broken_chunked_body_is_a_connection_error(hub: RunningHub, tmp_path: Path) -> None:
    """A chunked body whose chunk header is garbage: ConnectionError (retried), as a
    connection cut would be."""
    hub.hub.framing = "chunked"
    hub.hub.break_chunks = True
    with pytest.raises(ConnectionError, match="broken reply"):
        run(HuggingFaceDownload(endpoint=hub.url), TRAIN_URL, tmp_path / "train.csv")


@pytest.mark.parametrize("framing", ["http10", "close"])
def test_a_body_without_length_cut_short_is_caught_by_the_listed_size(
    hub: RunningHub, tmp_path: Path, framing: Framing
) -> None:
    """A body that ends with the connection (no length) looks complete when the connection
    breaks: the listed size tells, the part is kept, and the next attempt resumes it."""
    hub.hub.framing = framing
    hub.hub.break_after["train.csv"] = 5000
    dest = tmp_path / "train.csv"
    executor = HuggingFaceDownload(endpoint=hub.url)
    with pytest.raises(ConnectionError, match=f"after 5000 of {len(TRAIN)} bytes"):
        run(executor, TRAIN_URL, dest, len(TRAIN))
    assert not dest.exists()
    run(executor, TRAIN_URL, dest, len(TRAIN))
    assert_file(dest, TRAIN)
    assert [r.range for r in hub.hub.seen()] == [None, "bytes=5000-"]


def test_a_reply_that_is_not_http_is_a_connection_error(hub: RunningHub, tmp_path: Path) -> None:
    hub.hub.garbage = {"train.csv"}
    with pytest.raises(ConnectionError, match="bad reply"):
        run(HuggingFaceDownload(endpoint=hub.url), TRAIN_URL, tmp_path / "train.csv")
    assert list(tmp_path.iterdir()) == []


def test_a_redirect_loop_is_cut_off(hub: RunningHub, tmp_path: Path) -> None:
    hub.hub.redirect_loop = {"train.csv"}
    with pytest.raises(HubError, match=f"more than {MAX_REDIRECTS} redirects"):
        run(HuggingFaceDownload(endpoint=hub.url), TRAIN_URL, tmp_path / "train.csv")
    assert len(hub.hub.seen()) == MAX_REDIRECTS + 1


@pytest.mark.parametrize("status", [400, 204])
def test_another_status_is_a_permanent_request_error(
    hub: RunningHub, tmp_path: Path, status: int
) -> None:
    """A 4xx other than 401/403/404, or a success other than 200/206, fails the file with
    HubRequestError (no OSError: not retried) naming the status."""
    hub.hub.fail_once["train.csv"] = status
    with pytest.raises(HubRequestError, match=f"HTTP {status}") as caught:
        run(HuggingFaceDownload(endpoint=hub.url), TRAIN_URL, tmp_path / "train.csv")
    assert caught.value.status == status
    assert not isinstance(caught.value, OSError)
    assert list(tmp_path.iterdir()) == []


def test_a_content_range_for_other_bytes_is_refused(hub: RunningHub, tmp_path: Path) -> None:
    """A 206 whose Content-Range does not start where the part ends is not appended: a
    ConnectionError, the part kept for the next attempt."""
    hub.hub.break_after["train.csv"] = 5000
    dest = tmp_path / "train.csv"
    executor = HuggingFaceDownload(endpoint=hub.url)
    with pytest.raises(ConnectionError):
        run(executor, TRAIN_URL, dest)
    hub.hub.shift_range = 1
    with pytest.raises(ConnectionError, match="unexpected Content-Range 'bytes 5001-"):
        run(executor, TRAIN_URL, dest)
    hub.hub.shift_range = 0
    run(executor, TRAIN_URL, dest)
    assert_file(dest, TRAIN)
