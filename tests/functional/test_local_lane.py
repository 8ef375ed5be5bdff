"""The lane of small local copies (``transferqueue.executors._local.lane``).

Which file systems count as local, read from ``/proc/self/mountinfo`` (odd and hostile
lines included), and which copies take the lane: small files between local file
systems reported to the queue's own ``on_progress`` without a cap; never an
application's ``on_progress``, a capped queue, a big file or a remote file system. The
lane's effect on speed is measured in ``benchmarks/copy.py``, not here.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

import transferqueue as tq
from tests.helpers.bounds import WAIT
from transferqueue.executors import LocalCopy
from transferqueue.executors._local import lane as _lane
from transferqueue.executors._local.lane import SMALL_FILE, is_local_device, local_type

KiB = 1024


class SpyLane:
    """Stands in for the lane's lock: counts its acquisitions, and tells whether it is
    held (by any thread) right now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.taken = 0
        self.held = False

    def acquire(self) -> bool:
        self._lock.acquire()
        self.taken += 1
        self.held = True
        return True

    def release(self) -> None:
        self.held = False
        self._lock.release()


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> SpyLane:
    """The lane, spied on; the devices' verdicts start afresh."""
    spy = SpyLane()
    monkeypatch.setattr(_lane, "_lane", spy)
    monkeypatch.setattr(_lane, "_local_devices", {})
    return spy


def _local_here(path: Path) -> bool:
    return is_local_device(os.stat(path).st_dev)


def _small_files(folder: Path, count: int, size: int = 4 * KiB) -> list[dict[str, Any]]:
    """``count`` files of ``size`` bytes in ``folder/src``, mapped to ``folder/dst``."""
    (folder / "src").mkdir()
    files = []
    for index in range(count):
        source = folder / "src" / f"f{index}"
        source.write_bytes(os.urandom(size))
        files.append(
            {
                "source_path": str(source),
                "destination_path": str(folder / "dst" / f"f{index}"),
                "size": size,
            }
        )
    return files


def _copied(files: list[dict[str, Any]]) -> bool:
    return all(
        Path(file["destination_path"]).read_bytes() == Path(file["source_path"]).read_bytes()
        for file in files
    )


# --- mountinfo -----------------------------------------------------------------------

_MOUNTINFO = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683664k
30 25 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683664k
40 27 0:40 /export /mnt/my\\040share rw shared:5 master:2 - nfs4 server:/export rw,vers=4.2
41 27 0:41 / /home/me/remote rw,nosuid - fuse.sshfs me@host:/ rw,user_id=0
"""


@pytest.mark.parametrize(
    ("device", "kind"),
    [
        (os.makedev(254, 0), "ext4"),  # optional fields before the separator
        (os.makedev(0, 23), "tmpfs"),  # mounted twice: one type
        (os.makedev(0, 40), "nfs4"),  # an escaped space in the mount point
        (os.makedev(0, 41), "fuse.sshfs"),
        (os.makedev(0, 99), None),  # not mounted
        (os.makedev(0, 2), None),  # 0:2 is no prefix match of 0:21 or 0:23
    ],
)
def test_the_type_of_a_device_is_read_from_its_line(device: int, kind: str | None) -> None:
    """Each device's file system type is the field after the lone ``-``."""
    assert local_type(_MOUNTINFO, device) == kind


@pytest.mark.parametrize(
    "line",
    [
        "",
        "   ",
        "0:23",
        "1 2 0:23 / /x rw - ",  # nothing after the separator
        "1 2 0:23 / /x rw tmpfs tmpfs rw",  # no separator
        "1 2 0:23 - - rw ext4 tmpfs",  # dashes as root and mount point only
        "1 2 0:23",
        "\x00\x01 \udcff 0:23 \t/\t-",  # control characters, an undecodable byte
        "1 2 0:023 / /x rw - ext4 /dev/x rw",  # another spelling of the device
        "x" * 10_000,
    ],
)
def test_odd_lines_are_skipped(line: str) -> None:
    """A line that does not parse as a mount of the device says nothing: the device
    stays unknown, and the next well-formed line still counts."""
    device = os.makedev(0, 23)
    assert local_type(line, device) is None
    assert local_type(f"{line}\n1 2 0:23 / /y rw - xfs /dev/y rw\n", device) == "xfs"


def test_devices_are_judged_once_from_mountinfo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Local types are local, network and FUSE ones are not, an unknown device is not;
    each device's verdict is remembered (mountinfo read once per device)."""
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(_MOUNTINFO)
    monkeypatch.setattr(_lane, "_MOUNTINFO", str(mountinfo))
    monkeypatch.setattr(_lane, "_local_devices", {})
    assert is_local_device(os.makedev(254, 0))
    assert is_local_device(os.makedev(0, 23))
    assert not is_local_device(os.makedev(0, 40))
    assert not is_local_device(os.makedev(0, 41))
    assert not is_local_device(os.makedev(0, 99))
    mountinfo.unlink()  # remembered: no second reading
    assert is_local_device(os.makedev(254, 0))
    assert not is_local_device(os.makedev(0, 40))


