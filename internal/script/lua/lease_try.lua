--! uses: lease
-- lease_try takes a lease that nobody waits for (no wake list).
-- KEYS[1] lease
-- ARGV[1] token, ARGV[2] lease in ms
-- Returns 1 when taken (or already held by the token), else -1 - the ms
-- left on the current holder's lease.
local r = lease_take(KEYS[1], nil, ARGV[1], ARGV[2])
if r == 2 then return 1 end
return r
