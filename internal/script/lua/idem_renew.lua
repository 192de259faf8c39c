--! uses: lease
-- idem_renew extends the lease of the run holding it, and its record.
-- KEYS[1] record, KEYS[2] lease
-- ARGV[1] token, ARGV[2] lease in ms
-- Returns 1, or 0 if the lease was lost.
if lease_renew(KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
