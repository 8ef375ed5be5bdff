"""The semaphore's Lua scripts: each call is one atomic step on the Redis server.

Every script gets the same five keys (see :class:`~transferqueue.redis._keys.SemaphoreKeys`):
``KEYS[1]`` holders, ``KEYS[2]`` queue, ``KEYS[3]`` waiting, ``KEYS[4]`` tickets,
``KEYS[5]`` limit. Times are milliseconds of the server's clock (``TIME``), never the
client's, so that hosts whose clocks disagree still agree on who holds what.

What the keys hold is checked before it is used: a key of the wrong type, a limit or a
ticket counter that is not a plain decimal integer is answered with an error reply that
starts with ``transferqueue:`` (:data:`ERROR_PREFIX`), before anything is written.
Holders and waiters whose lease ends further ahead than the longest lease allowed are
dropped like expired ones, and a queued waiter without a lease is dropped when it reaches
the head of the queue: nothing written by someone else can block a slot for ever.

Fairness: a caller that is refused takes a ticket (``INCR``) and waits in ``queue`` in
ticket order; a slot that frees up goes to the first waiters, and a newcomer is admitted
only while there are more free slots than live waiters. A process that releases and asks
again therefore queues behind everyone already waiting.
"""

from __future__ import annotations

ERROR_PREFIX = "transferqueue: "

_COMMON = r"""
local PREFIX = 'transferqueue: '
local KINDS = {'zset', 'zset', 'zset', 'string', 'string'}
local NAMES = {'holders', 'queue', 'waiting', 'ticket counter', 'limit'}

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function kind_error(i)
  local kind = redis.call('TYPE', KEYS[i])['ok']
  if kind ~= 'none' and kind ~= KINDS[i] then
    return 'the ' .. NAMES[i] .. ' key ' .. KEYS[i] .. ' holds a ' .. kind
      .. ', not a ' .. KINDS[i]
  end
  return nil
end

local function kinds_error(last)
  for i = 1, last do
    local err = kind_error(i)
    if err then return err end
  end
  return nil
end

-- A value as it may be shown: at most 40 bytes, printable ASCII only.
local function shown(raw)
  local cut = string.sub(raw, 1, 40)
  cut = string.gsub(cut, '[^%w%p ]', '?')
  if #raw > 40 then cut = cut .. '...' end
  return "'" .. cut .. "'"
end

-- The limit (creating it from if_missing when create is set), or nil and an error.
local function read_limit(if_missing, create)
  local err = kind_error(5)
  if err then return nil, err end
  local raw = redis.call('GET', KEYS[5])
  if not raw then
    if create then redis.call('SET', KEYS[5], if_missing) end
    return tonumber(if_missing), nil
  end
  if #raw > 9 or not string.match(raw, '^[1-9]%d*$') then
    return nil, 'the limit key ' .. KEYS[5] .. ' holds ' .. shown(raw)
      .. ', not an integer from 1 to 999999999 (set_limit() replaces it)'
  end
  return tonumber(raw), nil
end

local function tickets_error()
  local err = kind_error(4)
  if err then return err end
  local raw = redis.call('GET', KEYS[4])
  if raw and (#raw > 15 or not string.match(raw, '^%d+$')) then
    return 'the ticket counter ' .. KEYS[4] .. ' holds ' .. shown(raw)
      .. ', not an integer from 0 to 999999999999999'
  end
  return nil
end

-- Drop holders and waiters whose lease has ended, or ends impossibly far ahead.
local function cleanup(now, max_ms)
  local beyond = string.format('(%d', now + max_ms)
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  redis.call('ZREMRANGEBYSCORE', KEYS[1], beyond, '+inf')
  local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], beyond, '+inf')) do
    gone[#gone + 1] = member
  end
  for _, member in ipairs(gone) do
    redis.call('ZREM', KEYS[2], member)
    redis.call('ZREM', KEYS[3], member)
  end
end

-- The first n waiters of the queue, each with a live lease (those without are dropped).
local function live_head(n)
  while true do
    local head = redis.call('ZRANGE', KEYS[2], 0, n - 1)
    local clean = true
    for _, member in ipairs(head) do
      if not redis.call('ZSCORE', KEYS[3], member) then
        redis.call('ZREM', KEYS[2], member)
        clean = false
      end
    end
    if clean then return head end
  end
end

-- Leave one token in the wake-up list of each waiter but skip.
local function wake(members, prefix, ttl, skip)
  for _, member in ipairs(members) do
    if member ~= skip then
      local key = prefix .. member
      if redis.call('TYPE', key)['ok'] ~= 'list' then redis.call('DEL', key) end
      redis.call('RPUSH', key, '1')
      redis.call('LTRIM', key, -1, -1)
      redis.call('PEXPIRE', key, ttl)
    end
  end
end

-- Wake the waiters that the free slots are for.
local function wake_head(limit, prefix, ttl, skip)
  local free = limit - redis.call('ZCARD', KEYS[1])
  if free > 0 then wake(live_head(free), prefix, ttl, skip) end
end
"""

