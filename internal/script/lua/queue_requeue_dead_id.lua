-- queue_requeue_dead_id moves one dead letter back to the ready list with
-- its delivery count reset.
-- KEYS[1] dead, KEYS[2] ready, KEYS[3] payload, KEYS[4] count, KEYS[5] wake
-- ARGV[1] message id
-- Returns 1 if it was a dead letter and is ready now, else 0.
local id = ARGV[1]
if redis.call('LREM', KEYS[1], 1, id) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[3], id) == 0 then return 0 end
redis.call('HSET', KEYS[4], id, 0)
redis.call('LPUSH', KEYS[2], id)
if redis.call('LLEN', KEYS[5]) == 0 then redis.call('LPUSH', KEYS[5], '1') end
return 1
