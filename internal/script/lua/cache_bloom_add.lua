-- cache_bloom_add puts one key into the shared bloom filter and into the
-- one being built.
-- KEYS[1] filter bits, KEYS[2] filter under construction
-- ARGV bit positions of one key
-- Returns 1; sets the bits in each filter that exists (never creates one)
for k = 1, 2 do
  if redis.call('EXISTS', KEYS[k]) == 1 then
    for i = 1, #ARGV do redis.call('SETBIT', KEYS[k], ARGV[i], 1) end
  end
end
return 1
