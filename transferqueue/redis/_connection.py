"""One Redis server as this package uses it: a redis-py client made from a URL, and every
failure turned into an error of :mod:`transferqueue.redis` that names the URL without
its password."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import redis
from redis.backoff import ExponentialBackoff
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


class RedisConnection:
    """A redis-py client for ``url`` (thread-safe: a pool of connections) and the
    translation of its failures."""

    def __init__(self, url: str) -> None:
        if not isinstance(url, str):
            raise TypeError(f"a Redis URL is a str, not {type(url).__name__}")
        self.url = redact_url(url)
        self._secrets = url_secrets(url)
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

    def script(self, source: str) -> Callable[[Sequence[str], Sequence[str | int]], Any]:
        """A callable running ``source`` by its digest (loading it again after a server
        restart forgot it): ``run(keys, args)``."""
        script: Script = self.client.register_script(source)
        return lambda keys, args: script(keys=keys, args=args)

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
