--! uses: now
-- sem_pttl reads the lease left on a permit.
-- KEYS[1] holders
-- ARGV[1] token
-- Returns the ms left on the token's lease, or -3 when it has no live permit.
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) > now then return tonumber(s) - now end
return -3
