"""Issue 11, part 1: the pieces of transferqueue.redis that need no server: URLs shown
without passwords, holder ids, the lease keeper thread, and the import without redis-py."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import WAIT
from transferqueue.redis._cancels import CancelListener
from transferqueue.redis._keeper import LeaseKeeper
from transferqueue.redis._keys import SemaphoreKeys, new_holder_id
from transferqueue.redis._url import redact_url, scrub, url_secrets

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("redis://user:pw@host:1/2", "redis://user:***@host:1/2"),
        ("redis://:pw@host", "redis://:***@host"),
        ("redis://user@host", "redis://user@host"),
        ("rediss://u:p%40ss@h/0?ssl_cert_reqs=none", "rediss://u:***@h/0?ssl_cert_reqs=none"),
        ("redis://u:a:b@c@host", "redis://u:***@host"),
        ("redis://h?password=pw&db=3", "redis://h?password=***&db=3"),
        ("redis://h?PassWord=pw&x&y=", "redis://h?PassWord=***&x&y="),
        ("unix://:pw@/run/redis.sock?db=1", "unix://:***@/run/redis.sock?db=1"),
        ("unix:///run/redis.sock?password=pw", "unix:///run/redis.sock?password=***"),
        ("redis://u:pw@[::1", "<a Redis URL that cannot be parsed>"),
        ("redis://:pw@h/0#part", "redis://:***@h/0#part"),
        ("/run/redis.sock", "/run/redis.sock"),
    ],
)
def test_urls_are_shown_without_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_secrets_are_found_as_written_and_decoded() -> None:
    assert url_secrets("redis://u:p%40ss@h?password=a+b") == ("p%40ss", "p@ss", "a b", "a+b")
    assert url_secrets("redis://h/0") == ()
    assert url_secrets("redis://user@h/0") == ()
    assert url_secrets("redis://u:pw@[::1") == ("redis://u:pw@[::1",)
    assert url_secrets("") == ()
    assert scrub("refused p@ss and p%40ss", url_secrets("redis://u:p%40ss@h")) == (
        "refused *** and ***"
    )


def test_keys_and_holder_ids() -> None:
    keys = SemaphoreKeys.for_namespace("app:exports")
    assert keys.script_keys == tuple(
        f"app:exports:semaphore:{name}"
        for name in ("holders", "queue", "waiting", "tickets", "limit")
    )
    assert keys.wake_prefix == "app:exports:semaphore:wake:"
    ids = {new_holder_id() for _ in range(1000)}
    assert len(ids) == 1000


def test_the_keeper_survives_a_failing_beat_and_ends_with_its_work(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug in one beat is logged and the next beat still comes; the thread ends once
    there is no work and a wake() starts a new one."""
    beats: list[int] = []
    second_beat = threading.Event()
    work = threading.Event()
    work.set()

    def renew() -> None:
        beats.append(len(beats))
        if len(beats) == 1:
            raise RuntimeError("a bug")
        work.clear()
        second_beat.set()

    keeper = LeaseKeeper("test-keeper", 0.01, renew, work.is_set)
    with caplog.at_level(logging.ERROR, logger="transferqueue"):
        keeper.wake()
        keeper.wake()  # already running: no second thread
        assert second_beat.wait(WAIT)
    assert "renewing the leases of test-keeper failed" in caplog.text
    assert "RuntimeError: a bug" in caplog.text
    keeper_threads = [t for t in threading.enumerate() if t.name == "test-keeper"]
    for thread in keeper_threads:
        thread.join(WAIT)
    assert not any(t.name == "test-keeper" for t in threading.enumerate())
    work.set()
    keeper.wake()
    assert [t.name for t in threading.enumerate()].count("test-keeper") == 1
    keeper.stop()
    assert not any(t.name == "test-keeper" for t in threading.enumerate())
    keeper.wake()  # stopped for good
    assert not any(t.name == "test-keeper" for t in threading.enumerate())


IMPORT_SCRIPT = """
import sys
sys.modules['redis'] = None
import transferqueue, transferqueue.redis as tr
assert tr.RedisDataError and tr.SemaphoreState and tr.DEFAULT_LEASE == 10.0
for name in ('RedisSemaphore', 'Slot'):
    try:
        getattr(tr, name)
    except ImportError as exc:
        print(exc)
try:
    tr.nothing
except AttributeError as exc:
    print(exc)
"""


