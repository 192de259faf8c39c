package cache

import "github.com/redis/go-redis/v9"

// acquireScript runs on a miss: it returns the value if one landed, else
// tries to take the load lease, reading the version marker in the same
// round trip (so the marker is read before the loader queries the source).
var acquireScript = redis.NewScript(`
-- KEYS[1] value, KEYS[2] lease, KEYS[3] wake list, KEYS[4] version marker
-- ARGV[1] lease token, ARGV[2] lease TTL ms, ARGV[3] '1' to read the marker,
-- ARGV[4] '1' for a background refresh: take the lease over the stale value,
-- ARGV[5] without ARGV[4]: value bytes to treat as absent ('' none), a corrupt
--         entry to overwrite; with ARGV[4]: the stale bytes the refresh replaces
-- returns {1, value}  a value exists (without ARGV[4]), or the value is no
--                     longer the stale one (with ARGV[4]: refreshed already)
--         {2, marker} the lease is ours; marker is '' if absent or not asked
--         {3}         another holder has the lease
local v = redis.call('GET', KEYS[1])
if ARGV[4] == '1' then
  if v ~= ARGV[5] then return {1, v} end
elseif v and v ~= ARGV[5] then
  return {1, v}
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('DEL', KEYS[3])
  local m = ''
  if ARGV[3] == '1' then m = redis.call('GET', KEYS[4]) or '' end
  return {2, m}
end
return {3}
`)

// fillScript writes a loaded value (or a negative entry), releases the
// lease and wakes the waiters, handing them the entry.
var fillScript = redis.NewScript(`
-- KEYS[1] value, KEYS[2] lease, KEYS[3] wake list, KEYS[4] version marker
-- ARGV[1] entry bytes, ARGV[2] value TTL ms, ARGV[3] lease token,
-- ARGV[4] '1' if versioned: write only if the marker still equals ARGV[5],
-- ARGV[5] marker read when the lease was taken ('' = absent),
-- ARGV[6] '1' for a negative entry: written with SET NX, never over a value,
-- ARGV[7] wake list TTL ms,
-- ARGV[8] bytes under KEYS[1] that a negative entry may replace ('' none):
--         the stale or corrupt value this load replaces
-- returns 1 if written, 0 if skipped (marker changed, or a value exists)
local written = 0
local ok = true
if ARGV[4] == '1' then
  if (redis.call('GET', KEYS[4]) or '') ~= ARGV[5] then ok = false end
end
if ok then
  if ARGV[6] == '1' then
    if ARGV[8] ~= '' and redis.call('GET', KEYS[1]) == ARGV[8] then
      redis.call('DEL', KEYS[1])
    end
    if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then written = 1 end
  else
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    written = 1
  end
end
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then
  redis.call('DEL', KEYS[2])
end
-- the wake token is the entry itself when it was written (up to 64 KiB),
-- so a woken waiter needs no further round trip; else '1': read again
local token = '1'
if written == 1 and #ARGV[1] <= 65536 then token = ARGV[1] end
redis.call('DEL', KEYS[3])
redis.call('RPUSH', KEYS[3], token)
redis.call('PEXPIRE', KEYS[3], ARGV[7])
return written
`)

// releaseScript gives the lease up without a value (the loader failed)
// and wakes the waiters, who then try to load themselves.
var releaseScript = redis.NewScript(`
-- KEYS[1] lease, KEYS[2] wake list
-- ARGV[1] lease token, ARGV[2] wake list TTL ms
-- returns 1
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('DEL', KEYS[2])
redis.call('RPUSH', KEYS[2], '1')
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
`)

// versionedSetScript writes a value and bumps the version marker, so an
// in-flight fill that read the old marker cannot overwrite it.
var versionedSetScript = redis.NewScript(`
-- KEYS[1] value, KEYS[2] version marker
-- ARGV[1] entry bytes, ARGV[2] value TTL ms, ARGV[3] marker TTL ms
-- returns the new marker
local m = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return m
`)

// versionedDelScript deletes a value and its load lease and bumps the
// version marker in one step, so a fill whose read started before the
// delete never lands, and the next load does not wait for the old one.
var versionedDelScript = redis.NewScript(`
-- KEYS[1] value, KEYS[2] version marker, KEYS[3] lease, KEYS[4] wake list
-- ARGV[1] marker TTL ms
-- returns the new marker
local m = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4])
return m
`)
