--! uses: now
-- sem_acquire takes a semaphore permit. Holders live in a sorted set,
-- token -> lease deadline (ms, server clock); expired leases are removed
-- before counting. The wake list is left alone: with several permits a
-- wake-up may stand for another free permit, so taking one must not
-- consume it (a stale wake-up costs a waiter one failed attempt).
-- The number of permits is kept with the holders, so handles that disagree
-- about it cannot each admit their own number.
-- KEYS[1] holders, KEYS[2] wake list (not touched), KEYS[3] permits while
-- the semaphore has holders
-- ARGV[1] token, ARGV[2] lease in ms, ARGV[3] permits
-- Returns 1 when a permit was taken (or this token already has one: a
-- retried call); otherwise -1 - the ms until the earliest lease ends; an
-- error reply "ASIDE_SEM_PERMITS n" when the holders use n permits.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local lim = redis.call('GET', KEYS[3])
if lim and redis.call('ZCARD', KEYS[1]) > 0 and tonumber(lim) ~= tonumber(ARGV[3]) then
  return redis.error_reply('ASIDE_SEM_PERMITS ' .. lim)
end
local mine = redis.call('ZSCORE', KEYS[1], ARGV[1])
if mine or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[1], last[2])
  redis.call('SET', KEYS[3], ARGV[3])
  redis.call('PEXPIREAT', KEYS[3], last[2])
  return 1
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local left = tonumber(first[2]) - now
if left < 0 then left = 0 end
return -1 - left
