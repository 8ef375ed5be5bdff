"""The process-wide queue (contract S14)."""

from __future__ import annotations

from ._config import get_max_concurrent_transfers
from ._queue import TransferQueue

transfer_queue = TransferQueue(get_max_concurrent_transfers())
"""The queue shared by the whole process, limited by ``MAX_CONCURRENT_TRANSFERS``.

Made at import; it starts no thread until its first job is queued.
"""


def update_transfer_queue_concurrency(new_limit: int) -> None:
    """Change the concurrency limit of :data:`transfer_queue`."""
    transfer_queue.update_concurrency_limit(new_limit)
