package queue

import "github.com/redis/go-redis/v9"

// The Lua scripts below keep every message's state in a handful of keys
// that share the queue's hash tag, so each script touches one slot:
//
//	{prefix:name}:ready     list of ids waiting; LPUSH at the back, RPOP at the front
//	{prefix:name}:inflight  sorted set id -> visibility deadline (ms, server clock)
//	{prefix:name}:delayed   sorted set id -> due time (ms, server clock)
//	{prefix:name}:dead      list of dead-lettered ids, oldest first
//	{prefix:name}:payload   hash id -> "max:payload", max = max deliveries (0: no limit)
//	{prefix:name}:count     hash id -> deliveries so far
//	{prefix:name}:token     hash id -> token of the current delivery (only while in flight)
//	{prefix:name}:error     hash id -> last error text
//	{prefix:name}:seq       counter that hands out delivery tokens
//	{prefix:name}:wake      list holding at most one token; idle workers block on it
//	{prefix:name}:dedupe    sorted set dedupe id -> expiry (ms)
//	{prefix:name}:dedupeid  hash dedupe id -> message id
//
// Every time comes from the server's TIME, so client clocks do not matter.
// A message's token field exists exactly while it is in flight.

const luaNow = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// luaMaxOf reads the max deliveries in front of a stored "max:payload"
// (the anchored pattern stops at the colon, whatever the payload's size).
const luaMaxOf = `local function maxOf(v)
  if not v then return 0 end
  return tonumber(string.match(v, '^(%d+):')) or 0
end
`

// enqueueScript adds messages.
//
// KEYS[1] ready, KEYS[2] delayed, KEYS[3] payload, KEYS[4] dedupe,
// KEYS[5] dedupeid, KEYS[6] wake
// ARGV[1] dedupe window ms; then 5 per message: id, "1" if the caller chose
// the id, "max:payload", delay ms, dedupe id ("" for none)
// Returns {id1, status1, id2, status2, ...}: status 0 enqueued, 1 duplicate
// (id is then the existing message's id).
var enqueueScript = redis.NewScript(luaNow + `
local window = tonumber(ARGV[1])
local out = {}
local cleaned = false
local woke = false
for i = 2, #ARGV, 5 do
  local id, given, dd = ARGV[i], ARGV[i+1], ARGV[i+4]
  local status = 0
  if dd ~= '' then
    if not cleaned then
      cleaned = true
      local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, 100)
      for _, o in ipairs(old) do
        redis.call('ZREM', KEYS[4], o)
        redis.call('HDEL', KEYS[5], o)
      end
    end
    local exp = redis.call('ZSCORE', KEYS[4], dd)
    if exp and tonumber(exp) > now then
      local other = redis.call('HGET', KEYS[5], dd)
      if other then
        id = other
        status = 1
      end
    end
  end
  if status == 0 then
    if redis.call('HSETNX', KEYS[3], id, ARGV[i+2]) == 0 then
      -- A caller-chosen id already queued is a duplicate. A generated id
      -- already present is this very call retried by the client after a
      -- lost reply: it is enqueued, report success.
      if given == '1' then status = 1 end
    else
      local delay = tonumber(ARGV[i+3])
      if delay > 0 then
        redis.call('ZADD', KEYS[2], now + delay, id)
      else
        redis.call('LPUSH', KEYS[1], id)
      end
      if dd ~= '' then
        redis.call('ZADD', KEYS[4], now + window, dd)
        redis.call('HSET', KEYS[5], dd, id)
      end
      woke = true
    end
  end
  out[#out+1] = id
  out[#out+1] = status
end
if woke and redis.call('LLEN', KEYS[6]) == 0 then
  redis.call('LPUSH', KEYS[6], '1')
end
return out
`)

