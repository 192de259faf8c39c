--! uses: now
-- consistency_claim: claim the entries of one shard that fell due.
-- KEYS[1]: the shard's schedule sorted set (member: base key)
-- KEYS[2]: the shard's intent sorted set (member: "<id>:<base key>")
-- KEYS[3]: the shard's claim sorted set (score: claim deadline)
-- ARGV[1]: claim timeout in milliseconds
-- ARGV[2]: the most entries to claim
-- Returns {deadline, next, member...}: the deadline of these claims (server
-- ms), the milliseconds until the next entry of the shard falls due (-1 if
-- the shard is empty) and the claimed members, "s:<base>" for a scheduled
-- delete and "i:<id>:<base>" for an intent. A claim whose deadline passed
-- (its instance died) is claimed again, so every entry runs at least once.
local deadline = now + tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local out = {deadline, -1}
local function take(key, tag)
  local n = limit - (#out - 2)
  if n <= 0 then return end
  local ms = redis.call('ZRANGEBYSCORE', key, '-inf', now, 'LIMIT', 0, n)
  for _, m in ipairs(ms) do
    if tag ~= '' then redis.call('ZREM', key, m) end
    redis.call('ZADD', KEYS[3], deadline, tag .. m)
    out[#out + 1] = tag .. m
  end
end
take(KEYS[3], '')
take(KEYS[2], 'i:')
take(KEYS[1], 's:')
local next = -1
for k = 1, 3 do
  local first = redis.call('ZRANGE', KEYS[k], 0, 0, 'WITHSCORES')
  if first[2] then
    local d = tonumber(first[2]) - now
    if d < 0 then d = 0 end
    if next < 0 or d < next then next = d end
  end
end
out[2] = next
return out
