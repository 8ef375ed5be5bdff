"""Web integrations: ready-made HTTP endpoints (with Server-Sent Events) for a queue.

``transfer_blueprint`` needs Flask (``pip install transferqueue[flask]``); the Django views
live in ``transferqueue.web.django`` (``pip install transferqueue[django]``). Both are thin
adapters around :class:`TransferEndpoints`, which a third framework can use the same way.
"""

from typing import TYPE_CHECKING, Any

from ._endpoints import END_EVENT_ID, AccessHook, Reply, TransferEndpoints, sse_message

if TYPE_CHECKING:
    from ._flask import transfer_blueprint

__all__ = [
    "END_EVENT_ID",
    "AccessHook",
    "Reply",
    "TransferEndpoints",
    "sse_message",
    "transfer_blueprint",
]


def __getattr__(name: str) -> Any:
    # Flask is optional: import it only when its blueprint is asked for.
    if name == "transfer_blueprint":
        from ._flask import transfer_blueprint

        return transfer_blueprint
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
