--! uses: now maxof
-- queue_nack ends a delivery that failed.
-- KEYS[1] inflight, KEYS[2] ready, KEYS[3] delayed, KEYS[4] dead,
-- KEYS[5] count, KEYS[6] token, KEYS[7] payload, KEYS[8] error, KEYS[9] wake
-- ARGV[1] id, ARGV[2] token, ARGV[3] error text, ARGV[4] retry delay ms,
-- ARGV[5] "1" to dead-letter at once
-- Returns 0 stale, 1 scheduled for another delivery, 2 dead-lettered.
local id = ARGV[1]
if redis.call('HGET', KEYS[6], id) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], id)
redis.call('HDEL', KEYS[6], id)
redis.call('HSET', KEYS[8], id, ARGV[3])
local n = countOf(redis.call('HGET', KEYS[5], id))
local max = maxOf(redis.call('HGET', KEYS[7], id))
if not n or not max then
  redis.call('HSET', KEYS[8], id, corruptText .. '; last error: ' .. ARGV[3])
  redis.call('RPUSH', KEYS[4], id)
  return 2
end
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
