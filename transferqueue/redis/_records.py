"""What the semaphore reports about the cluster (importable without redis-py)."""

from __future__ import annotations

import attrs


@attrs.frozen
class SemaphoreState:
    """The semaphore as Redis had it at one moment.

    ``limit`` is the cluster-wide limit; ``holders`` the slots held with a live lease (it
    exceeds ``limit`` for a while after the limit was lowered: holders keep their slots);
    ``waiting`` the callers queued for a slot.
    """

    limit: int
    holders: int
    waiting: int
