--! uses: now lease counter
-- lock_obtain takes a lock and draws its fence in one step.
-- KEYS[1] lock: the holder's token, expiring with the lease
-- KEYS[2] wake list: cleared when taken (a wake-up is stale once held)
-- KEYS[3] fence counter: expires ARGV[3] ms after the last obtain (never if
--         ARGV[3] is 0). A counter that is missing (expired, or lost with a
--         Redis restart) starts again from the server clock in microseconds,
--         above every fence it handed out before, so fences only grow.
-- ARGV[1] token, ARGV[2] lease in ms, ARGV[3] fence counter lifetime in ms
-- Returns the new fence (>= 1) when obtained, or the current one when this
-- token already holds the lock (a retried call); otherwise -1 - the ms
-- left on the holder's lease (0 when unknown).
local function fence_next() return counter_next(KEYS[3], ARGV[3]) end
local r = lease_take(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
if r == 1 then return fence_next() end
if r == 2 then
  local f = redis.call('GET', KEYS[3])
  if not f then return fence_next() end
  if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[3], ARGV[3]) end
  return tonumber(f)
end
return r
