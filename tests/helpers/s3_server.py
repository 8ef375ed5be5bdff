"""A real S3 endpoint for the tests: moto's standalone server on 127.0.0.1.

``moto_server`` (session scope) starts ``python -m moto.server`` as a subprocess on a free
port, waits until it answers, and stops it at the end; ``moto_endpoint`` (per test) gives
its URL after wiping its state; ``s3_env`` points boto3's usual configuration at it
(``AWS_ENDPOINT_URL`` and test credentials). Import the fixtures into a test module::

    from tests.helpers.s3_server import moto_endpoint, moto_server, s3_env  # noqa: F401
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REGION = "us-east-1"
ACCESS_KEY = "testing"
SECRET_KEY = "testing"

_READY_TRIES = 400  # x up to 0.05 s: moto is usually ready in about 0.4 s
# A request as the server logs it: 127.0.0.1 - - [date] "PUT /bucket/key HTTP/1.1" 200 -
# (werkzeug colours the lines of some statuses with terminal escapes.)
_REQUEST_LINE = re.compile(r'"(?:\x1b\[[0-9;]*m)*([A-Z]+) (\S+) HTTP/[0-9.]+')


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def moto_post(endpoint: str, path: str, body: bytes = b"") -> bytes:
    """POST to moto's control API (``/moto-api/...``) and return the answer's body."""
    request = urllib.request.Request(
        endpoint + path, data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: bytes = response.read()
        return answer


class MotoServer:
    """One ``python -m moto.server`` subprocess, its output going to a log file."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        """Poll ``/moto-api/`` until it answers; raise if the process died or never did."""
        for _ in range(_READY_TRIES):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"moto server exited with {self.process.returncode}: "
                    f"{self.log_path.read_text(errors='replace')[-2000:]}"
                )
            try:
                with urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1):
                    return
            except OSError:
                # Not listening yet: a short pause between polls of a starting subprocess
                # (there is no event to wait on across processes).
                time.sleep(0.05)
        raise RuntimeError(f"moto server on {self.endpoint} did not answer in time")

    def stop(self) -> None:
        """Terminate the server and wait for it (killing it if it will not go)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self._log.close()

    def requests_during(self, action: Callable[[], object]) -> list[str]:
        """The S3 requests the server logged while ``action`` ran, as ``"METHOD /path"``.

        After ``action``, a marker request is sent and the log read until it shows (the
        server logs each request once it answered it, in the order answered), so every
        request ``action`` made and saw answered is in the list.
        """
        start = self.log_path.stat().st_size
        action()
        marker = f"/moto-api/?marker={uuid.uuid4().hex}"
        with urllib.request.urlopen(self.endpoint + marker, timeout=10):
            pass
        for _ in range(_READY_TRIES):
            with open(self.log_path, "rb") as log:
                log.seek(start)
                lines = log.read().decode(errors="replace").splitlines()
            if any(marker in line for line in lines):
                break
            # The log is another process's file: nothing to wait on but its growth.
            time.sleep(0.05)
        else:
            raise RuntimeError(f"moto server never logged {marker}")
        found = []
        for line in lines:
            match = _REQUEST_LINE.search(line)
            if match and not match.group(2).startswith("/moto-api/"):
                found.append(f"{match.group(1)} {match.group(2)}")
        return found

    def reset(self) -> None:
        """Forget every bucket, object, multipart upload and IAM user."""
        moto_post(self.endpoint, "/moto-api/reset")

    def enable_auth(self) -> dict[str, str]:
        """Create an IAM user allowed everything, then make moto check credentials.

        Returns that user's ``aws_access_key_id`` / ``aws_secret_access_key``; call
        :meth:`disable_auth` afterwards.
        """
        import boto3

        iam = boto3.session.Session().client(
            "iam",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        iam.create_user(UserName="tester")
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
        iam.put_user_policy(
            UserName="tester", PolicyName="everything", PolicyDocument=json.dumps(policy)
        )
        key = iam.create_access_key(UserName="tester")["AccessKey"]
        moto_post(self.endpoint, "/moto-api/reset-auth", b"0")
        return {
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
        }

    def disable_auth(self) -> None:
        """Stop checking credentials."""
        moto_post(self.endpoint, "/moto-api/reset-auth", b"inf")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A moto S3 server for the whole test session, stopped at its end."""
    log_dir = Path(tempfile.mkdtemp(prefix="transferqueue-moto-"))
    server = MotoServer(log_dir / "moto.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def moto_endpoint(moto_server: MotoServer) -> str:
    """The moto server's URL, its state wiped for this test."""
    moto_server.reset()
    return moto_server.endpoint


@pytest.fixture
def s3_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3's usual configuration at the moto server; returns its URL."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL_S3",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    # No config file from the home folder changes what the tests talk to.
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    return moto_endpoint


def s3_client(**kwargs: Any) -> S3Client:
    """A boto3 S3 client from a fresh session (under ``s3_env``: the moto server)."""
    import boto3

    return boto3.session.Session().client("s3", **kwargs)
