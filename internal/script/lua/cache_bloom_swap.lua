-- cache_bloom_swap ends a shared bloom filter rebuild.
-- KEYS[1] filter under construction, KEYS[2] uploaded bits, KEYS[3] filter
-- bits, KEYS[4] filter parameters (a hash, read by cache_bloom_inspect)
-- ARGV[1] bits of the filter (m), ARGV[2] hash functions (k)
-- Returns 1 after OR-ing the upload into the new filter, renaming it over
-- the live one and recording its parameters beside it
redis.call('BITOP', 'OR', KEYS[1], KEYS[1], KEYS[2])
redis.call('DEL', KEYS[2])
redis.call('RENAME', KEYS[1], KEYS[3])
redis.call('PERSIST', KEYS[3])
redis.call('DEL', KEYS[4])
redis.call('HSET', KEYS[4], 'bits', ARGV[1], 'hashes', ARGV[2])
return 1
