-- cache_bloom_swap ends a shared bloom filter rebuild.
-- KEYS[1] filter under construction, KEYS[2] uploaded bits, KEYS[3] filter bits
-- Returns 1 after OR-ing the upload into the new filter and renaming it
-- over the live one
redis.call('BITOP', 'OR', KEYS[1], KEYS[1], KEYS[2])
redis.call('DEL', KEYS[2])
redis.call('RENAME', KEYS[1], KEYS[3])
redis.call('PERSIST', KEYS[3])
return 1