def test_without_redis_py_only_the_semaphore_names_need_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=True,
    )
    assert done.stdout.splitlines() == [
        "transferqueue.redis.RedisSemaphore needs redis-py: pip install 'transferqueue[redis]'",
        "transferqueue.redis.Slot needs redis-py: pip install 'transferqueue[redis]'",
        "module 'transferqueue.redis' has no attribute 'nothing'",
    ]


def test_importing_transferqueue_does_not_import_redis() -> None:
    script = "import sys, transferqueue, transferqueue.redis; print('redis' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=True,
    )
    assert done.stdout.strip() == "False"


def test_a_missing_module_of_our_own_is_not_blamed_on_redis_py(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import transferqueue.redis

    monkeypatch.setitem(sys.modules, "transferqueue.redis._semaphore", None)
    monkeypatch.delattr(transferqueue.redis, "_semaphore", raising=False)
    with pytest.raises(ModuleNotFoundError) as caught:
        transferqueue.redis.RedisSemaphore  # noqa: B018
    assert "redis-py" not in str(caught.value)


class QuietRequests:
    """Stands in for the Redis lists in the listener's thread logic: no request ever
    comes; each read blocks until ``step`` is set (then clears it)."""

    def __init__(self) -> None:
        self.step = threading.Event()
        self.reads = 0

    def receive(self, owner: str, seconds: float) -> list[tuple[str, str]]:
        self.reads += 1
        assert self.step.wait(WAIT)
        self.step.clear()
        return []

    def wake(self, owner: str) -> None:
        """The listener's stop() ends a read going on."""
        self.step.set()


class UnreachableRequests(QuietRequests):
    """A server that is away when the listener is stopped: its read ends by itself."""

    def wake(self, owner: str) -> None:
        from transferqueue.redis import RedisUnavailableError

        raise RedisUnavailableError("Redis at redis://test is unavailable", "redis://test")


def test_a_cancel_listener_that_found_no_work_stays_when_a_wake_came_meanwhile() -> None:
    """The thread asks has_work() without its lock; a wake() between that answer and the
    thread's decision to end keeps it going (else the new job would go unheard)."""
    requests = QuietRequests()
    answers = iter([False, True, False])
    asked: list[bool] = []
    listener: CancelListener

    def has_work() -> bool:
        answer = next(answers)
        if not asked:
            listener.wake()  # the wake of a job queued just now
        asked.append(answer)
        return answer

    listener = CancelListener(requests, lambda: "me", lambda job, by: None, has_work)  # type: ignore[arg-type]
    listener.wake()
    requests.step.set()  # the one read, in the round where there was work
    wait_for_thread_end("transferqueue-cancels")
    assert asked == [False, True, False]
    assert requests.reads == 1


@pytest.mark.parametrize("requests", [QuietRequests(), UnreachableRequests()])
def test_a_stopped_cancel_listener_ends_after_its_read_though_work_remains(
    requests: QuietRequests,
) -> None:
    """stop() wakes the read going on (or, with the server away, it ends by itself)."""
    listener = CancelListener(requests, lambda: "me", lambda job, by: None, lambda: True)  # type: ignore[arg-type]
    listener.wake()
    wait_until_reading(requests)
    stopping = threading.Thread(target=listener.stop)
    stopping.start()
    if isinstance(requests, UnreachableRequests):
        requests.step.set()  # the read's own end
    stopping.join(WAIT)
    assert not stopping.is_alive()
    assert not any(t.name == "transferqueue-cancels" for t in threading.enumerate())
    listener.wake()  # stopped for good
    assert not any(t.name == "transferqueue-cancels" for t in threading.enumerate())


def wait_for_thread_end(name: str) -> None:
    for thread in threading.enumerate():
        if thread.name == name:
            thread.join(WAIT)
            assert not thread.is_alive()


def wait_until_reading(requests: QuietRequests) -> None:
    """Until the listener's thread is in its first read (polled: the stand-in has no
    event to wait on for it, and it takes microseconds)."""
    for _ in range(1000):
        if requests.reads:
            return
        threading.Event().wait(0.005)
    raise AssertionError("the listener never read")
