-- fence_set writes a resource only if its fence is not older than the one
-- stored with it.
-- KEYS[1] resource: a hash with fields "value" and "fence"
-- ARGV[1] value, ARGV[2] fence (decimal, no sign)
-- Returns 1 when written, 0 when the stored fence is newer.
local cur = redis.call('HGET', KEYS[1], 'fence')
if cur then
  local f = ARGV[2]
  if #cur > #f or (#cur == #f and cur > f) then return 0 end
end
redis.call('HSET', KEYS[1], 'value', ARGV[1], 'fence', ARGV[2])
return 1
