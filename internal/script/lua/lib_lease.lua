-- lib lease: a token lease and its wake list.
--
-- A lease is a string key that holds its holder's token and expires with
-- the lease. Its wake list (a key in the same hash slot) holds wake-ups
-- for the waiters: a release deletes the list and pushes one message, so
-- a message found there always speaks of the latest release. Waiters
-- either pop it (wake-one: the first waiter takes it and, if it cannot use
-- it, passes it on) or rotate it in place with BLMOVE (wake-all: every
-- waiter sees it). Taking the lease clears the list: a wake-up is stale
-- once the lease is held again.

-- lease_take takes holder for token for ms. It returns 1 when taken, 2 when
-- token already held it (a retried call; the lease is renewed), or
-- -1 - the ms left on the current holder's lease.
local function lease_take(holder, wake, token, ms)
  if redis.call('SET', holder, token, 'NX', 'PX', ms) then
    if wake then redis.call('DEL', wake) end
    return 1
  end
  if redis.call('GET', holder) == token then
    redis.call('PEXPIRE', holder, ms)
    return 2
  end
  local left = redis.call('PTTL', holder)
  if left < 0 then left = 0 end
  return -1 - left
end

-- lease_wake replaces the wake list by one message, kept for ms.
local function lease_wake(wake, msg, ms)
  redis.call('DEL', wake)
  redis.call('RPUSH', wake, msg)
  redis.call('PEXPIRE', wake, ms)
end

-- lease_release ends token's lease and, when wake is given, leaves msg for
-- the waiters. It returns 1 when token held the lease, else 0 (nothing
-- changes: the lease is someone else's, or over).
local function lease_release(holder, wake, token, msg, ms)
  if redis.call('GET', holder) ~= token then return 0 end
  redis.call('DEL', holder)
  if wake then lease_wake(wake, msg, ms) end
  return 1
end

-- lease_renew extends token's lease to ms. It returns 1, or 0 when token
-- does not hold it.
local function lease_renew(holder, token, ms)
  if redis.call('GET', holder) ~= token then return 0 end
  redis.call('PEXPIRE', holder, ms)
  return 1
end

-- lease_pass_on leaves msg for the next waiter, but only while nobody
-- holds the lease (a holder's release will wake the next one). It returns
-- 1 when it did.
local function lease_pass_on(holder, wake, msg, ms)
  if redis.call('EXISTS', holder) == 1 then return 0 end
  lease_wake(wake, msg, ms)
  return 1
end
