--! uses: now
-- sem_refresh extends a permit's lease.
-- KEYS[1] holders
-- ARGV[1] token, ARGV[2] lease in ms
-- Returns 1 when extended, 0 when the token has no live permit.
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) > now then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[1], last[2])
  return 1
end
if s then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
