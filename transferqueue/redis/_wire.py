"""Jobs as the registry stores them in Redis: JSON text, never pickle, and read back as
untrusted data.

A job is one hash (see :mod:`._registry`): ``head`` is the JSON of ``job.to_dict()``
without its files, ``f:<index>`` the JSON of each file's ``to_dict()``, ``owner`` the
process that owns it (``host:pid:token``) and ``seq`` the number of its last event.
Reading checks every field (:mod:`transferqueue._records`) and that the hash holds
exactly the job's files: anything else raises ``ValueError``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from json.encoder import encode_basestring_ascii
from typing import Any

from transferqueue._records import (
    TransferFile,
    TransferJob,
    file_from_dict,
    job_from_head,
    job_head_to_dict,
)
from transferqueue._records.enums import TransferFileStatus

HEAD = b"head"
OWNER = b"owner"
SEQ = b"seq"
FILE_PREFIX = "f:"
_FILE_PREFIX_BYTES = FILE_PREFIX.encode()
_COMPACT = (",", ":")
# Made once: json.dumps() with separators makes a new encoder on every call.
_ENCODER = json.JSONEncoder(separators=_COMPACT)
_STATUS_TEXT = {status: encode_basestring_ascii(status.value) for status in TransferFileStatus}


def encode_head(job: TransferJob) -> str:
    """The JSON of the job without its files."""
    return _ENCODER.encode(job_head_to_dict(job))


def encode_file(file: TransferFile) -> str:
    """The JSON of one file: the very text ``json.dumps(file.to_dict(), separators=(",",
    ":"))`` gives, written field by field (a job's files are encoded on every change, and
    the generic encoder took 5 us a file where this takes about 1)."""
    if file.retry_at is not None:  # a file waiting for its retry: rare, and a datetime
        return _ENCODER.encode(file.to_dict())
    error, error_type = file.error, file.error_type
    return (
        f'{{"source_path":{encode_basestring_ascii(file.source_path)},'
        f'"destination_path":{encode_basestring_ascii(file.destination_path)},'
        f'"size":{int.__repr__(file.size)},"loaded":{int.__repr__(file.loaded)},'
        f'"status":{_STATUS_TEXT[file.status]},'
        f'"error":{"null" if error is None else encode_basestring_ascii(error)},'
        f'"attempts":{int.__repr__(file.attempts)},"retry_at":null,'
        f'"error_type":{"null" if error_type is None else encode_basestring_ascii(error_type)}}}'
    )


def hash_fields(encoded: Iterable[tuple[int, str]]) -> str:
    """The files already encoded as the hash's fields and values, one a line:
    ``f:<index>``, its JSON, the next field, and so on (:data:`._registry_lua.PUBLISH`
    splits them). One argument rather than two per file: redis-py copies its buffer once
    per argument of a command (1.2 ms for a job of 500 files). JSON as encoded here never
    holds a line break (the encoder escapes every control character)."""
    return "\n".join(f"{FILE_PREFIX}{index}\n{data}" for index, data in encoded)


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
