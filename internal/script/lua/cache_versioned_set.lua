-- cache_versioned_set writes a value and bumps the version marker, so an
-- in-flight fill that read the old marker cannot overwrite it.
-- KEYS[1] value, KEYS[2] version marker
-- ARGV[1] entry bytes, ARGV[2] value TTL ms, ARGV[3] marker TTL ms
-- Returns the new marker
local m = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return m
