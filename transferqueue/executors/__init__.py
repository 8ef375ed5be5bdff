"""Ready-made executors: local copies, S3, cross-storage and Hugging Face transfers.

Each executor is a callable ``executor(file, on_progress)`` for
:meth:`transferqueue.TransferQueue.queue_job`; the listing helpers turn a folder, an S3
prefix or a Hugging Face repo into the file list ``queue_job`` takes. S3 needs the extra
``transferqueue[s3]`` (boto3).
"""

from typing import TYPE_CHECKING, Any

from ._compare import COMPARE_MODES, skip_up_to_date
from ._files.atomic import atomic_destination
from ._files.file_lock import FileBusyError
from ._files.remote_names import UnsafeRemoteNameError
from ._hub.download import HuggingFaceDownload
from ._hub.errors import (
    HubAuthError,
    HubCertificateError,
    HubChecksumError,
    HubEntryError,
    HubError,
    HubNotFoundError,
    HubRequestError,
    HubSizeError,
    HubUnavailableError,
)
from ._hub.listing import list_hf_files
from ._hub.location import HuggingFaceLocation, parse_hf_url
from ._local.executor import LocalCopy
from ._local.listing import list_local_files
from ._path_filter import PathFilter
from ._routing import Transfer, list_files, location_kind, transfer_type_for
from ._s3_url import is_s3_url, parse_s3_url
from ._verify import ChecksumMismatchError

if TYPE_CHECKING:
    from ._s3 import S3Transfer, list_s3_objects, make_s3_client

# The S3 names that need boto3 (the extra ``transferqueue[s3]``): imported on first use,
# so that the other executors (and S3 URL parsing) work without it.
_S3_NAMES = frozenset({"S3Transfer", "list_s3_objects", "make_s3_client"})


def __getattr__(name: str) -> Any:
    """Import the S3 names on first use (PEP 562), with a clear error without boto3."""
    if name in _S3_NAMES:
        try:
            from . import _s3
        except ImportError as exc:
            raise ImportError(
                f"transferqueue.executors.{name} needs boto3: pip install 'transferqueue[s3]'"
            ) from exc
        return getattr(_s3, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "COMPARE_MODES",
    "ChecksumMismatchError",
    "FileBusyError",
    "HubAuthError",
    "HubCertificateError",
    "HubChecksumError",
    "HubEntryError",
    "HubError",
    "HubNotFoundError",
    "HubRequestError",
    "HubSizeError",
    "HubUnavailableError",
    "HuggingFaceDownload",
    "HuggingFaceLocation",
    "LocalCopy",
    "PathFilter",
    "S3Transfer",
    "Transfer",
    "UnsafeRemoteNameError",
    "atomic_destination",
    "is_s3_url",
    "list_files",
    "list_hf_files",
    "list_local_files",
    "list_s3_objects",
    "location_kind",
    "make_s3_client",
    "parse_hf_url",
    "parse_s3_url",
    "skip_up_to_date",
    "transfer_type_for",
]
