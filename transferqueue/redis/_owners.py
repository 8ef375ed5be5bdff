"""Which processes of a cluster are alive: heartbeats, and the owners declared lost.

Keys, under ``<namespace>:``: ``owners``, a sorted set of the processes that own jobs,
each scored by the end of its lease (ms of the server's clock, ``TIME``), pushed ahead by
each heartbeat and by each write of its jobs; ``lost``, the owners declared lost, scored
by when (kept a day); ``orphans``, the lost owners that may still have unfinished jobs;
``owned:<owner>``, a set of each owner's unfinished jobs (kept by the registry's writes);
``epoch``, a random token that a server which lost its data no longer has; ``suspects``,
the owners whose lease has ended, scored by when that was first seen (ms); ``longest``,
the longest lease (ms) of a process of the cluster this day.

An owner whose lease has ended is first only suspected: it is declared lost once it has
sent no heartbeat for a further ``longest`` lease. So an outage of Redis (or of the
network) that every process sat through, however long, declares nobody lost: once Redis
answers again, each live owner's next heartbeat, within a third of its lease, clears it.

One script, BEAT, does everything in one atomic step: it renews the caller's lease (unless
the caller was declared lost: a decision that is final), suspects the owners whose lease
has ended, declares lost those suspected for long enough (exactly one caller sees each
one so declared), and lists some unfinished
jobs of lost owners, which the caller then fails one by one (see
:meth:`~transferqueue.redis._registry.JobRegistry.fail_orphan`), each write of it checked
again in Redis, so that two processes never both fail one job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, cast

import attrs

from transferqueue._core.clock import utc_now
from transferqueue._core.failure import error_type_name
from transferqueue._log import logger
from transferqueue._records import TransferJob
from transferqueue._records.enums import TransferFileStatus, TransferStatus

from ._connection import RedisConnection
from ._errors import OwnerLostError
from ._keys import check_job_id
from ._lua_checks import key_types_check
from ._settings import MAX_LEASE

if TYPE_CHECKING:
    from redis.client import Pipeline

# How long an owner is remembered as lost: a process paused for longer would find its
# jobs failed but could not tell that it was declared lost.
LOST_KEPT = 86_400.0
# The most unfinished jobs of lost owners one beat lists (the next beat lists more).
ORPHANS_PER_BEAT = 100

BEAT = r"""
-- KEYS: 1 owners (zset: owner -> end of its lease, ms), 2 lost (zset: owner -> when it
-- was declared lost), 3 orphans (set of lost owners), 4 epoch, 5 suspects (zset: owner
-- -> when its ended lease was first seen), 6 longest (the cluster's longest lease, ms).
-- ARGV: 1 the caller's owner name ('' to sweep only), 2 its lease (ms), 3 the prefix of
-- the owners' sets of unfinished jobs, 4 the most jobs to list, 5 how long a lost owner
-- is remembered (ms), 6 the longest lease allowed (ms), 7 the epoch to store if there
-- is none.
-- Returns {alive, epoch, {owner, its unfinished jobs, ...: each owner declared lost now},
-- {owner, job id, owner, job id, ...}}:
-- alive is 0 when the caller was declared lost (its lease is then not renewed).
""" + key_types_check("zset", "zset", "set", "string", "zset", "string")
BEAT += r"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local me, lease, prefix = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local most, kept, longest = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])

-- A reader (no owner) stores nothing of its own: not the epoch, not its lease.
local epoch = redis.call('GET', KEYS[4])
if not epoch and me ~= '' then
  redis.call('SET', KEYS[4], ARGV[7])
  epoch = ARGV[7]
end
local alive = 1
if me ~= '' then
  if redis.call('ZSCORE', KEYS[2], me) then
    alive = 0
  else
    redis.call('ZADD', KEYS[1], now + lease, me)
    redis.call('ZREM', KEYS[5], me)
  end
end

local function number(key)
  local raw = redis.call('GET', key)
  if raw and #raw <= 15 and string.match(raw, '^%d+$') then return tonumber(raw) end
  return nil
end
local silence = number(KEYS[6])
if not silence or silence < lease or silence > longest then
  if me ~= '' then redis.call('SET', KEYS[6], lease, 'PX', kept) end
  silence = lease
elseif me ~= '' then
  redis.call('PEXPIRE', KEYS[6], kept)
end

-- Suspect each owner whose lease has ended (or ends further ahead than the longest lease
-- allowed: not written by a queue).
local ended = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
local beyond = string.format('(%d', now + longest)
for _, owner in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], beyond, '+inf')) do
  ended[#ended + 1] = owner
end
for _, owner in ipairs(ended) do
  if not redis.call('ZSCORE', KEYS[5], owner) then redis.call('ZADD', KEYS[5], now, owner) end
end
-- A suspect that sent a heartbeat since is cleared; one silent for the longest lease of
-- the cluster after its own ended is declared lost.
local declared = {}
local suspects = redis.call('ZRANGE', KEYS[5], 0, -1, 'WITHSCORES')
for i = 1, #suspects, 2 do
  local owner, since = suspects[i], tonumber(suspects[i + 1])
  local score = redis.call('ZSCORE', KEYS[1], owner)
  if not score or (tonumber(score) > now and tonumber(score) <= now + longest) then
    redis.call('ZREM', KEYS[5], owner)
  elseif now - since >= silence then
    redis.call('ZREM', KEYS[1], owner)
    redis.call('ZREM', KEYS[5], owner)
    redis.call('ZADD', KEYS[2], now, owner)
    redis.call('SADD', KEYS[3], owner)
    local jobs = 0
    if redis.call('TYPE', prefix .. owner)['ok'] == 'set' then
      jobs = redis.call('SCARD', prefix .. owner)
    end
    declared[#declared + 1] = owner
    declared[#declared + 1] = jobs
  end
end

for _, owner in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - kept))) do
  redis.call('ZREM', KEYS[2], owner)
  redis.call('SREM', KEYS[3], owner)
  redis.call('DEL', prefix .. owner)
end

local orphans = {}
for _, owner in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if #orphans >= 2 * most then break end
  local key = prefix .. owner
  local ids = {}
  if redis.call('TYPE', key)['ok'] == 'set' then
    ids = redis.call('SRANDMEMBER', key, most)
  end
  if #ids == 0 or not redis.call('ZSCORE', KEYS[2], owner) then
    redis.call('SREM', KEYS[3], owner)
  else
    for _, id in ipairs(ids) do
      orphans[#orphans + 1] = owner
      orphans[#orphans + 1] = id
    end
  end
end
return {alive, epoch or '', declared, orphans}
"""


class Beat(NamedTuple):
    """What one heartbeat (or sweep) found."""

    alive: bool
    """False when the caller has been declared lost."""
    epoch: str
    """The server's epoch: it changes when the server lost its data ("" to a reader
    while no owner stored one)."""
    declared: list[tuple[str, int]]
    """The owners this call declared lost (no other call declares them), each with the
    number of its unfinished jobs."""
    orphans: list[tuple[str, str]]
    """Some unfinished jobs of lost owners, as ``(owner, job id)``."""


class Owners:
    """The liveness keys of one namespace on one server."""

    def __init__(self, connection: RedisConnection, namespace: str) -> None:
        self._connection = connection
        base = f"{namespace}:"
        self._keys = [base + "owners", base + "lost", base + "orphans", base + "epoch"]
        self._keys += [base + "suspects", base + "longest"]
        self.owned_prefix = base + "owned:"
        self.owners_key, self.lost_key = self._keys[0], self._keys[1]
        self._beat = connection.script(BEAT)

    def beat(self, owner: str | None, lease: float, new_epoch: str) -> Beat:
        """Renew ``owner``'s lease (None: only look), suspect the owners whose lease
        ended, declare lost those silent for a further lease, and list unfinished jobs of
        lost owners; ``new_epoch`` is stored should the server have none (by an owner:
        a look stores nothing of its own). One round trip."""
        args: list[str | int] = [
            owner or "",
            int(lease * 1000),
            self.owned_prefix,
            ORPHANS_PER_BEAT,
            int(LOST_KEPT * 1000),
            int(MAX_LEASE * 1000),
            new_epoch,
        ]
        reply = self._connection.call("sending a heartbeat", lambda: self._beat(self._keys, args))
        alive, epoch, declared, orphans = cast(
            tuple[int, bytes, list["bytes | int"], list[bytes]], reply
        )
        pairs, malformed = _pairs(orphans)
        if malformed:
            self._drop(malformed)
        return Beat(alive == 1, epoch.decode("utf-8", "replace"), _declared(declared), pairs)

    def _drop(self, malformed: list[tuple[bytes, bytes]]) -> None:
        """Take out of the lost owners' sets what no queue wrote there."""
        prefix = self.owned_prefix.encode()

        def build(pipeline: Pipeline) -> None:
            for owner, job_id in malformed:
                pipeline.srem(prefix + owner, job_id)

        self._connection.pipelined("dropping malformed job ids", build)


def _declared(raws: list[bytes | int]) -> list[tuple[str, int]]:
    found = []
    for raw, jobs in zip(raws[::2], raws[1::2], strict=True):
        name = check_job_id(cast(bytes, raw))
        if name is None:
            logger.warning(
                "an owner name in Redis that no queue makes was dropped: %r", cast(bytes, raw)[:60]
            )
        else:
            found.append((name, cast(int, jobs)))
    return found


def _pairs(raws: list[bytes]) -> tuple[list[tuple[str, str]], list[tuple[bytes, bytes]]]:
    pairs = []
    malformed = []
    for owner_raw, job_raw in zip(raws[::2], raws[1::2], strict=True):
        owner, job_id = check_job_id(owner_raw), check_job_id(job_raw)
        if owner is None or job_id is None:
            logger.warning(
                "skipped a job of a lost owner in Redis that no queue makes: %r %r",
                owner_raw[:60],
                job_raw[:60],
            )
            malformed.append((owner_raw, job_raw))
        else:
            pairs.append((owner, job_id))
    return pairs, malformed


def lost_message(owner: str) -> str:
    """The error of a job whose owner was lost, and of its unfinished files."""
    return f"its owner process {owner} was lost: no heartbeat within its lease"


LOST_TYPE = error_type_name(OwnerLostError)
"""The ``error_type`` of the files a lost owner left unfinished."""

_ENDED_FILES = (TransferFileStatus.COMPLETED, TransferFileStatus.ERROR, TransferFileStatus.SKIPPED)


def fail_lost_job(job: TransferJob, message: str) -> tuple[TransferJob, list[int]]:
    """``job``, unfinished, as failed because its owner was lost: each file that had not
    ended becomes ``error`` with ``message``; returns it and the indexes of those files."""
    files = list(job.files)
    changed = []
    for index, file in enumerate(files):
        if file.status not in _ENDED_FILES:
            files[index] = attrs.evolve(
                file,
                status=TransferFileStatus.ERROR,
                error=message,
                error_type=LOST_TYPE,
                retry_at=None,
            )
            changed.append(index)
    failed = sum(1 for file in files if file.status is TransferFileStatus.ERROR)
    progress = attrs.evolve(
        job.progress, failed_files=failed, bytes_per_second=None, eta_seconds=None
    )
    ended = attrs.evolve(
        job,
        status=TransferStatus.FAILED,
        files=tuple(files),
        progress=progress,
        completed_at=utc_now(),
        error=message,
    )
    return ended, changed
