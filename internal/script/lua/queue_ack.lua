--! uses: bulk
-- queue_ack finishes deliveries and deletes their messages.
-- KEYS[1] inflight, KEYS[2] payload, KEYS[3] count, KEYS[4] token,
-- KEYS[5] error
-- ARGV pairs of id, token
-- Returns one integer per pair: 1 acked, 0 stale (the delivery is no longer
-- the current one: reclaimed, redelivered, already finished, or named
-- twice in this call).
local ids = {}
for i = 1, #ARGV, 2 do ids[#ids+1] = ARGV[i] end
local toks = hmget(KEYS[4], ids)
local out, done, seen = {}, {}, {}
for j, id in ipairs(ids) do
  if toks[j] == ARGV[2 * j] and not seen[id] then
    seen[id] = true
    done[#done+1] = id
    out[j] = 1
  else
    out[j] = 0
  end
end
if #done > 0 then
  bulk('ZREM', KEYS[1], done)
  for k = 2, 5 do bulk('HDEL', KEYS[k], done) end
end
return out
