--! uses: now
-- queue_enqueue adds messages.
-- KEYS[1] ready, KEYS[2] delayed, KEYS[3] payload, KEYS[4] dedupe,
-- KEYS[5] dedupeid, KEYS[6] wake
-- ARGV[1] dedupe window ms; then 5 per message: id, "1" if the caller chose
-- the id, "max:payload", delay ms, dedupe id ("" for none)
-- Returns {id1, status1, id2, status2, ...}: status 0 enqueued, 1 duplicate
-- (id is then the existing message's id).
local window = tonumber(ARGV[1])
local out = {}
local cleaned = false
local woke = false
for i = 2, #ARGV, 5 do
  local id, given, dd = ARGV[i], ARGV[i+1], ARGV[i+4]
  local status = 0
  if dd ~= '' then
    if not cleaned then
      cleaned = true
      local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, 100)
      for _, o in ipairs(old) do
        redis.call('ZREM', KEYS[4], o)
        redis.call('HDEL', KEYS[5], o)
      end
    end
    local exp = redis.call('ZSCORE', KEYS[4], dd)
    if exp and tonumber(exp) > now then
      local other = redis.call('HGET', KEYS[5], dd)
      if other then
        id = other
        status = 1
      end
    end
  end
  if status == 0 then
    if redis.call('HSETNX', KEYS[3], id, ARGV[i+2]) == 0 then
      -- A caller-chosen id already queued is a duplicate. A generated id
      -- already present is this very call retried by the client after a
      -- lost reply: it is enqueued, report success.
      if given == '1' then status = 1 end
    else
      local delay = tonumber(ARGV[i+3])
      if delay > 0 then
        redis.call('ZADD', KEYS[2], now + delay, id)
      else
        redis.call('LPUSH', KEYS[1], id)
      end
      if dd ~= '' then
        redis.call('ZADD', KEYS[4], now + window, dd)
        redis.call('HSET', KEYS[5], dd, id)
      end
      woke = true
    end
  end
  out[#out+1] = id
  out[#out+1] = status
end
if woke and redis.call('LLEN', KEYS[6]) == 0 then
  redis.call('LPUSH', KEYS[6], '1')
end
return out
