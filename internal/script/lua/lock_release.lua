--! uses: lease
-- lock_release deletes the lock if the token still holds it and leaves one
-- wake-up for a waiter.
-- KEYS[1] lock, KEYS[2] wake list
-- ARGV[1] token, ARGV[2] wake list lifetime in ms
-- Returns 1 when released, 0 when the token did not hold the lock.
return lease_release(KEYS[1], KEYS[2], ARGV[1], '1', ARGV[2])
