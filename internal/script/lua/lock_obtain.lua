--! uses: lease
-- lock_obtain takes a lock and draws its fence in one step.
-- KEYS[1] lock: the holder's token, expiring with the lease
-- KEYS[2] wake list: cleared when taken (a wake-up is stale once held)
-- KEYS[3] fence counter: an integer that never expires
-- ARGV[1] token, ARGV[2] lease in ms
-- Returns the new fence (>= 1) when obtained, or the current one when this
-- token already holds the lock (a retried call); otherwise -1 - the ms
-- left on the holder's lease (0 when unknown).
local r = lease_take(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
if r == 1 then return redis.call('INCR', KEYS[3]) end
if r == 2 then
  local f = redis.call('GET', KEYS[3])
  if not f then f = redis.call('INCR', KEYS[3]) end
  return tonumber(f)
end
return r
