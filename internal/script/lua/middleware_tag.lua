-- middleware_tag adds a URL's hash key to a tag set and makes the set live
-- at least as long as the response.
-- KEYS[1] tag set
-- ARGV[1] the URL's hash key, ARGV[2] ms
-- Returns 1.
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
