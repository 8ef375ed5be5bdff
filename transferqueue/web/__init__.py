"""Web integrations: ready-made HTTP endpoints (with Server-Sent Events) for a queue.

``transferqueue.web.transfer_blueprint`` needs Flask (``pip install transferqueue[flask]``).
"""

from ._flask import AccessHook, transfer_blueprint

__all__ = ["AccessHook", "transfer_blueprint"]
