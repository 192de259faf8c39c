-- cache_bloom_inspect reads the size and fill of a shared bloom filter,
-- changing nothing.
-- KEYS[1] filter bits, KEYS[2] filter parameters: a hash with fields "bits"
-- (m) and "hashes" (k), written with the filter by cache_bloom_swap
-- Returns {0} when the filter does not exist, else
-- {1, STRLEN, BITCOUNT, bits, hashes}; bits and hashes are false for a
-- filter written before its parameters were stored.
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local p = redis.call('HMGET', KEYS[2], 'bits', 'hashes')
return {1, redis.call('STRLEN', KEYS[1]), redis.call('BITCOUNT', KEYS[1]), p[1], p[2]}