def test_no_mountinfo_means_no_lane(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where /proc/self/mountinfo cannot be read, no device counts as local."""
    monkeypatch.setattr(_lane, "_MOUNTINFO", str(tmp_path / "missing"))
    monkeypatch.setattr(_lane, "_local_devices", {})
    assert not is_local_device(os.makedev(254, 0))


def test_a_forked_child_gets_a_free_lane() -> None:
    """A child forked while a thread of the parent held the lane gets a lane of its own,
    free: nobody in the child would ever release the inherited one."""
    with _lane.lane():
        pid = os.fork()
        if pid == 0:  # the child: exit status 0 if its lane is free
            os._exit(0 if _lane.lane().acquire(blocking=False) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# --- which copies take the lane -----------------------------------------------------------


@pytest.mark.skipif(not os.path.isfile("/proc/self/mountinfo"), reason="needs /proc")
def test_small_local_files_are_copied_in_the_lane(tmp_path: Path, spy: SpyLane) -> None:
    """Through a queue of 4 workers, every file after the first into a folder takes the
    lane (the first tells the destination folder's file system), and the queue's own
    on_progress is called in it."""
    if not _local_here(tmp_path):
        pytest.skip("the test folder is not on a local file system")
    files = _small_files(tmp_path, 40)
    with tq.TransferQueue(4) as queue:
        job = queue.wait(queue.queue_job("local-upload", files, LocalCopy()), timeout=WAIT)
    assert job.status is tq.TransferStatus.COMPLETED
    assert _copied(files)
    assert spy.taken >= 40 - 4  # up to 4 files start at once into the unknown folder
    assert not spy.held


def test_an_application_on_progress_is_never_called_in_the_lane(
    tmp_path: Path, spy: SpyLane
) -> None:
    """An executor that hands the copy a function around the queue's on_progress (user
    code, which could block) keeps the copy out of the lane."""
    files = _small_files(tmp_path, 20)
    copy = LocalCopy()
    in_lane: list[bool] = []

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        def logged(loaded: int) -> None:
            in_lane.append(spy.held)
            on_progress(loaded)

        copy(file, logged)

    with tq.TransferQueue(4) as queue:
        job = queue.wait(queue.queue_job("local-upload", files, executor), timeout=WAIT)
    assert job.status is tq.TransferStatus.COMPLETED
    assert _copied(files)
    assert in_lane
    assert not any(in_lane)
    assert spy.taken == 0


def test_a_capped_queue_keeps_its_copies_out_of_the_lane(tmp_path: Path, spy: SpyLane) -> None:
    """Under a bandwidth cap a copy may wait for it: never in the lane."""
    files = _small_files(tmp_path, 10)
    with tq.TransferQueue(2, bandwidth_limit=1024 * 1024 * 1024) as queue:
        job = queue.wait(queue.queue_job("local-upload", files, LocalCopy()), timeout=WAIT)
    assert job.status is tq.TransferStatus.COMPLETED
    assert _copied(files)
    assert spy.taken == 0


@pytest.mark.skipif(not os.path.isfile("/proc/self/mountinfo"), reason="needs /proc")
def test_big_files_and_files_grown_big_copy_outside_the_lane(tmp_path: Path, spy: SpyLane) -> None:
    """A file listed bigger than the lane's limit never takes it; one listed small but
    grown since takes it only until its size is known, and is copied whole outside it."""
    if not _local_here(tmp_path):
        pytest.skip("the test folder is not on a local file system")
    files = _small_files(tmp_path, 3)
    grown = Path(files[2]["source_path"])
    grown.write_bytes(os.urandom(SMALL_FILE + 1))  # still listed as 4 KiB
    big = tmp_path / "src" / "big"
    big.write_bytes(os.urandom(SMALL_FILE + 1))
    files.append(
        {
            "source_path": str(big),
            "destination_path": str(tmp_path / "dst" / "big"),
            "size": SMALL_FILE + 1,
        }
    )
    held_after: list[bool] = []
    copy = LocalCopy(chunk_size=16 * KiB)

    def executor(file: tq.TransferFile, on_progress: tq.ProgressCallback) -> None:
        before = spy.taken
        copy(file, on_progress)
        held_after.append(spy.held)
        if file.source_path in (str(grown), str(big)):
            assert spy.taken == before + (file.source_path == str(grown))

    with tq.TransferQueue(1) as queue:
        job = queue.wait(queue.queue_job("local-upload", files, executor), timeout=WAIT)
    assert job.status is tq.TransferStatus.COMPLETED, job.error
    assert Path(files[2]["destination_path"]).read_bytes() == grown.read_bytes()
    assert (tmp_path / "dst" / "big").read_bytes() == big.read_bytes()
    assert spy.taken == 2  # the second file and the grown one; the first told the folder
    assert not any(held_after)


def test_remote_file_systems_keep_their_parallelism(
    tmp_path: Path, spy: SpyLane, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files on a file system that is not local (here every device reads as NFS) are
    copied side by side, never in the lane."""
    mountinfo = tmp_path / "mountinfo"
    device = os.stat(tmp_path).st_dev
    mountinfo.write_text(f"1 1 {os.major(device)}:{os.minor(device)} / / rw - nfs4 server:/ rw\n")
    monkeypatch.setattr(_lane, "_MOUNTINFO", str(mountinfo))
    files = _small_files(tmp_path, 10)
    with tq.TransferQueue(2) as queue:
        job = queue.wait(queue.queue_job("local-upload", files, LocalCopy()), timeout=WAIT)
    assert job.status is tq.TransferStatus.COMPLETED
    assert _copied(files)
    assert spy.taken == 0
