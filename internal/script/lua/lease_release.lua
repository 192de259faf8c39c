--! uses: lease
-- lease_release ends a lease if the token still holds it and, when a wake
-- list is given, leaves a message there for the waiters.
-- KEYS[1] lease, KEYS[2] wake list (optional)
-- ARGV[1] token, ARGV[2] message, ARGV[3] wake list lifetime in ms
-- Returns 1 when released, 0 when the token did not hold the lease.
return lease_release(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
