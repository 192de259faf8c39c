--! uses: lease
-- lease_pass_on hands a wake-up that its waiter could not use back to
-- Redis, but only while the lease is free (otherwise the holder's release
-- wakes the next waiter).
-- KEYS[1] lease, KEYS[2] wake list
-- ARGV[1] message, ARGV[2] wake list lifetime in ms
-- Returns 1 when a wake-up was left, 0 when the lease is held.
return lease_pass_on(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