// fetchScript applies acks, reclaims expired deliveries, promotes due
// delayed messages and delivers up to ARGV[1] ready messages, all in one
// call, so a busy worker pays one round trip per batch for all of it.
//
// KEYS[1] ready, KEYS[2] inflight, KEYS[3] delayed, KEYS[4] dead,
// KEYS[5] payload, KEYS[6] count, KEYS[7] token, KEYS[8] error, KEYS[9] seq,
// KEYS[10] wake
// ARGV[1] messages to deliver at most (0: none), ARGV[2] visibility timeout
// ms, ARGV[3] "1" to reclaim and promote, ARGV[4] expired or due entries to
// move at most, ARGV[5] error text for a message whose last allowed
// delivery expired, ARGV[6] number of acks m, then m pairs of id, token
// Returns {moved, ms until the next delayed message is due or the next
// deadline passes (-1: none, or not computed because messages were
// delivered), stale acks, then 5 per delivered message: id, "max:payload",
// deliveries, token, last error}.
var fetchScript = redis.NewScript(luaNow + luaMaxOf + `
local stale = 0
local nacks = tonumber(ARGV[6])
for i = 7, 6 + 2 * nacks, 2 do
  local id = ARGV[i]
  if redis.call('HGET', KEYS[7], id) == ARGV[i+1] then
    redis.call('ZREM', KEYS[2], id)
    for k = 5, 8 do redis.call('HDEL', KEYS[k], id) end
  else
    stale = stale + 1
  end
end
local moved = 0
if ARGV[3] == '1' then
  local limit = tonumber(ARGV[4])
  local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(expired) do
    redis.call('ZREM', KEYS[2], id)
    redis.call('HDEL', KEYS[7], id)
    local n = tonumber(redis.call('HGET', KEYS[6], id) or '0')
    local max = maxOf(redis.call('HGET', KEYS[5], id))
    if max > 0 and n >= max then
      redis.call('HSET', KEYS[8], id, ARGV[5])
      redis.call('RPUSH', KEYS[4], id)
    else
      redis.call('RPUSH', KEYS[1], id)
    end
    moved = moved + 1
  end
  local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(due) do
    redis.call('ZREM', KEYS[3], id)
    redis.call('LPUSH', KEYS[1], id)
    moved = moved + 1
  end
end
local out = {moved, -1, stale}
local want = tonumber(ARGV[1])
if want > 0 then
  local ids = redis.call('RPOP', KEYS[1], want)
  if ids then
    local deadline = now + tonumber(ARGV[2])
    for _, id in ipairs(ids) do
      local p = redis.call('HGET', KEYS[5], id)
      if p then
        local n = redis.call('HINCRBY', KEYS[6], id, 1)
        local tok = redis.call('INCR', KEYS[9])
        redis.call('HSET', KEYS[7], id, tok)
        redis.call('ZADD', KEYS[2], deadline, id)
        out[#out+1] = id
        out[#out+1] = p
        out[#out+1] = n
        out[#out+1] = tok
        out[#out+1] = redis.call('HGET', KEYS[8], id) or ''
      end
    end
  end
end
if (moved > 0 or #out > 3) and redis.call('LLEN', KEYS[1]) > 0 and redis.call('LLEN', KEYS[10]) == 0 then
  redis.call('LPUSH', KEYS[10], '1')
end
if #out == 3 then
  local nd = -1
  local d = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  if d[2] then nd = tonumber(d[2]) - now end
  local f = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if f[2] and (nd < 0 or tonumber(f[2]) - now < nd) then nd = tonumber(f[2]) - now end
  if nd >= 0 then out[2] = nd end
end
return out
`)

// ackScript finishes deliveries and deletes their messages.
//
// KEYS[1] inflight, KEYS[2] payload, KEYS[3] count, KEYS[4] token,
// KEYS[5] error
// ARGV pairs of id, token
// Returns one integer per pair: 1 acked, 0 stale (the delivery is no longer
// the current one: reclaimed, redelivered, or already finished).
var ackScript = redis.NewScript(`
local out = {}
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HGET', KEYS[4], id) == ARGV[i+1] then
    redis.call('ZREM', KEYS[1], id)
    for k = 2, 5 do redis.call('HDEL', KEYS[k], id) end
    out[#out+1] = 1
  else
    out[#out+1] = 0
  end
end
return out
`)

