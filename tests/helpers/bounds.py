"""The bound of every blocking wait in the tests."""

from __future__ import annotations

# Every blocking wait in a test helper is bounded, so that a bug fails the test with a
# message instead of hanging until pytest-timeout dumps the threads.
WAIT = 10.0
