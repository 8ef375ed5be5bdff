"""One Redis server as this package uses it: a redis-py client made from a URL, and every
failure turned into an error of :mod:`transferqueue.redis` that names the URL without
its password."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import redis
from redis.backoff import ExponentialBackoff
from redis.client import Pipeline
from redis.retry import Retry

from ._errors import RedisBackendError, RedisDataError, RedisUnavailableError
from ._lua import ERROR_PREFIX
from ._url import redact_url, scrub, url_secrets

T = TypeVar("T")

# Every command but a wait for a wake-up answers in well under a millisecond on a healthy
# server; these bound how long a dead or unreachable one can hold a call.
SOCKET_TIMEOUT = 5.0
CONNECT_TIMEOUT = 5.0
# A command that met a broken connection is sent again twice, after 50 and 100 ms: every
# script is safe to repeat (each one is keyed by the caller's holder id).
_RETRY = Retry(ExponentialBackoff(cap=0.5, base=0.05), 2)
_RETRY_ON = [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
# A redis.connection.Connection of the client's pool (its methods are not annotated).
_Connection = Any


class PipelineScript:
    """A Lua script added to pipelines by its digest (see :meth:`RedisConnection.pipelined`)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def add(self, pipeline: Pipeline, keys: Sequence[str], args: Sequence[str | int]) -> None:
        """Add a call of the script to ``pipeline``."""
        pipeline.evalsha(self.sha, len(keys), *keys, *args)

    def command(self, keys: Sequence[str], args: Sequence[str | int]) -> tuple[str | int, ...]:
        """The call of the script as one command of :meth:`RedisConnection.exchange`."""
        return ("EVALSHA", self.sha, len(keys), *keys, *args)


def _exchange(connection: _Connection, commands: Sequence[Sequence[Any]]) -> list[Any]:
    """Send ``commands`` on ``connection`` at once and read each one's reply (or the
    ResponseError it was answered with)."""
    connection.connect()  # at once when connected
    connection.send_packed_command(connection.pack_commands(commands))
    replies: list[Any] = []
    for _ in commands:
        try:
            replies.append(connection.read_response())
        except redis.exceptions.ResponseError as exc:
            replies.append(exc)
    return replies


