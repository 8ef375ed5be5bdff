"""The registry's Lua scripts: each one atomic on the Redis server.

PUBLISH checks the types of its keys before it writes anything: a key of another type
(something else wrote there) makes it fail with an error reply that starts with
``transferqueue:`` and names the key, and changes nothing. It also keeps the owners'
liveness (see :mod:`._owners`): a write is a sign of life of its owner, an owner declared
lost writes nothing more, and a job that has ended is never written again. TRIM deletes whatever its
ids name.
"""

from __future__ import annotations

from ._lua_checks import key_types_check

PUBLISH = r"""
-- KEYS: 1 the job's hash, 2 every job (zset by creation, ms), 3 the unfinished jobs
-- (zset by creation), 4 the finished jobs (zset by end, ms), 5 the job's stream, 6 the
-- namespace's stream (which job had which event, for whoever follows every job), 7 the
-- live owners (zset by the end of their lease, ms), 8 the owners declared lost.
-- ARGV: 1 job id, 2 event number, 3 head JSON, 4 owner, 5 created ms, 6 ended ms (''
-- while the job is unfinished), 7 stream length, 8 stream expiry after the end (ms),
-- 9 changed files JSON (for the stream entry), 10 '1' if every file follows, else '0',
-- 11 the owner's lease (ms), 12 the prefix of the owners' sets of unfinished jobs,
-- 13 '1' when another process fails the job of a lost owner (the event must follow the
-- one stored, and the job still be that owner's), else '0', 14 the files' hash fields
-- and values, one a line ('' for none).
-- Returns the stream entry's id; false for an event older than the one stored (a
-- repeated call) or for a job that has ended (terminal is final); 0 when only some files
-- follow but the job is missing (Redis lost it): nothing is written, the caller writes
-- the job whole; -1 when the owner was declared lost: nothing is written.
""" + key_types_check("hash", "zset", "zset", "zset", "stream", "stream", "zset", "zset")
PUBLISH += r"""
local seq, owner, owned = tonumber(ARGV[2]), ARGV[4], ARGV[12]
local stored = redis.call('HGET', KEYS[1], 'seq')
local lost = redis.call('ZSCORE', KEYS[8], owner)
local previous = redis.call('HGET', KEYS[1], 'owner')
if ARGV[13] == '1' then
  if not lost or previous ~= owner or not stored or tonumber(stored) ~= seq - 1 then
    return false
  end
elseif lost then
  return -1
end
if stored and tonumber(stored) and tonumber(stored) >= seq then return false end
if not stored and ARGV[10] ~= '1' then return 0 end
if redis.call('ZSCORE', KEYS[4], ARGV[1]) then return false end
if ARGV[13] ~= '1' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZADD', KEYS[7], now + tonumber(ARGV[11]), owner)
end
redis.call('HSET', KEYS[1], 'head', ARGV[3], 'owner', owner, 'seq', ARGV[2])
-- The files' fields and values, one a line, in HSETs of 2,000 values at most (unpack()
-- cannot spread more than a few thousand at once).
local find, sub, blob = string.find, string.sub, ARGV[14]
local lines, count, pos, size = {}, 0, 1, #blob
while pos <= size do
  local stop = find(blob, '\n', pos, true) or (size + 1)
  count = count + 1
  lines[count] = sub(blob, pos, stop - 1)
  pos = stop + 1
  if count == 2000 then
    redis.call('HSET', KEYS[1], unpack(lines, 1, count))
    count = 0
  end
end
if count > 0 then redis.call('HSET', KEYS[1], unpack(lines, 1, count)) end
local id = redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[7], '*',
  'seq', ARGV[2], 'head', ARGV[3], 'files', ARGV[9])
redis.call('XADD', KEYS[6], 'MAXLEN', '~', '10000', '*', 'job', ARGV[1], 'seq', ARGV[2])
redis.call('ZADD', KEYS[2], 'NX', ARGV[5], ARGV[1])
-- The owner's set of unfinished jobs: what is failed should the owner be lost.
local function owned_key(name)
  local key = owned .. name
  if redis.call('TYPE', key)['ok'] ~= 'set' then redis.call('DEL', key) end
  return key
end
if previous and previous ~= owner then redis.call('SREM', owned_key(previous), ARGV[1]) end
if ARGV[6] ~= '' then
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('ZADD', KEYS[4], ARGV[6], ARGV[1])
  redis.call('PEXPIRE', KEYS[5], ARGV[8])
  redis.call('SREM', owned_key(owner), ARGV[1])
else
  redis.call('ZADD', KEYS[3], 'NX', ARGV[5], ARGV[1])
  redis.call('SADD', owned_key(owner), ARGV[1])
end
return id
"""

TRIM = r"""
-- KEYS: 1 the finished jobs (zset by end, ms), 2 every job, 3 the unfinished jobs.
-- ARGV: 1 hash key prefix, 2 stream key prefix, 3 how many finished jobs to keep ('' for
-- any number), 4 forget those that ended at or before this ms ('' for none).
-- Forgets those finished jobs (their hash and stream too); returns their ids.
local gone, seen = {}, {}
local function forget(ids)
  for _, id in ipairs(ids) do
    if not seen[id] then
      seen[id] = true
      gone[#gone + 1] = id
      redis.call('DEL', ARGV[1] .. id, ARGV[2] .. id)
      redis.call('ZREM', KEYS[1], id)
      redis.call('ZREM', KEYS[2], id)
      redis.call('ZREM', KEYS[3], id)
    end
  end
end
if ARGV[3] ~= '' then
  forget(redis.call('ZRANGE', KEYS[1], 0, -(tonumber(ARGV[3]) + 1)))
end
if ARGV[4] ~= '' then
  forget(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[4]))
end
return gone
"""
