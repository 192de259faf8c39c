-- lease_pttl reads the lease left if the token still holds it.
-- KEYS[1] lease
-- ARGV[1] token
-- Returns the ms left, or -3 when the token does not hold it.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PTTL', KEYS[1])
end
return -3
