--! uses: now
-- sem_pass_on hands an unused wake-up back to Redis while a permit is free.
-- KEYS[1] holders, KEYS[2] wake list
-- ARGV[1] permits, ARGV[2] wake list lifetime in ms
-- Returns 1 when a wake-up was left because a permit is free, else 0.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('RPUSH', KEYS[2], '1')
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[1]), -1)
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return 1
end
return 0
