package lock

import "github.com/redis/go-redis/v9"

// Every script takes all the keys it touches through KEYS, and those keys
// share one hash tag ("{prefix:name}"), so each runs on one Cluster node.

// wakeTTLms bounds how long an unconsumed wake-up stays in Redis. A lock's
// wake list only holds a wake-up while the lock is free; obtaining the lock
// clears it.
const wakeTTLms = 10000

// luaObtain takes the lock and draws its fence in one step.
var luaObtain = redis.NewScript(`
-- KEYS[1] lock key: a string holding the holder's token, with the lease as its expiry
-- KEYS[2] wake list: cleared on success, a wake-up left there is stale once the lock is held
-- KEYS[3] fence counter: an integer that never expires
-- ARGV[1] token, ARGV[2] lease in ms
-- Returns the new fence (>= 1) when obtained, or when this token already
-- holds the lock (a retried call); otherwise -1 - the ms left on the
-- holder's lease (0 when unknown).
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('del', KEYS[2])
  return redis.call('incr', KEYS[3])
end
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  local f = redis.call('get', KEYS[3])
  if not f then f = redis.call('incr', KEYS[3]) end
  return tonumber(f)
end
local pttl = redis.call('pttl', KEYS[1])
if pttl < 0 then pttl = 0 end
return -1 - pttl
`)

// luaRelease deletes the lock if the token still holds it and leaves one
// wake-up for a waiter.
var luaRelease = redis.NewScript(`
-- KEYS[1] lock key, KEYS[2] wake list
-- ARGV[1] token, ARGV[2] wake list lifetime in ms
-- Returns 1 when released, 0 when the token did not hold the lock.
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('del', KEYS[1], KEYS[2])
  redis.call('rpush', KEYS[2], '1')
  redis.call('pexpire', KEYS[2], ARGV[2])
  return 1
end
return 0
`)

// luaRefresh extends the lease if the token still holds the lock.
var luaRefresh = redis.NewScript(`
-- KEYS[1] lock key
-- ARGV[1] token, ARGV[2] lease in ms
-- Returns 1 when extended, 0 when the token did not hold the lock.
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
`)

// luaPTTL reads the lease left if the token still holds the lock.
var luaPTTL = redis.NewScript(`
-- KEYS[1] lock key
-- ARGV[1] token
-- Returns the ms left, or -3 when the token does not hold the lock.
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pttl', KEYS[1])
end
return -3
`)

// luaPassOn hands a wake-up that its waiter could not use back to Redis,
// but only while the lock is free (otherwise the holder's release wakes
// the next waiter).
var luaPassOn = redis.NewScript(`
-- KEYS[1] lock key, KEYS[2] wake list
-- ARGV[1] wake list lifetime in ms
-- Returns 1 when a wake-up was left, 0 when the lock is held.
if redis.call('exists', KEYS[1]) == 0 then
  redis.call('del', KEYS[2])
  redis.call('rpush', KEYS[2], '1')
  redis.call('pexpire', KEYS[2], ARGV[1])
  return 1
end
return 0
`)

// The semaphore scripts keep holders in a sorted set, token -> lease
// deadline in ms of the Redis server's clock (TIME), so one clock judges
// every lease. Expired leases are removed before counting.
const luaSemNow = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('time')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// luaSemAcquire leaves the wake list alone: with several permits a
// wake-up may stand for another free permit, so taking one must not
// consume it. A stale wake-up costs a waiter one failed attempt.
var luaSemAcquire = redis.NewScript(`
-- KEYS[1] holders: sorted set token -> lease deadline (ms, server clock)
-- KEYS[2] wake list (not touched)
-- ARGV[1] token, ARGV[2] lease in ms, ARGV[3] permits
-- Returns 1 when a permit was taken (or this token already has one: a
-- retried call); otherwise -1 - the ms until the earliest lease ends.
` + luaSemNow + `
redis.call('zremrangebyscore', KEYS[1], '-inf', now)
local mine = redis.call('zscore', KEYS[1], ARGV[1])
if mine or redis.call('zcard', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('zadd', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  local last = redis.call('zrange', KEYS[1], -1, -1, 'WITHSCORES')
  redis.call('pexpireat', KEYS[1], last[2])
  return 1
end
local first = redis.call('zrange', KEYS[1], 0, 0, 'WITHSCORES')
local left = tonumber(first[2]) - now
if left < 0 then left = 0 end
return -1 - left
`)

