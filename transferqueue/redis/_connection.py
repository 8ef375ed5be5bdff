"""One Redis server as this package uses it: a redis-py client made from a URL, and every
failure turned into an error of :mod:`transferqueue.redis` that names the URL without
its password."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import redis
from redis.backoff import ExponentialBackoff
from redis.client import Pipeline
from redis.commands.core import Script
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


class PipelineScript:
    """A Lua script added to pipelines by its digest (see :meth:`RedisConnection.pipelined`)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def add(self, pipeline: Pipeline, keys: Sequence[str], args: Sequence[str | int]) -> None:
        """Add a call of the script to ``pipeline``."""
        pipeline.evalsha(self.sha, len(keys), *keys, *args)


class RedisConnection:
    """A redis-py client for ``url`` (thread-safe: a pool of connections) and the
    translation of its failures."""

    def __init__(self, url: str) -> None:
        if not isinstance(url, str):
            raise TypeError(f"a Redis URL is a str, not {type(url).__name__}")
        self.url = redact_url(url)
        self._secrets = url_secrets(url)
        self._pipeline_scripts: list[PipelineScript] = []
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
        restart forgot it): ``run(keys, args)``."""
        script: Script = self.client.register_script(source)
        return lambda keys, args: script(keys=keys, args=args)

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
        """Close the pool's connections."""
        self.client.close()
