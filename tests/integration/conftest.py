"""Fixtures of the integration tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

import transferqueue as tq
from tests.helpers.web_clients import FRAMEWORKS, Serve, WebClient, serve_routes


@pytest.fixture(params=FRAMEWORKS)
def serve(request: pytest.FixtureRequest) -> Iterator[Serve]:
    """``serve(queue, **options)``: a client of the routes under ``/transfers/``, in the
    framework the test is parametrised with."""
    framework: str = request.param
    with contextlib.ExitStack() as stack:

        def serve(queue: tq.TransferQueue | None, **options: Any) -> WebClient:
            return serve_routes(framework, stack, queue, **options)

        yield serve
