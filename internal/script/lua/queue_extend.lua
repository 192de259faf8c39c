--! uses: now
-- queue_extend moves the visibility deadline of running deliveries.
-- KEYS[1] inflight, KEYS[2] token
-- ARGV[1] visibility timeout ms, then pairs of id, token
-- Returns one integer per pair: 1 extended, 0 stale.
local deadline = now + tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HGET', KEYS[2], id) == ARGV[i+1] then
    redis.call('ZADD', KEYS[1], deadline, id)
    out[#out+1] = 1
  else
    out[#out+1] = 0
  end
end
return out
