-- lib counter: counter_next(key, ttl) draws the next value of a counter
-- that only grows, even across its own expiry or loss: a missing counter
-- starts again from the server clock in microseconds, above every value it
-- handed out before. It expires ttl ms after its last draw (never if ttl is
-- 0). Needs lib now.
local function counter_next(key, ttl)
  local f
  if redis.call('EXISTS', key) == 1 then
    f = redis.call('INCR', key)
  else
    f = now * 1000
    redis.call('SET', key, string.format('%.0f', f))
  end
  if tonumber(ttl) > 0 then redis.call('PEXPIRE', key, ttl) end
  return f
end
