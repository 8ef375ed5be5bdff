"""Jobs as the registry stores them in Redis: JSON text, never pickle, and read back as
untrusted data.

A job is one hash (see :mod:`._registry`): ``head`` is the JSON of ``job.to_dict()``
without its files, ``f:<index>`` the JSON of each file's ``to_dict()``, ``owner`` the
process that owns it (``host:pid:token``) and ``seq`` the number of its last event.
Reading checks every field (:mod:`transferqueue._records.from_json`) and that the hash holds
exactly the job's files: anything else raises ``ValueError``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from transferqueue._records.from_json import file_from_dict, job_from_head
from transferqueue._records.records import TransferFile, TransferJob
from transferqueue._records.to_json import job_head_to_dict

HEAD = b"head"
OWNER = b"owner"
SEQ = b"seq"
FILE_PREFIX = "f:"
_FILE_PREFIX_BYTES = FILE_PREFIX.encode()
_COMPACT = (",", ":")


def encode_head(job: TransferJob) -> str:
    """The JSON of the job without its files."""
    return json.dumps(job_head_to_dict(job), separators=_COMPACT)


def encode_file(file: TransferFile) -> str:
    """The JSON of one file."""
    return json.dumps(file.to_dict(), separators=_COMPACT)


def stream_files(encoded: Iterable[tuple[int, str]]) -> str:
    """The JSON object ``{"<index>": file, ...}`` of files already encoded."""
    return "{" + ",".join(f'"{index}":{data}' for index, data in encoded) + "}"


def _json(raw: bytes, where: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested too deep
        raise ValueError(f"{where} is not JSON: {type(exc).__name__}") from None


def decode_head_status(raw: bytes) -> str | None:
    """The ``status`` a head's JSON says, without checking the rest (None if it has none
    that is a string): only to decide whether to read the whole job."""
    data = _json(raw, "head")
    status = data.get("status") if isinstance(data, dict) else None
    return status if isinstance(status, str) else None


def decode_job(job_id: str, fields: Mapping[bytes, bytes]) -> TransferJob:
    """The job a registry hash holds, every field checked; ``ValueError`` otherwise."""
    raw_head = fields.get(HEAD)
    if raw_head is None:
        raise ValueError("the hash has no head")
    head = _json(raw_head, "head")
    count = 0
    indexed: dict[int, bytes] = {}
    for name, value in fields.items():
        if name in (HEAD, OWNER, SEQ):
            continue
        index = _file_index(name)
        indexed[index] = value
        count += 1
    files: list[TransferFile] = []
    for index in range(count):
        raw = indexed.get(index)
        if raw is None:
            raise ValueError(f"file {index} of {count} is missing")
        files.append(file_from_dict(_json(raw, f"files[{index}]"), f"files[{index}]"))
    job = job_from_head(head, files)
    if job.id != job_id:
        raise ValueError(f"the hash of {job_id} holds job {job.id!r}")
    return job


def _file_index(name: bytes) -> int:
    digits = name[len(_FILE_PREFIX_BYTES) :]
    if (
        name.startswith(_FILE_PREFIX_BYTES)
        and digits.isdigit()
        and len(digits) <= 9
        and (digits == b"0" or not digits.startswith(b"0"))
    ):
        return int(digits)
    raise ValueError(f"the hash has an unknown field {name[:40]!r}")
