--! uses: lease
-- cache_release gives the lease up without a value (the loader failed, or
-- negative caching is off) and wakes the waiters, who then read again or
-- try to load themselves. They are woken even when the token no longer
-- holds the lease.
-- KEYS[1] lease, KEYS[2] wake list
-- ARGV[1] lease token, ARGV[2] wake list TTL ms
-- Returns 1
lease_release(KEYS[1], nil, ARGV[1])
lease_wake(KEYS[2], '1', ARGV[2])
return 1
