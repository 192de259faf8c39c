-- cache_bloom_test asks the shared bloom filter about one key.
-- KEYS[1] filter bits
-- ARGV bit positions of one key
-- Returns 1 if every bit is set or the filter does not exist yet, else 0
if redis.call('EXISTS', KEYS[1]) == 0 then return 1 end
for i = 1, #ARGV do
  if redis.call('GETBIT', KEYS[1], ARGV[i]) == 0 then return 0 end
end
return 1