// nackScript ends a delivery that failed.
//
// KEYS[1] inflight, KEYS[2] ready, KEYS[3] delayed, KEYS[4] dead,
// KEYS[5] count, KEYS[6] token, KEYS[7] payload, KEYS[8] error, KEYS[9] wake
// ARGV[1] id, ARGV[2] token, ARGV[3] error text, ARGV[4] retry delay ms,
// ARGV[5] "1" to dead-letter at once
// Returns 0 stale, 1 scheduled for another delivery, 2 dead-lettered.
var nackScript = redis.NewScript(luaNow + luaMaxOf + `
local id = ARGV[1]
if redis.call('HGET', KEYS[6], id) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], id)
redis.call('HDEL', KEYS[6], id)
redis.call('HSET', KEYS[8], id, ARGV[3])
local n = tonumber(redis.call('HGET', KEYS[5], id) or '0')
local max = maxOf(redis.call('HGET', KEYS[7], id))
if ARGV[5] == '1' or (max > 0 and n >= max) then
  redis.call('RPUSH', KEYS[4], id)
  return 2
end
local delay = tonumber(ARGV[4])
if delay > 0 then
  redis.call('ZADD', KEYS[3], now + delay, id)
else
  redis.call('RPUSH', KEYS[2], id)
end
if redis.call('LLEN', KEYS[9]) == 0 then redis.call('LPUSH', KEYS[9], '1') end
return 1
`)

// extendScript moves the visibility deadline of running deliveries.
//
// KEYS[1] inflight, KEYS[2] token
// ARGV[1] visibility timeout ms, then pairs of id, token
// Returns one integer per pair: 1 extended, 0 stale.
var extendScript = redis.NewScript(luaNow + `
local deadline = now + tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HGET', KEYS[2], id) == ARGV[i+1] then
    redis.call('ZADD', KEYS[1], deadline, id)
    out[#out+1] = 1
  else
    out[#out+1] = 0
  end
end
return out
`)

// countsScript reads the four counts at one instant.
//
// KEYS[1] ready, KEYS[2] inflight, KEYS[3] delayed, KEYS[4] dead
// Returns {ready, in flight, delayed, dead}.
var countsScript = redis.NewScript(`
return {redis.call('LLEN', KEYS[1]), redis.call('ZCARD', KEYS[2]),
  redis.call('ZCARD', KEYS[3]), redis.call('LLEN', KEYS[4])}
`)

// peekDeadScript reads dead letters without moving them.
//
// KEYS[1] dead, KEYS[2] payload, KEYS[3] count, KEYS[4] error
// ARGV[1] how many, oldest first
// Returns 4 per dead letter: id, "max:payload", deliveries, last error.
var peekDeadScript = redis.NewScript(`
local out = {}
local ids = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
for _, id in ipairs(ids) do
  out[#out+1] = id
  out[#out+1] = redis.call('HGET', KEYS[2], id) or ''
  out[#out+1] = redis.call('HGET', KEYS[3], id) or '0'
  out[#out+1] = redis.call('HGET', KEYS[4], id) or ''
end
return out
`)

// requeueDeadScript moves the oldest dead letters back to the ready list
// with their delivery count reset.
//
// KEYS[1] dead, KEYS[2] ready, KEYS[3] payload, KEYS[4] count, KEYS[5] wake
// ARGV[1] how many at most
// Returns the number requeued.
var requeueDeadScript = redis.NewScript(`
local ids = redis.call('LPOP', KEYS[1], tonumber(ARGV[1]))
if not ids then return 0 end
local n = 0
for _, id in ipairs(ids) do
  if redis.call('HEXISTS', KEYS[3], id) == 1 then
    redis.call('HSET', KEYS[4], id, 0)
    redis.call('LPUSH', KEYS[2], id)
    n = n + 1
  end
end
if n > 0 and redis.call('LLEN', KEYS[5]) == 0 then redis.call('LPUSH', KEYS[5], '1') end
return n
`)
