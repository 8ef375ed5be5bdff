"""The demo's guard against other sites: only its own names in ``Host``, own ``Origin``.

The demo's routes are public (it has no login) and listen on 127.0.0.1, which keeps
other machines out but not other web pages open in the same browser:

- **DNS rebinding**: a page on ``evil.example`` whose name then resolves to 127.0.0.1 can
  read and write the demo as a page of ``evil.example``, same-origin; its requests carry
  ``Host: evil.example:PORT``. So every request, the page, its files and the streams
  included, must name the demo by one of its own names and its port, or is answered 400
  before it reaches a route.
- **Cross-site requests**: a page elsewhere may send a ``POST`` or ``DELETE`` to
  ``http://127.0.0.1:PORT`` (reading the answer needs CORS, sending does not). A browser
  names the sending page's origin in ``Origin``: a state-changing request whose
  ``Origin`` is not the demo's own is answered 403. Requests without ``Origin`` (curl,
  scripts) pass; starting a sample also needs a JSON body, which no cross-site form
  can send.

The port is the one the request came in on, the WSGI ``SERVER_PORT``, so the app can be
made before the server picks a free port. werkzeug's server, which
``transferqueue demo --web`` runs, sets it from its socket; a server that took it from
the ``Host`` header instead would leave the port unchecked, but not the name.
"""

from __future__ import annotations

from collections.abc import Iterable

import flask

LOCAL_NAMES = ("127.0.0.1", "localhost", "::1")
"""The names of this machine that the demo always answers to."""

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _host_values(names: Iterable[str], port: str) -> set[str]:
    """Every ``Host`` header value that names one of ``names`` with ``port``."""
    values = set()
    for name in names:
        if not name:
            continue
        host = f"[{name}]" if ":" in name else name
        values.add(f"{host}:{port}".lower())
        if port == "80":  # a browser leaves the default port out
            values.add(host.lower())
    return values


def guard_local_only(app: flask.Flask, names: Iterable[str]) -> None:
    """Make ``app`` refuse requests that do not name it by one of ``names`` (see above)."""
    known = tuple(names)

    @app.before_request
    def check_host_and_origin() -> tuple[flask.Response, int] | None:
        request = flask.request
        accepted = _host_values(known, str(request.environ.get("SERVER_PORT", "")))
        if request.headers.get("Host", "").lower() not in accepted:
            error = "this demo answers only to its own names in Host (127.0.0.1, localhost)"
            return flask.jsonify({"error": error}), 400
        origin = request.headers.get("Origin")
        if request.method not in _SAFE_METHODS and origin is not None:
            scheme, _, host = origin.lower().partition("://")
            if scheme != "http" or host not in accepted:
                return flask.jsonify({"error": "requests from other sites are refused"}), 403
        return None
