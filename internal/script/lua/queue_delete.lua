-- queue_delete removes one message from the queue, whatever its state. A
-- delivery of it that is running becomes stale: its ack is rejected.
-- KEYS[1] ready, KEYS[2] inflight, KEYS[3] delayed, KEYS[4] dead,
-- KEYS[5] payload, KEYS[6] count, KEYS[7] token, KEYS[8] error
-- ARGV[1] message id
-- Returns 1 if the message existed, else 0.
local id = ARGV[1]
local existed = redis.call('HDEL', KEYS[5], id)
existed = existed + redis.call('LREM', KEYS[1], 0, id) + redis.call('ZREM', KEYS[2], id)
  + redis.call('ZREM', KEYS[3], id) + redis.call('LREM', KEYS[4], 0, id)
redis.call('HDEL', KEYS[6], id)
redis.call('HDEL', KEYS[7], id)
redis.call('HDEL', KEYS[8], id)
if existed > 0 then return 1 end
return 0
