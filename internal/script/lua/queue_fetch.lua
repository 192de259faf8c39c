--! uses: now maxof bulk
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
-- corrupt token counter is restarted from the server clock. Acks and
-- deliveries cost a fixed number of Redis calls per batch (HMGET, HSET,
-- ZADD... of many fields), not per message: Redis' time per message is
-- what bounds a busy queue.
-- Returns {moved, ms until the next delayed message is due or the next
-- deadline passes (0: overdue; -1: none, or not computed because ARGV[1]
-- was 0 or the ready list was not drained), stale acks, messages left in
-- the ready list, then 5 per delivered message: id, "max:payload",
-- deliveries, token, last error}.
local stale = 0
local nacks = tonumber(ARGV[7])
if nacks > 0 then
  local ids = {}
  for i = 1, nacks do ids[i] = ARGV[6 + 2 * i] end
  local toks = hmget(KEYS[7], ids)
  local done, seen = {}, {}
  for i = 1, nacks do
    local id = ids[i]
    if toks[i] == ARGV[7 + 2 * i] and not seen[id] then
      seen[id] = true
      done[#done+1] = id
    else
      stale = stale + 1
    end
  end
  if #done > 0 then
    bulk('ZREM', KEYS[2], done)
    for k = 5, 8 do bulk('HDEL', KEYS[k], done) end
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
  if #due > 0 then
    bulk('ZREM', KEYS[3], due)
    bulk('LPUSH', KEYS[1], due)
    moved = moved + #due
  end
end
local out = {moved, -1, stale, 0}
local want = tonumber(ARGV[1])
if want > 0 then
  -- The front of the queue is the list's tail: RPOP gives the next
  -- messages in order. Take them while the byte budget lasts.
  local ids = redis.call('RPOP', KEYS[1], want) or {}
  local ps = hmget(KEYS[5], ids)
  local budget = tonumber(ARGV[6])
  local taken, bytes, live = 0, 0, {}
  for i = 1, #ids do
    local p = ps[i]
    if p then -- else acked or purged meanwhile: drop the stray id
      if #live > 0 and budget > 0 and bytes + #p > budget then break end
      bytes = bytes + #p
      live[#live+1] = i
    end
    taken = i
  end
  if taken < #ids then
    -- past the budget: back to the front, the first of them last pushed
    local back = {}
    for i = #ids, taken + 1, -1 do back[#back+1] = ids[i] end
    bulk('RPUSH', KEYS[1], back)
  end
  local good = {}
  if #live > 0 then
    local lids = {}
    for j, i in ipairs(live) do lids[j] = ids[i] end
    local cs = hmget(KEYS[6], lids)
    for j, i in ipairs(live) do
      local n = countOf(cs[j])
      if not n or not maxOf(ps[i]) then
        redis.call('HSET', KEYS[8], ids[i], corruptText)
        redis.call('RPUSH', KEYS[4], ids[i])
      else
        good[#good+1] = {i, n + 1, cs[j]} -- a count field: delivered before, may have an error
      end
    end
  end
  if #good > 0 then
    local last = redis.pcall('INCRBY', KEYS[9], #good)
    if type(last) == 'table' then
      -- A corrupt token counter. Tokens must only be unique among
      -- deliveries in flight, which came from the old counter:
      -- microseconds of the server clock are far above it.
      redis.call('SET', KEYS[9], string.format('%.0f', now * 1000))
      last = redis.call('INCRBY', KEYS[9], #good)
    end
    local first = last - #good
    local gids, counts, tokens, deadlines = {}, {}, {}, {}
    local deadline = now + tonumber(ARGV[2])
    for j, g in ipairs(good) do
      local id = ids[g[1]]
      gids[j] = id
      tokens[#tokens+1] = id
      -- a string: Lua would print a large number with an exponent
      tokens[#tokens+1] = string.format('%.0f', first + j)
      counts[#counts+1] = id
      counts[#counts+1] = g[2]
      deadlines[#deadlines+1] = deadline
      deadlines[#deadlines+1] = id
    end
    bulk('HSET', KEYS[6], counts)
    bulk('HSET', KEYS[7], tokens)
    bulk('ZADD', KEYS[2], deadlines)
    -- Only a message delivered before has a last error: a fresh one has
    -- no count field, and skips the lookup.
    local seen, at = {}, {}
    for j, g in ipairs(good) do
      if g[3] then
        seen[#seen+1] = gids[j]
        at[j] = #seen
      end
    end
    local errs = {}
    if #seen > 0 then errs = hmget(KEYS[8], seen) end
    for j, g in ipairs(good) do
      out[#out+1] = gids[j]
      out[#out+1] = ps[g[1]]
      out[#out+1] = g[2]
      out[#out+1] = tokens[2 * j]
      out[#out+1] = (at[j] and errs[at[j]]) or ''
    end
  end
end
local left = redis.call('LLEN', KEYS[1])
out[4] = left
if (moved > 0 or #out > 4) and left > 0 and redis.call('LLEN', KEYS[10]) == 0 then
  redis.call('LPUSH', KEYS[10], '1')
end
if want > 0 and left == 0 then
  -- Drained: the worker waits next, until the first delayed message or
  -- in-flight deadline is due (0 when one is overdue: reap at once).
  local nd = -1
  local d = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  if d[2] then nd = math.max(0, tonumber(d[2]) - now) end
  local f = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if f[2] then
    local fd = math.max(0, tonumber(f[2]) - now)
    if nd < 0 or fd < nd then nd = fd end
  end
  out[2] = nd
end
return out
