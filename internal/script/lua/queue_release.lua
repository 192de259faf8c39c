-- queue_release returns deliveries that never reached a handler (a
-- worker's prefetched messages at shutdown) to the front of the ready
-- list, in their order, as if they had not been delivered: their delivery
-- counts go back down.
-- KEYS[1] inflight, KEYS[2] ready, KEYS[3] count, KEYS[4] token, KEYS[5] wake
-- ARGV pairs of id, token, in delivery order
-- Returns one integer per pair: 1 released, 0 stale (no longer the
-- current delivery).
local out, back = {}, {}
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HGET', KEYS[4], id) == ARGV[i+1] then
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[4], id)
    local n = tonumber(redis.call('HGET', KEYS[3], id))
    if n and n > 0 then redis.call('HSET', KEYS[3], id, n - 1) end
    back[#back+1] = id
    out[#out+1] = 1
  else
    out[#out+1] = 0
  end
end
-- the list's tail is the front of the queue: push the first one last
for j = #back, 1, -1 do redis.call('RPUSH', KEYS[2], back[j]) end
if #back > 0 and redis.call('LLEN', KEYS[5]) == 0 then redis.call('LPUSH', KEYS[5], '1') end
return out
