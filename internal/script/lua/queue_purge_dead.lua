-- queue_purge_dead deletes the oldest dead letters and their records.
-- KEYS[1] dead, KEYS[2] payload, KEYS[3] count, KEYS[4] error
-- ARGV[1] how many at most (the caller repeats until 0)
-- Returns the number deleted.
local ids = redis.call('LPOP', KEYS[1], tonumber(ARGV[1]))
if not ids then return 0 end
for _, id in ipairs(ids) do
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
end
return #ids
