--! uses: now bulk
-- queue_extend moves the visibility deadline of running deliveries.
-- KEYS[1] inflight, KEYS[2] token
-- ARGV[1] visibility timeout ms, then pairs of id, token
-- Returns one integer per pair: 1 extended, 0 stale.
local deadline = now + tonumber(ARGV[1])
local ids = {}
for i = 2, #ARGV, 2 do ids[#ids+1] = ARGV[i] end
local toks = hmget(KEYS[2], ids)
local out, zs = {}, {}
for j, id in ipairs(ids) do
  if toks[j] == ARGV[1 + 2 * j] then
    zs[#zs+1] = deadline
    zs[#zs+1] = id
    out[j] = 1
  else
    out[j] = 0
  end
end
bulk('ZADD', KEYS[1], zs)
return out
