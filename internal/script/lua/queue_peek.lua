-- queue_peek reads messages of one state without moving them.
-- KEYS[1] the state's key: ready (list, oldest at the tail), dead (list,
--         oldest at the head), inflight or delayed (sorted sets by deadline
--         or due time, soonest first)
-- KEYS[2] payload, KEYS[3] count, KEYS[4] error
-- ARGV[1] state: "ready", "dead", "inflight" or "delayed"; ARGV[2] how many
-- Returns 5 per message, oldest (or soonest) first: id, "max:payload",
-- deliveries, last error, score (deadline or due time in ms; "" for lists).
local n = tonumber(ARGV[2])
local ids, scores = {}, {}
if ARGV[1] == 'ready' then
  local r = redis.call('LRANGE', KEYS[1], -n, -1)
  for i = #r, 1, -1 do ids[#ids+1] = r[i] end
elseif ARGV[1] == 'dead' then
  ids = redis.call('LRANGE', KEYS[1], 0, n - 1)
else
  local r = redis.call('ZRANGE', KEYS[1], 0, n - 1, 'WITHSCORES')
  for i = 1, #r, 2 do ids[#ids+1] = r[i]; scores[#ids] = r[i+1] end
end
local out = {}
for i, id in ipairs(ids) do
  out[#out+1] = id
  out[#out+1] = redis.call('HGET', KEYS[2], id) or ''
  out[#out+1] = redis.call('HGET', KEYS[3], id) or '0'
  out[#out+1] = redis.call('HGET', KEYS[4], id) or ''
  out[#out+1] = scores[i] or ''
end
return out
