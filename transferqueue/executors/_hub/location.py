"""Where a Hugging Face file lives: ``hf://`` URLs, the hub's endpoint and the token."""

from __future__ import annotations

import os
import re
import urllib.parse
from typing import Literal

import attrs

DEFAULT_ENDPOINT = "https://huggingface.co"
"""The hub used when neither ``endpoint=`` nor ``HF_ENDPOINT`` says otherwise."""

RepoType = Literal["model", "dataset", "space"]
_PREFIXES: dict[str, RepoType] = {"datasets": "dataset", "spaces": "space"}
URL_PREFIX: dict[RepoType, str] = {"model": "", "dataset": "datasets/", "space": "spaces/"}
API_KIND: dict[RepoType, str] = {"model": "models", "dataset": "datasets", "space": "spaces"}
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?")


@attrs.frozen
class HuggingFaceLocation:
    """A file or folder of a Hugging Face repository, as an ``hf://`` URL names it.

    ``path`` is ``""`` for the repository's root; ``revision`` is a branch, tag or commit.
    """

    repo_type: RepoType
    repo_id: str
    revision: str = "main"
    path: str = ""

    def url(self) -> str:
        """The canonical ``hf://`` URL, revision included, which :func:`parse_hf_url`
        reads back as this location."""
        tail = f"/{self.path}" if self.path else ""
        revision = _revision_in_url(self.revision)
        return f"hf://{URL_PREFIX[self.repo_type]}{self.repo_id}@{revision}{tail}"

    def resolve_url(self, endpoint: str) -> str:
        """The hub URL that serves this file's bytes: ``{endpoint}/…/resolve/{rev}/{path}``."""
        return (
            f"{endpoint.rstrip('/')}/{URL_PREFIX[self.repo_type]}{self.repo_id}/resolve/"
            f"{urllib.parse.quote(self.revision, safe='')}/{urllib.parse.quote(self.path)}"
        )

    def describe(self) -> str:
        """``model owner/repo@main: path`` for error messages."""
        where = f"{self.repo_type} {self.repo_id}@{self.revision}"
        return f"{where}: {self.path}" if self.path else where


def _revision_in_url(revision: str) -> str:
    """``revision`` as an ``hf://`` URL holds it: ``refs/pr/N`` and ``refs/convert/NAME``
    as they are (:func:`parse_hf_url` knows them), any other ``/`` (a branch such as
    ``feature/x``) and ``%`` percent-encoded, so that the slash is not read as the start
    of the path."""
    parts = revision.split("/")
    if len(parts) == 3 and parts[0] == "refs" and parts[1] in ("pr", "convert"):
        return revision
    return revision.replace("%", "%25").replace("/", "%2F")


def parse_hf_url(url: str) -> HuggingFaceLocation:
    """Parse ``hf://[datasets/|spaces/]owner/repo[@revision][/path]``.

    The revision may be a branch, tag or commit, or ``refs/pr/N`` / ``refs/convert/NAME``
    (percent-encoded slashes are accepted too). The path's segments may not be empty,
    ``.`` or ``..``, nor hold a backslash or a NUL. Raises ``ValueError`` naming the
    problem.
    """
    if not isinstance(url, str):
        raise TypeError(f"a Hugging Face URL is a str, not {type(url).__name__}")
    if not url.startswith("hf://"):
        raise ValueError(f"not a Hugging Face URL (expected hf://owner/repo...): {url!r}")
    rest = url[len("hf://") :]
    parts = rest.split("/")
    repo_type: RepoType = "model"
    if parts and parts[0] in _PREFIXES:
        repo_type = _PREFIXES[parts.pop(0)]
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ValueError(f"Hugging Face URL needs owner/repo: {url!r}")
    owner, name = parts[0], parts[1]
    tail = parts[2:]
    revision = "main"
    if "@" in name:
        name, revision = name.split("@", 1)
        revision = urllib.parse.unquote(revision)
        # refs/pr/N and refs/convert/NAME hold slashes (unless written with %2F).
        if revision == "refs" and len(tail) >= 2 and tail[0] in ("pr", "convert"):
            revision = "/".join(["refs", tail[0], tail[1]])
            tail = tail[2:]
        if not revision:
            raise ValueError(f"Hugging Face URL has an empty revision after '@': {url!r}")
    for label, value in (("owner", owner), ("repository name", name)):
        if not _NAME.fullmatch(value) or ".." in value:
            raise ValueError(f"Hugging Face URL has an invalid {label} {value!r}: {url!r}")
    if any(c in revision for c in "\\\n\r\t\x00 ") or ".." in revision.split("/"):
        raise ValueError(f"Hugging Face URL has an invalid revision {revision!r}: {url!r}")
    if tail and tail[-1] == "":
        tail = tail[:-1]  # a trailing slash names the same folder
    if any(segment in ("", ".", "..") or "\\" in segment or "\x00" in segment for segment in tail):
        raise ValueError(f"Hugging Face URL has an invalid path: {url!r}")
    return HuggingFaceLocation(
        repo_type=repo_type, repo_id=f"{owner}/{name}", revision=revision, path="/".join(tail)
    )


def endpoint_url(endpoint: str | None) -> str:
    """``endpoint``, else ``HF_ENDPOINT``, else the public hub; without a trailing slash.
    Raises ``ValueError`` for anything but an http(s) URL."""
    value = endpoint if endpoint is not None else os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
    value = value.strip().rstrip("/")
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        # Shown without the user name and password it may hold: whatever comes before
        # its last "@", but its scheme.
        head, separator, host = value.rpartition("@")
        scheme, has_scheme, _ = head.partition("://")
        shown = value if not separator else f"{scheme + has_scheme if has_scheme else ''}***@{host}"
        raise ValueError(f"Hugging Face endpoint must be an http(s) URL, not {shown!r}")
    return value


def token_value(token: str | None) -> str | None:
    """``token``, else ``HF_TOKEN``; None when neither holds anything but blanks."""
    value = token if token is not None else os.environ.get("HF_TOKEN")
    return value.strip() or None if value else None
