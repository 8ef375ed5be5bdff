"""The library's logger: ``transferqueue``, silent until the application configures logging.

Lifecycle events go to it at these levels: a job queued, completed or cancelled and a
limit changed at INFO; a failed attempt that will be retried at INFO with its traceback;
a failed file and a failed job at WARNING, the file with its traceback; a receiver that
raised at ERROR; a crashed worker thread at CRITICAL.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("transferqueue")
# A library must not print: without this, logging's last-resort handler would write
# warnings to stderr of applications that never configured logging.
logger.addHandler(logging.NullHandler())
