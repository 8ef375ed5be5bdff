"""The records handed out (jobs, files, progress), their enums and their JSON both ways.

Every record is a frozen attrs class with slots; collections are tuples. A record, once
handed out, never changes: the queue builds a new one for every change.
"""

from .enums import TransferFileStatus, TransferStatus, TransferType
from .file import TransferFile, file_from_dict
from .job import TransferJob, job_changes_to_dict, job_from_head, job_head_to_dict
from .progress import TransferProgress

__all__ = [
    "TransferFile",
    "TransferFileStatus",
    "TransferJob",
    "TransferProgress",
    "TransferStatus",
    "TransferType",
    "file_from_dict",
    "job_changes_to_dict",
    "job_from_head",
    "job_head_to_dict",
]
