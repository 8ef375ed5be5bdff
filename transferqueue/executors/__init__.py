"""Ready-made executors: local copies, S3, cross-storage and Hugging Face transfers.

Each executor is a callable ``executor(file, on_progress)`` for
:meth:`transferqueue.TransferQueue.queue_job`; the listing helpers turn a folder, an S3
prefix or a Hugging Face repo into the file list ``queue_job`` takes. S3 needs the extra
``transferqueue[s3]`` (boto3).
"""

from ._atomic import atomic_destination
from ._huggingface import (
    HubAuthError,
    HubChecksumError,
    HubError,
    HubNotFoundError,
    HubRequestError,
    HubUnavailableError,
    HuggingFaceDownload,
    HuggingFaceLocation,
    list_hf_files,
    parse_hf_url,
)

__all__ = [
    "HubAuthError",
    "HubChecksumError",
    "HubError",
    "HubNotFoundError",
    "HubRequestError",
    "HubUnavailableError",
    "HuggingFaceDownload",
    "HuggingFaceLocation",
    "atomic_destination",
    "list_hf_files",
    "parse_hf_url",
]
