--! uses: lease
-- idem_abandon deletes the record if the run holding the lease still owns
-- it, so a retry runs again.
-- KEYS[1] record, KEYS[2] lease
-- ARGV[1] token
-- Returns 1 when deleted, 0 when the lease was not held.
if lease_release(KEYS[2], nil, ARGV[1]) == 0 then return 0 end
redis.call('DEL', KEYS[1])
return 1
