"""The Redis semaphore when Redis cannot be used: an unreachable URL, a
wrong password, a server that goes away or restarts empty mid-run, one that refuses
writes. Errors name the URL, never its password."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Iterator

import pytest

from tests.helpers.bounds import WAIT
from tests.helpers.redis_server import MISSING, REQUIRED, RedisServer, start_redis_server
from tests.helpers.s3_server import free_port

if MISSING is not None and not REQUIRED:
    pytest.skip(MISSING, allow_module_level=True)

import transferqueue as tq
from transferqueue.redis import (
    RedisBackendError,
    RedisSemaphore,
    RedisUnavailableError,
    SemaphoreState,
    Slot,
)
from transferqueue.redis._connection import RedisConnection

SECRET = "s3cr%C3%A9t-pass"  # percent-encoded in the URL: "s3crét-pass"


def assert_no_secret(exc: BaseException) -> None:
    """Neither the message nor anything in the chain of causes shows the password."""
    text = "".join(traceback.format_exception(exc))
    for secret in (SECRET, "s3crét-pass"):
        assert secret not in text


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may stop."""
    server = start_redis_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    "url",
    [
        f"redis://user:{SECRET}@127.0.0.1:{{port}}/0",
        f"redis://:{SECRET}@127.0.0.1:{{port}}",
        f"redis://127.0.0.1:{{port}}/0?password={SECRET}&socket_keepalive=true",
    ],
)
def test_an_unreachable_server_is_named_without_its_password(url: str) -> None:
    port = free_port()
    with pytest.raises(RedisUnavailableError) as caught:
        RedisSemaphore(url.format(port=port), 2)
    message = str(caught.value)
    assert message.startswith("Redis at redis://")
    assert f"127.0.0.1:{port}" in message
    assert "***" in message
    assert "is unavailable (storing the limit)" in message
    assert caught.value.url in message
    assert isinstance(caught.value, tq.TransferQueueError)
    assert isinstance(caught.value, ConnectionError)
    assert_no_secret(caught.value)


def test_a_wrong_password_is_refused_without_showing_it() -> None:
    server = start_redis_server(None, "--requirepass", "right-one")
    try:
        with pytest.raises(RedisUnavailableError) as caught:
            RedisSemaphore(f"redis://:{SECRET}@127.0.0.1:{server.port}/0", 1)
        assert_no_secret(caught.value)
        with RedisSemaphore(f"redis://:right-one@127.0.0.1:{server.port}/0", 1) as semaphore:
            assert semaphore.url == f"redis://:***@127.0.0.1:{server.port}/0"
            assert semaphore.acquire() is not None
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (f"http://user:{SECRET}@127.0.0.1/", "not a usable Redis URL"),
        (f"redis://user:{SECRET}@[::1", "not a usable Redis URL"),
    ],
)
def test_a_url_that_is_not_redis_is_refused_without_its_password(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        RedisSemaphore(url, 1)
    assert_no_secret(caught.value)


def test_a_url_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="a Redis URL is a str, not bytes"):
        RedisSemaphore(b"redis://127.0.0.1", 1)  # type: ignore[arg-type]


def test_redis_gone_mid_run(own_server: RedisServer) -> None:
    """The keeper cannot renew: the slot is reported lost once its lease ran out, saying
    why; waiting for a slot and releasing raise RedisUnavailableError."""
    lost = threading.Event()
    reasons: list[str] = []

    def on_lost(slot: Slot, reason: str) -> None:
        reasons.append(reason)
        lost.set()

    with RedisSemaphore(own_server.url, 1, lease=0.6, on_lost=on_lost) as semaphore:
        slot = semaphore.acquire()
        assert slot is not None
        own_server.stop()
        assert lost.wait(WAIT)
        assert slot.lost
        assert reasons[0].startswith("not renewed within its lease of 0.6 s (the last renewal")
        assert f"Redis at {own_server.url} is unavailable (renewing slots)" in reasons[0]
        with pytest.raises(RedisUnavailableError, match="unavailable \\(acquiring a slot\\)"):
            semaphore.acquire()
        with pytest.raises(RedisUnavailableError, match="unavailable \\(releasing a slot\\)"):
            slot.release()
        assert slot.released
        assert slot.release() is False


def test_close_while_redis_is_gone_raises_after_trying_every_slot(
    own_server: RedisServer,
) -> None:
    semaphore = RedisSemaphore(own_server.url, 2)
    slots = [semaphore.acquire(), semaphore.acquire()]
    own_server.stop()
    with pytest.raises(RedisUnavailableError, match="releasing a slot"):
        semaphore.close()
    assert all(slot is not None and slot.released for slot in slots)


def test_a_restart_that_lost_the_data(own_server: RedisServer) -> None:
    """Redis restarted empty: the held slot is reported lost (Redis does not know it),
    the limit is stored again and the scripts loaded again on the next acquire."""
    lost = threading.Event()
    sem = RedisSemaphore(own_server.url, 3, lease=0.6, on_lost=lambda s, r: lost.set())
    sem.set_limit(2)
    slot = sem.acquire()
    assert slot is not None
    own_server.stop()
    restarted = start_redis_server(own_server.port)
    try:
        assert lost.wait(WAIT)
        # Redis said so or, had the server been down for a whole lease, the lease ran
        # out here first.
        reason = slot.lost_reason
        assert reason is not None
        assert reason == "its lease had ended in Redis" or reason.startswith("not renewed")
        again = sem.acquire()
        assert again is not None
        assert sem.state() == SemaphoreState(limit=2, holders=1, waiting=0)
        sem.close()
    finally:
        restarted.stop()


def test_a_server_that_refuses_writes() -> None:
    """An error reply that is not about our data (here: a read-only replica, as after
    pointing the URL at the wrong side of a failover) is a RedisBackendError naming the
    URL and what was being done."""
    replica = start_redis_server(None, "--replicaof", "127.0.0.1", str(free_port()))
    try:
        with pytest.raises(
            RedisBackendError, match=r"refused storing the limit: .*read only"
        ) as caught:
            RedisSemaphore(replica.url, 1)
        assert caught.value.url == replica.url
        assert not isinstance(caught.value, RedisUnavailableError)
    finally:
        replica.stop()


def test_other_redis_py_errors_are_backend_errors(redis_url: str) -> None:
    """A client-side failure of redis-py (here: a value it cannot encode) is wrapped too."""
    connection = RedisConnection(redis_url)
    try:
        with pytest.raises(RedisBackendError, match=r"failed setting: .*Invalid input"):
            connection.call("setting", lambda: connection.client.set("k", object()))  # type: ignore[arg-type]
    finally:
        connection.close()
