"""Reading the lines of ``transferqueue cp --json`` as a consumer does."""

from __future__ import annotations

from typing import Any


def rebuild(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The job as a consumer of ``cp --json`` rebuilds it, as README.rst says: the first
    line's job, then each later line's job totals and changed files (the last line's
    whole job is not used, so that it can be compared with the result)."""
    created, *later = events
    assert created["event"] == "created"
    job: dict[str, Any] = created["job"]
    for event in later:
        assert event["event"] in ("updated", "ended")
        files = job["files"]
        if event["event"] == "updated":
            assert "files" not in event["job"]
        job = {**event["job"], "files": files}
        for change in event["changed_files"]:
            files[change["index"]] = change["file"]
    return job
