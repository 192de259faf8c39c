-- queue_requeue_dead moves the oldest dead letters back to the ready list
-- with their delivery count reset.
-- KEYS[1] dead, KEYS[2] ready, KEYS[3] payload, KEYS[4] count, KEYS[5] wake
-- ARGV[1] how many at most
-- Returns the number requeued.
local ids = redis.call('LPOP', KEYS[1], tonumber(ARGV[1]))
if not ids then return 0 end
local n = 0
for _, id in ipairs(ids) do
  if redis.call('HEXISTS', KEYS[3], id) == 1 then
    redis.call('HSET', KEYS[4], id, 0)
    redis.call('LPUSH', KEYS[2], id)
    n = n + 1
  end
end
if n > 0 and redis.call('LLEN', KEYS[5]) == 0 then redis.call('LPUSH', KEYS[5], '1') end
return n
