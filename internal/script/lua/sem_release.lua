--! uses: now
-- sem_release gives a permit back.
-- KEYS[1] holders, KEYS[2] wake list
-- ARGV[1] token, ARGV[2] permits, ARGV[3] wake list lifetime in ms
-- Returns 1 when the token held a live permit, 0 otherwise. Either way its
-- entry is removed and, if a permit is free, one wake-up is left (at most
-- permits of them).
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('RPUSH', KEYS[2], '1')
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
if s and tonumber(s) > now then return 1 end
return 0
