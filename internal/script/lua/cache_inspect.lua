-- cache_inspect reads what Redis holds for one cache key, changing nothing.
-- KEYS[1] value, KEYS[2] lease, KEYS[3] version marker
-- Returns {type, value, value PTTL ms, lease token, lease PTTL ms, marker}:
-- type is the TYPE of KEYS[1] ('none', 'string' or another type); value its
-- bytes when it is a string, else false; the lease token and the marker are
-- false when absent or not strings; a PTTL is -2 for a missing key and -1
-- for a key without expiry.
local function str(k)
  if redis.call('TYPE', k)['ok'] ~= 'string' then return false end
  return redis.call('GET', k)
end
local t = redis.call('TYPE', KEYS[1])['ok']
return {t, str(KEYS[1]), redis.call('PTTL', KEYS[1]),
  str(KEYS[2]), redis.call('PTTL', KEYS[2]), str(KEYS[3])}
