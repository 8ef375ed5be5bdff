"""Coordination across processes and hosts through Redis.

:class:`RedisBackend` makes a :class:`~transferqueue.TransferQueue` one of a cluster of
queues in as many processes, on as many hosts, that share a Redis server and a
namespace. The cluster has one concurrency limit; every process reads every job, can
cancel it (its owner does) and follow its events (``watch`` and the web routes); the jobs
of a process that dies are failed, naming it, and an outage or a restart of Redis loses
no job that a live process keeps. The guide "Queues across processes on Redis" in the
documentation (``docs/howto/redis.rst``) describes it whole. A queue of such a cluster::

    from transferqueue import TransferQueue
    from transferqueue.redis import RedisBackend

    queue = TransferQueue(4, backend=RedisBackend("redis://localhost:6379/0"))

Under it lies :class:`RedisSemaphore`, a fair, leased, counting semaphore, usable on its
own for any work that must be limited across processes::

    from transferqueue.redis import RedisSemaphore

    semaphore = RedisSemaphore("redis://localhost:6379/0", limit=4, namespace="exports")
    slot = semaphore.acquire(timeout=60)
    if slot is not None:
        with slot:
            run_the_export()

Both need the extra ``transferqueue[redis]`` (redis-py): without it their names raise an
ImportError that says so, while the exceptions and the records import anyway.
"""

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import (
    OwnerLostError,
    RedisBackendError,
    RedisDataError,
    RedisUnavailableError,
    SlotLostError,
)
from ._records import SemaphoreState
from ._settings import DEFAULT_LEASE, DEFAULT_NAMESPACE, MAX_LIMIT

if TYPE_CHECKING:
    from ._backend import RedisBackend
    from ._semaphore import RedisSemaphore
    from ._slot import Slot

# These need redis-py (the extra ``transferqueue[redis]``): imported on first use, so that
# importing transferqueue never imports redis. Each name's module.
_REDIS_NAMES = {"RedisBackend": "_backend", "RedisSemaphore": "_semaphore", "Slot": "_semaphore"}


def __getattr__(name: str) -> Any:
    """Import the names that need redis-py on first use (PEP 562), with a clear error
    without it."""
    module_name = _REDIS_NAMES.get(name)
    if module_name is not None:
        try:
            module = importlib.import_module(f"{__name__}.{module_name}")
        except ModuleNotFoundError as exc:
            if (exc.name or "").partition(".")[0] != "redis":
                raise
            raise ImportError(
                f"transferqueue.redis.{name} needs redis-py: pip install 'transferqueue[redis]'"
            ) from exc
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_LEASE",
    "DEFAULT_NAMESPACE",
    "MAX_LIMIT",
    "OwnerLostError",
    "RedisBackend",
    "RedisBackendError",
    "RedisDataError",
    "RedisSemaphore",
    "RedisUnavailableError",
    "SemaphoreState",
    "Slot",
    "SlotLostError",
]
