--! uses: lease
-- idem_complete stores the response of the run holding the lease.
-- KEYS[1] record, KEYS[2] lease
-- ARGV[1] token, ARGV[2] encoded response, ARGV[3] record TTL in ms
-- Returns 1, or 0 if the lease was lost.
if lease_release(KEYS[2], nil, ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done', 'resp', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
