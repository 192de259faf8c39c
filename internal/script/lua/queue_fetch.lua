--! uses: now maxof
-- queue_fetch applies acks, reclaims expired deliveries, promotes due
-- delayed messages and delivers up to ARGV[1] ready messages, all in one
-- call, so a busy worker pays one round trip per batch for all of it.
-- KEYS[1] ready, KEYS[2] inflight, KEYS[3] delayed, KEYS[4] dead,
-- KEYS[5] payload, KEYS[6] count, KEYS[7] token, KEYS[8] error, KEYS[9] seq,
-- KEYS[10] wake
-- ARGV[1] messages to deliver at most (0: none), ARGV[2] visibility timeout
-- ms, ARGV[3] "1" to reclaim and promote, ARGV[4] expired or due entries to
-- move at most, ARGV[5] error text for a message whose last allowed
-- delivery expired, ARGV[6] number of acks m, then m pairs of id, token
-- Returns {moved, ms until the next delayed message is due or the next
-- deadline passes (-1: none, or not computed because messages were
-- delivered), stale acks, then 5 per delivered message: id, "max:payload",
-- deliveries, token, last error}.
local stale = 0
local nacks = tonumber(ARGV[6])
for i = 7, 6 + 2 * nacks, 2 do
  local id = ARGV[i]
  if redis.call('HGET', KEYS[7], id) == ARGV[i+1] then
    redis.call('ZREM', KEYS[2], id)
    for k = 5, 8 do redis.call('HDEL', KEYS[k], id) end
  else
    stale = stale + 1
  end
end
local moved = 0
if ARGV[3] == '1' then
  local limit = tonumber(ARGV[4])
  local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(expired) do
    redis.call('ZREM', KEYS[2], id)
    redis.call('HDEL', KEYS[7], id)
    local n = tonumber(redis.call('HGET', KEYS[6], id) or '0')
    local max = maxOf(redis.call('HGET', KEYS[5], id))
    if max > 0 and n >= max then
      redis.call('HSET', KEYS[8], id, ARGV[5])
      redis.call('RPUSH', KEYS[4], id)
    else
      redis.call('RPUSH', KEYS[1], id)
    end
    moved = moved + 1
  end
  local due = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(due) do
    redis.call('ZREM', KEYS[3], id)
    redis.call('LPUSH', KEYS[1], id)
    moved = moved + 1
  end
end
local out = {moved, -1, stale}
local want = tonumber(ARGV[1])
if want > 0 then
  local ids = redis.call('RPOP', KEYS[1], want)
  if ids then
    local deadline = now + tonumber(ARGV[2])
    for _, id in ipairs(ids) do
      local p = redis.call('HGET', KEYS[5], id)
      if p then
        local n = redis.call('HINCRBY', KEYS[6], id, 1)
        local tok = redis.call('INCR', KEYS[9])
        redis.call('HSET', KEYS[7], id, tok)
        redis.call('ZADD', KEYS[2], deadline, id)
        out[#out+1] = id
        out[#out+1] = p
        out[#out+1] = n
        out[#out+1] = tok
        out[#out+1] = redis.call('HGET', KEYS[8], id) or ''
      end
    end
  end
end
if (moved > 0 or #out > 3) and redis.call('LLEN', KEYS[1]) > 0 and redis.call('LLEN', KEYS[10]) == 0 then
  redis.call('LPUSH', KEYS[10], '1')
end
if #out == 3 then
  local nd = -1
  local d = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  if d[2] then nd = tonumber(d[2]) - now end
  local f = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if f[2] and (nd < 0 or tonumber(f[2]) - now < nd) then nd = tonumber(f[2]) - now end
  if nd >= 0 then out[2] = nd end
end
return out
