-- cache_versioned_del deletes a value and its load lease and bumps the
-- version marker in one step, so a fill whose read started before the
-- delete never lands, and the next load does not wait for the old one.
-- KEYS[1] value, KEYS[2] version marker, KEYS[3] lease, KEYS[4] wake list
-- ARGV[1] marker TTL ms
-- Returns the new marker
local m = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4])
return m
