-- queue_ack finishes deliveries and deletes their messages.
-- KEYS[1] inflight, KEYS[2] payload, KEYS[3] count, KEYS[4] token,
-- KEYS[5] error
-- ARGV pairs of id, token
-- Returns one integer per pair: 1 acked, 0 stale (the delivery is no longer
-- the current one: reclaimed, redelivered, or already finished).
local out = {}
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HGET', KEYS[4], id) == ARGV[i+1] then
    redis.call('ZREM', KEYS[1], id)
    for k = 2, 5 do redis.call('HDEL', KEYS[k], id) end
    out[#out+1] = 1
  else
    out[#out+1] = 0
  end
end
return out