var luaSemRelease = redis.NewScript(`
-- KEYS[1] holders, KEYS[2] wake list
-- ARGV[1] token, ARGV[2] permits, ARGV[3] wake list lifetime in ms
-- Returns 1 when the token held a live permit, 0 otherwise. Either way its
-- entry is removed and, if a permit is free, one wake-up is left (at most
-- permits of them).
` + luaSemNow + `
local s = redis.call('zscore', KEYS[1], ARGV[1])
redis.call('zrem', KEYS[1], ARGV[1])
redis.call('zremrangebyscore', KEYS[1], '-inf', now)
if redis.call('zcard', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('rpush', KEYS[2], '1')
  redis.call('ltrim', KEYS[2], -tonumber(ARGV[2]), -1)
  redis.call('pexpire', KEYS[2], ARGV[3])
end
if s and tonumber(s) > now then return 1 end
return 0
`)

var luaSemRefresh = redis.NewScript(`
-- KEYS[1] holders
-- ARGV[1] token, ARGV[2] lease in ms
-- Returns 1 when extended, 0 when the token has no live permit.
` + luaSemNow + `
local s = redis.call('zscore', KEYS[1], ARGV[1])
if s and tonumber(s) > now then
  redis.call('zadd', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  local last = redis.call('zrange', KEYS[1], -1, -1, 'WITHSCORES')
  redis.call('pexpireat', KEYS[1], last[2])
  return 1
end
if s then redis.call('zrem', KEYS[1], ARGV[1]) end
return 0
`)

var luaSemPTTL = redis.NewScript(`
-- KEYS[1] holders
-- ARGV[1] token
-- Returns the ms left on the token's lease, or -3 when it has no live permit.
` + luaSemNow + `
local s = redis.call('zscore', KEYS[1], ARGV[1])
if s and tonumber(s) > now then return tonumber(s) - now end
return -3
`)

var luaSemPassOn = redis.NewScript(`
-- KEYS[1] holders, KEYS[2] wake list
-- ARGV[1] permits, ARGV[2] wake list lifetime in ms
-- Returns 1 when a wake-up was left because a permit is free, else 0.
` + luaSemNow + `
redis.call('zremrangebyscore', KEYS[1], '-inf', now)
if redis.call('zcard', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('rpush', KEYS[2], '1')
  redis.call('ltrim', KEYS[2], -tonumber(ARGV[1]), -1)
  redis.call('pexpire', KEYS[2], ARGV[2])
  return 1
end
return 0
`)

var luaSemCount = redis.NewScript(`
-- KEYS[1] holders
-- Returns the number of live leases.
` + luaSemNow + `
return redis.call('zcount', KEYS[1], '(' .. now, '+inf')
`)

// luaSetFenced writes a resource only if its fence is not older than the
// one stored with it.
var luaSetFenced = redis.NewScript(`
-- KEYS[1] resource: a hash with fields "value" and "fence"
-- ARGV[1] value, ARGV[2] fence (decimal, no sign)
-- Returns 1 when written, 0 when the stored fence is newer.
local cur = redis.call('hget', KEYS[1], 'fence')
if cur then
  local f = ARGV[2]
  if #cur > #f or (#cur == #f and cur > f) then return 0 end
end
redis.call('hset', KEYS[1], 'value', ARGV[1], 'fence', ARGV[2])
return 1
`)

var luaGetFenced = redis.NewScript(`
-- KEYS[1] resource hash
-- Returns {value, fence}, both nil when absent.
return redis.call('hmget', KEYS[1], 'value', 'fence')
`)
