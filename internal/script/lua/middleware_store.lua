-- middleware_store stores one variant of a response unless a purge
-- happened since its fill began. A different Vary list replaces every
-- stored variant (their IDs mean nothing under the new one).
-- KEYS[1] the URL's hash: "vary", "gen" and one "v:ID" field per variant
-- ARGV[1] the "gen" seen when the fill began ('' for none), ARGV[2] Vary
-- names, ARGV[3] variant field, ARGV[4] the encoded response, ARGV[5]
-- retention in ms
-- Returns 1 when stored, 0 when a purge intervened.
local g = redis.call('HGET', KEYS[1], 'gen') or ''
if g ~= ARGV[1] then return 0 end
local cur = redis.call('HGET', KEYS[1], 'vary')
if cur and cur ~= ARGV[2] then
  redis.call('DEL', KEYS[1])
  if g ~= '' then redis.call('HSET', KEYS[1], 'gen', g) end
end
redis.call('HSET', KEYS[1], 'vary', ARGV[2], ARGV[3], ARGV[4])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[5]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return 1
