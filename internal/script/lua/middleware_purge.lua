-- middleware_purge deletes every stored variant of one URL and bumps its
-- generation, so a fill that began before cannot store after.
-- KEYS[1] the URL's hash
-- ARGV[1] how long the generation marker lives, in ms
-- Returns the new generation.
local g = tonumber(redis.call('HGET', KEYS[1], 'gen') or '0') + 1
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'gen', g)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return g
