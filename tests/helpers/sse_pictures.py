"""What a client of the streams does with their job messages: rebuild each job whole.

A job message is ``{"job": JOB}`` with the whole job (its ``files`` included), or
``{"job": TOTALS, "changedFiles": [{"index": I, "file": FILE}, ...]}`` (``changed_files``
in snake_case) with the job without its files and the files that changed. :class:`Pictures`
checks each message's shape strictly and applies it as README.rst tells a client to, so
the tests compare whole jobs and prove, at the same time, that the messages rebuild them.
"""

from __future__ import annotations

from typing import Any

CHANGED_KEYS = ("changedFiles", "changed_files")


class Pictures:
    """Every job a client was told of, as its messages rebuild it."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}

    def copy(self) -> Pictures:
        """What this client has now, for a reconnect that resumes from here (messages
        replace a job's dict rather than change it, so sharing them is safe)."""
        copied = Pictures()
        copied.jobs = dict(self.jobs)
        return copied

    def take_list(self, jobs: list[dict[str, Any]]) -> None:
        """An ``event: jobs`` list: whole jobs."""
        for job in jobs:
            assert isinstance(job["files"], list), job
            self.jobs[job["id"]] = job

    def apply(self, message: Any) -> dict[str, Any]:
        """Apply one job message; return the job as the client now has it (a new dict)."""
        assert isinstance(message, dict), message
        job: dict[str, Any] = message.get("job")  # type: ignore[assignment]
        assert isinstance(job, dict), message
        changed_keys = [key for key in CHANGED_KEYS if key in message]
        if not changed_keys:  # the job whole
            assert set(message) == {"job"}, message
            assert isinstance(job["files"], list), message
            self.jobs[job["id"]] = job
            return job
        [key] = changed_keys
        assert set(message) == {"job", key}, message
        assert "files" not in job, message
        assert job["id"] in self.jobs, f"changes of a job never sent whole: {message}"
        files = list(self.jobs[job["id"]]["files"])
        indexes = [entry["index"] for entry in message[key]]
        assert indexes == sorted(set(indexes)), message  # ascending, each once
        for entry in message[key]:
            assert set(entry) == {"index", "file"}, entry
            assert 0 <= entry["index"] < len(files), entry
            files[entry["index"]] = entry["file"]
        whole = dict(job, files=files)
        self.jobs[job["id"]] = whole
        return whole
