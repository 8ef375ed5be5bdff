"""Fixtures of the integration tests: the web routes in each framework, and the servers
and processes that the tests share (imported here once, so that every module of this
folder gets them without importing them itself)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

import transferqueue as tq
from tests.helpers.redis_server import redis_server, redis_url  # noqa: F401 - fixtures
from tests.helpers.s3_server import moto_endpoint, moto_server, s3_env  # noqa: F401 - fixtures
from tests.helpers.web_clients import FRAMEWORKS, Serve, WebClient, serve_routes
from tests.helpers.worker_process import workers  # noqa: F401 - a fixture

if TYPE_CHECKING:
    import redis


@pytest.fixture(params=FRAMEWORKS)
def serve(request: pytest.FixtureRequest) -> Iterator[Serve]:
    """``serve(queue, **options)``: a client of the routes under ``/transfers/``, in the
    framework the test is parametrised with."""
    framework: str = request.param
    with contextlib.ExitStack() as stack:

        def serve(queue: tq.TransferQueue | None, **options: Any) -> WebClient:
            return serve_routes(framework, stack, queue, **options)

        yield serve


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:  # noqa: F811 - the fixture above
    """A plain redis-py client on the test's server, to look at and change the keys."""
    import redis  # the extra's: only the tests that use Redis need it

    with redis.Redis.from_url(redis_url) as plain:
        yield plain