class RedisConnection:
    """A redis-py client for ``url`` (thread-safe: a pool of connections) and the
    translation of its failures."""

    def __init__(self, url: str) -> None:
        if not isinstance(url, str):
            raise TypeError(f"a Redis URL is a str, not {type(url).__name__}")
        self.url = redact_url(url)
        self._secrets = url_secrets(url)
        self._pipeline_scripts: list[PipelineScript] = []
        # Connections taken from the pool for exchange(), idle between two calls; a
        # call pops one (or takes a new one from the pool) and appends it back when
        # done: list.pop() and list.append() are atomic, so no lock is needed. The pid
        # they belong to: a forked child leaves the parent's alone.
        self._idle: list[_Connection] = []
        self._idle_pid = os.getpid()
        try:
            self.client: redis.Redis = redis.Redis.from_url(
                url,
                socket_timeout=SOCKET_TIMEOUT,
                socket_connect_timeout=CONNECT_TIMEOUT,
                retry=_RETRY,
                retry_on_error=_RETRY_ON,
            )
        except ValueError as exc:
            raise ValueError(
                f"not a usable Redis URL ({scrub(str(exc), self._secrets)}): {self.url}"
            ) from None
        if str(self.client.connection_pool.connection_kwargs.get("protocol", 2)) != "2":
            raise ValueError(f"this package speaks RESP2 to Redis, not protocol=3: {self.url}")

    def script(self, source: str) -> Callable[[Sequence[str], Sequence[str | int]], Any]:
        """A callable running ``source`` by its digest (loading it again after a server
        restart forgot it): ``run(keys, args)``, through :meth:`exchange`; a reply that
        is an error is raised (:meth:`call` translates it)."""
        script = PipelineScript(source)

        def run(keys: Sequence[str], args: Sequence[str | int]) -> Any:
            (reply,) = self.exchange([script.command(keys, args)])
            if isinstance(reply, redis.exceptions.NoScriptError):
                (loaded,) = self.exchange([("SCRIPT", "LOAD", source)])
                if isinstance(loaded, Exception):
                    raise loaded
                (reply,) = self.exchange([script.command(keys, args)])
            if isinstance(reply, Exception):
                raise reply
            return reply

        return run

    def exchange(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Send ``commands`` in one round trip and return each one's raw reply, or the
        ResponseError Redis answered it with; a broken connection is tried again as
        redis-py's own commands are (``_RETRY``), then raised as redis-py raises it (run
        it through :meth:`call`).

        On a connection of the pool kept aside for these calls, without redis-py's
        checkout of a connection for each command (which checks the socket and records
        metrics: in redis-py 8 a command costs about 70 us of CPU that way, against
        about 20 us for the exchange itself). The replies are not parsed by command (no
        response callbacks): meant for scripts, whose replies are used as they come.
        """
        connection = self._take()
        try:
            replies = connection.retry.call_with_retry(
                partial(_exchange, connection, commands), lambda _error: connection.disconnect()
            )
        except BaseException:
            connection.disconnect()  # whatever it was in the middle of is dropped
            self.client.connection_pool.release(connection)
            raise
        self._idle.append(connection)
        return replies  # type: ignore[no-any-return]

    def _take(self) -> _Connection:
        pid = os.getpid()
        if pid != self._idle_pid:  # a forked child: the parent's connections stay its own
            self._idle, self._idle_pid = [], pid
        try:
            return self._idle.pop()
        except IndexError:
            return self.client.connection_pool.get_connection()

    def pipelined(self, what: str, build: Callable[[Pipeline], object]) -> list[Any]:
        """Send the commands ``build(pipeline)`` adds in one round trip; return each one's
        reply, or the error Redis answered it with (one bad key fails only its command).

        Scripts go in by digest (:meth:`PipelineScript.add`), without the extra round
        trip redis-py makes to check they are loaded; should the server not know one
        (after a restart), they are loaded and the whole pipeline sent again (every
        script of this package is safe to repeat).
        """
        results = self._send(what, build)
        if any(isinstance(result, redis.exceptions.NoScriptError) for result in results):
            for script in self._pipeline_scripts:
                self.call("loading a script", partial(self.client.script_load, script.source))
            results = self._send(what, build)
        return results

    def _send(self, what: str, build: Callable[[Pipeline], object]) -> list[Any]:
        pipeline = self.client.pipeline(transaction=False)
        build(pipeline)
        return self.call(what, partial(pipeline.execute, raise_on_error=False))

    def reply(self, what: str, result: object) -> Any:
        """A reply from :meth:`pipelined`; the error it was raised as :meth:`call` would."""
        if isinstance(result, Exception):

            def answer() -> Any:
                raise result

            return self.call(what, answer)
        return result

    def run_scripts(
        self,
        what: str,
        calls: Sequence[tuple[PipelineScript, Sequence[str], Sequence[str | int]]],
    ) -> list[Any]:
        """Run the scripts of ``calls`` in one round trip (:meth:`exchange`); return each
        one's reply, or the error Redis answered it with, as :meth:`pipelined` does
        (loading the scripts and sending again should the server not know one)."""
        commands = [script.command(keys, args) for script, keys, args in calls]
        results = self.call(what, partial(self.exchange, commands))
        if any(isinstance(result, redis.exceptions.NoScriptError) for result in results):
            for script in self._pipeline_scripts:
                self.call("loading a script", partial(self.client.script_load, script.source))
            results = self.call(what, partial(self.exchange, commands))
        return results

    def pipeline_script(self, source: str) -> PipelineScript:
        """A Lua script to send in :meth:`pipelined` batches."""
        script = PipelineScript(source)
        self._pipeline_scripts.append(script)
        return script

    def call(self, what: str, command: Callable[[], T]) -> T:
        """Run ``command`` (a call on :attr:`client`); ``what`` names it in errors."""
        try:
            return command()
        except redis.exceptions.ResponseError as exc:
            detail = scrub(str(exc), self._secrets)
            if detail.startswith(ERROR_PREFIX):
                raise RedisDataError(
                    f"unexpected data in Redis at {self.url}: {detail[len(ERROR_PREFIX) :]}",
                    self.url,
                ) from None
            raise RedisBackendError(
                f"Redis at {self.url} refused {what}: {detail}", self.url
            ) from exc
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            detail = scrub(str(exc), self._secrets) or type(exc).__name__
            raise RedisUnavailableError(
                f"Redis at {self.url} is unavailable ({what}): {detail}", self.url
            ) from exc
        except redis.exceptions.RedisError as exc:
            detail = scrub(str(exc), self._secrets) or type(exc).__name__
            raise RedisBackendError(
                f"Redis at {self.url} failed {what}: {detail}", self.url
            ) from exc

    def close(self) -> None:
        """Close the pool's connections (those kept aside for :meth:`exchange` too: they
        connect again when next used)."""
        self.client.close()
