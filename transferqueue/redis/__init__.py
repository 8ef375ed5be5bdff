"""Coordination across processes and hosts through Redis (in progress: see README.rst).

What exists now is :class:`RedisSemaphore`, a fair, leased, counting semaphore: at most
``limit`` slots held at once by every process that shares the Redis server and the
namespace. It is not wired into :class:`~transferqueue.TransferQueue` yet; it can be used
on its own for any work that must be limited across processes::

    from transferqueue.redis import RedisSemaphore

    semaphore = RedisSemaphore("redis://localhost:6379/0", limit=4, namespace="exports")
    slot = semaphore.acquire(timeout=60)
    if slot is not None:
        with slot:
            run_the_export()

It needs the extra ``transferqueue[redis]`` (redis-py): without it the semaphore's names
raise an ImportError that says so, while the exceptions and the records import anyway.
"""

from typing import TYPE_CHECKING, Any

from ._errors import RedisBackendError, RedisDataError, RedisUnavailableError, SlotLostError
from ._records import SemaphoreState
from ._settings import DEFAULT_LEASE, DEFAULT_NAMESPACE, MAX_LIMIT

if TYPE_CHECKING:
    from ._semaphore import RedisSemaphore
    from ._slot import Slot

# These need redis-py (the extra ``transferqueue[redis]``): imported on first use, so that
# importing transferqueue never imports redis.
_REDIS_NAMES = frozenset({"RedisSemaphore", "Slot"})


def __getattr__(name: str) -> Any:
    """Import the names that need redis-py on first use (PEP 562), with a clear error
    without it."""
    if name in _REDIS_NAMES:
        try:
            from . import _semaphore
        except ModuleNotFoundError as exc:
            if (exc.name or "").partition(".")[0] != "redis":
                raise
            raise ImportError(
                f"transferqueue.redis.{name} needs redis-py: pip install 'transferqueue[redis]'"
            ) from exc
        return getattr(_semaphore, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_NAMESPACE",
    "MAX_LIMIT",
    "RedisBackendError",
    "RedisDataError",
    "RedisSemaphore",
    "RedisUnavailableError",
    "SemaphoreState",
    "Slot",
    "SlotLostError",
]
