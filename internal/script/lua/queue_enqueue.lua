--! uses: now bulk
-- queue_enqueue adds messages.
-- KEYS[1] ready, KEYS[2] delayed, KEYS[3] payload, KEYS[4] dedupe,
-- KEYS[5] dedupeid, KEYS[6] wake
-- ARGV[1] dedupe window ms; then 5 per message: id, "1" if the caller chose
-- the id, "max:payload", delay ms, dedupe id ("" for none)
-- Returns {id1, status1, id2, status2, ...}: status 0 enqueued, 1 duplicate
-- (id is then the existing message's id). Messages of one call are judged
-- in order: a later one duplicating an earlier one of the same call is a
-- duplicate too. The writes go out as one HSET/LPUSH/ZADD of many values.
local window = tonumber(ARGV[1])
local ids = {}
for i = 2, #ARGV, 5 do ids[#ids+1] = ARGV[i] end
local exists = hmget(KEYS[3], ids)
local out = {}
local cleaned = false
local stored, mine = {}, {}          -- payload field/value pairs; ids stored by this call
local ready, delayed = {}, {}
local ddz, ddh, ddmine = {}, {}, {}  -- dedupe zset and hash pairs; dedupe id -> id in this call
for j = 1, #ids do
  local i = 2 + 5 * (j - 1)
  local id, given, dd = ids[j], ARGV[i+1], ARGV[i+4]
  local status = 0
  if dd ~= '' then
    if not cleaned then
      cleaned = true
      local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, 100)
      if #old > 0 then
        bulk('ZREM', KEYS[4], old)
        bulk('HDEL', KEYS[5], old)
      end
    end
    if ddmine[dd] then
      id = ddmine[dd]
      status = 1
    else
      local exp = redis.call('ZSCORE', KEYS[4], dd)
      if exp and tonumber(exp) > now then
        local other = redis.call('HGET', KEYS[5], dd)
        if other then
          id = other
          status = 1
        end
      end
    end
  end
  if status == 0 then
    if exists[j] or mine[id] then
      -- A caller-chosen id already queued is a duplicate. A generated id
      -- already present is this very call retried by the client after a
      -- lost reply: it is enqueued, report success.
      if given == '1' then status = 1 end
    else
      mine[id] = true
      stored[#stored+1] = id
      stored[#stored+1] = ARGV[i+2]
      local delay = tonumber(ARGV[i+3])
      if delay > 0 then
        delayed[#delayed+1] = now + delay
        delayed[#delayed+1] = id
      else
        ready[#ready+1] = id
      end
      if dd ~= '' then
        ddz[#ddz+1] = now + window
        ddz[#ddz+1] = dd
        ddh[#ddh+1] = dd
        ddh[#ddh+1] = id
        ddmine[dd] = id
      end
    end
  end
  out[#out+1] = id
  out[#out+1] = status
end
bulk('HSET', KEYS[3], stored)
bulk('LPUSH', KEYS[1], ready)
bulk('ZADD', KEYS[2], delayed)
bulk('ZADD', KEYS[4], ddz)
bulk('HSET', KEYS[5], ddh)
if #stored > 0 and redis.call('LLEN', KEYS[6]) == 0 then
  redis.call('LPUSH', KEYS[6], '1')
end
return out
