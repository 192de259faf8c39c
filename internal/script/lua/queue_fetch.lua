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
-- delivery expired, ARGV[6] payload bytes to deliver at most (0: no bound;
-- the first message is delivered whatever its size), ARGV[7] number of
-- acks m, then m pairs of id, token
-- Every record is read before anything changes for it: a message whose
-- bookkeeping cannot be read goes to the dead letters with the reason, a
-- corrupt token counter is restarted from the server clock.
-- Returns {moved, ms until the next delayed message is due or the next
-- deadline passes (-1: none, or not computed because messages were
-- delivered), stale acks, then 5 per delivered message: id, "max:payload",
-- deliveries, token, last error}.
local seq = redis.call('GET', KEYS[9])
if seq and not tonumber(seq) then
  -- tokens must only be unique among deliveries in flight, which came from
  -- the old counter: microseconds of the server clock are far above it
  redis.call('SET', KEYS[9], string.format('%.0f', now * 1000))
end
local stale = 0
local nacks = tonumber(ARGV[7])
for i = 8, 7 + 2 * nacks, 2 do
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
    local p = redis.call('HGET', KEYS[5], id)
    if p then -- else acked or purged meanwhile: nothing to keep
      local n = countOf(redis.call('HGET', KEYS[6], id))
      local max = maxOf(p)
      if not n or not max then
        redis.call('HSET', KEYS[8], id, corruptText)
        redis.call('RPUSH', KEYS[4], id)
      elseif max > 0 and n >= max then
        redis.call('HSET', KEYS[8], id, ARGV[5])
        redis.call('RPUSH', KEYS[4], id)
      else
        redis.call('RPUSH', KEYS[1], id)
      end
      moved = moved + 1
    end
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
local budget = tonumber(ARGV[6])
local delivered, bytes = 0, 0
local deadline = now + tonumber(ARGV[2])
while delivered < want do
  local id = redis.call('RPOP', KEYS[1])
  if not id then break end
  local p = redis.call('HGET', KEYS[5], id)
  if p then -- else acked or purged meanwhile
    if delivered > 0 and budget > 0 and bytes + #p > budget then
      redis.call('RPUSH', KEYS[1], id) -- back to the front, for the next fetch
      break
    end
    local n = countOf(redis.call('HGET', KEYS[6], id))
    if not n or not maxOf(p) then
      redis.call('HSET', KEYS[8], id, corruptText)
      redis.call('RPUSH', KEYS[4], id)
    else
      n = n + 1
      redis.call('HSET', KEYS[6], id, n)
      local tok = redis.call('INCR', KEYS[9])
      redis.call('HSET', KEYS[7], id, tok)
      redis.call('ZADD', KEYS[2], deadline, id)
      out[#out+1] = id
      out[#out+1] = p
      out[#out+1] = n
      out[#out+1] = tok
      out[#out+1] = redis.call('HGET', KEYS[8], id) or ''
      delivered = delivered + 1
      bytes = bytes + #p
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