ATTEMPT = (
    _COMMON
    + r"""
-- ARGV: holder id, lease ms, waiter lease ms, limit if missing, max lease ms,
-- join ('1': queue up when refused), wake-up key prefix.
-- Returns {1, now, 0} when admitted, else {0, now, ms until the first holder's lease
-- ends, or -1 with no holder}.
local member, lease, waiter_lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local join, prefix = ARGV[6] == '1', ARGV[7]
local err = kinds_error(3)
if not err and join then err = tickets_error() end
local limit
if not err then limit, err = read_limit(ARGV[4], true) end
if err then return redis.error_reply(PREFIX .. err) end

local now = now_ms()
cleanup(now, tonumber(ARGV[5]))
redis.call('DEL', prefix .. member)
-- Already a holder: this is a retry of a call whose answer was lost.
local admitted = redis.call('ZSCORE', KEYS[1], member) ~= false
if not admitted then
  local free = limit - redis.call('ZCARD', KEYS[1])
  if free > 0 then
    local head = live_head(free)
    admitted = #head < free
    for _, waiter in ipairs(head) do
      if waiter == member then admitted = true end
    end
    if not admitted then wake(head, prefix, waiter_lease, member) end
  end
end
if admitted then
  redis.call('ZREM', KEYS[2], member)
  redis.call('ZREM', KEYS[3], member)
  redis.call('ZADD', KEYS[1], now + lease, member)
  return {1, now, 0}
end
if join then
  if not redis.call('ZSCORE', KEYS[2], member) then
    redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[4]), member)
  end
  redis.call('ZADD', KEYS[3], now + waiter_lease, member)
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local until_first = -1
if first[2] then until_first = tonumber(first[2]) - now end
return {0, now, until_first}
"""
)

RELEASE = (
    _COMMON
    + r"""
-- ARGV: holder id, limit if missing, max lease ms, wake-up key prefix, waiter lease ms.
-- Drops the id as holder and as waiter; returns 1 if it held a slot, else 0. A limit
-- that cannot be read does not keep the slot: only the waiters are not woken (they
-- report the limit themselves).
local member, prefix = ARGV[1], ARGV[4]
local err = kinds_error(3)
if err then return redis.error_reply(PREFIX .. err) end
local now = now_ms()
local held = redis.call('ZREM', KEYS[1], member)
redis.call('ZREM', KEYS[2], member)
redis.call('ZREM', KEYS[3], member)
redis.call('DEL', prefix .. member)
cleanup(now, tonumber(ARGV[3]))
local limit = read_limit(ARGV[2], false)
if limit then wake_head(limit, prefix, tonumber(ARGV[5]), member) end
return held
"""
)

RENEW = (
    _COMMON
    + r"""
-- ARGV: lease ms, then the holder ids to renew. Returns the ids that were not held any
-- more (their lease had ended: such an entry is removed, never renewed).
local err = kinds_error(1)
if err then return redis.error_reply(PREFIX .. err) end
local now = now_ms()
local lease = tonumber(ARGV[1])
local lost = {}
for i = 2, #ARGV do
  local member = ARGV[i]
  local score = redis.call('ZSCORE', KEYS[1], member)
  if score and tonumber(score) > now then
    redis.call('ZADD', KEYS[1], 'XX', now + lease, member)
  else
    if score then redis.call('ZREM', KEYS[1], member) end
    lost[#lost + 1] = member
  end
end
return lost
"""
)

SET_LIMIT = (
    _COMMON
    + r"""
-- ARGV: new limit, max lease ms, wake-up key prefix, waiter lease ms. Replaces whatever
-- the limit key held; returns the previous value as stored (or false), and wakes the
-- waiters a raised limit makes room for.
local err = kinds_error(3)
if err then return redis.error_reply(PREFIX .. err) end
local previous = false
if redis.call('TYPE', KEYS[5])['ok'] == 'string' then previous = redis.call('GET', KEYS[5]) end
redis.call('SET', KEYS[5], ARGV[1])
cleanup(now_ms(), tonumber(ARGV[2]))
wake_head(tonumber(ARGV[1]), ARGV[3], tonumber(ARGV[4]), '')
return previous
"""
)

STATE = (
    _COMMON
    + r"""
-- ARGV: limit if missing, max lease ms. Writes nothing; returns {limit, holders,
-- waiters}, counting only live leases.
local err = kinds_error(3)
local limit
if not err then limit, err = read_limit(ARGV[1], false) end
if err then return redis.error_reply(PREFIX .. err) end
local now = now_ms()
local low, high = string.format('(%d', now), string.format('%d', now + tonumber(ARGV[2]))
return {
  limit,
  redis.call('ZCOUNT', KEYS[1], low, high),
  redis.call('ZCOUNT', KEYS[3], low, high),
}
"""
)
