-- queue_peek_dead reads dead letters without moving them.
-- KEYS[1] dead, KEYS[2] payload, KEYS[3] count, KEYS[4] error
-- ARGV[1] how many, oldest first
-- Returns 4 per dead letter: id, "max:payload", deliveries, last error.
local out = {}
local ids = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
for _, id in ipairs(ids) do
  out[#out+1] = id
  out[#out+1] = redis.call('HGET', KEYS[2], id) or ''
  out[#out+1] = redis.call('HGET', KEYS[3], id) or '0'
  out[#out+1] = redis.call('HGET', KEYS[4], id) or ''
end
return out
